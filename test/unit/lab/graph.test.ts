/**
 * The picture of a lab: the SVG that @viz-js/viz renders is well-formed XML
 * holding every node name, interface and address; DOT quoting survives
 * odd characters; Mermaid text names every node.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { labToDot, labToMermaid, renderSvg } from '../../../src/runtime/lab/graph.js';
import type { LabModel } from '../../../src/runtime/lab/model.js';
import { parseLab } from '../../../src/runtime/lab/parse.js';
import { Random, seedFrom } from '../../helpers/random.js';
import { randomLab } from '../../helpers/random-lab.js';

const ROOT = join(import.meta.dirname, '../../..');
const labOf = (file: string) => parseLab(readFileSync(join(ROOT, file), 'utf8')).model;

/** The text content of an SVG, with entities decoded, after checking that its tags nest (a small XML well-formedness check). */
function svgText(svg: string): string {
  const body = svg
    .replace(/<\?xml[^>]*\?>/, '')
    .replace(/<!DOCTYPE[^>]*>/, '')
    .replace(/<!--[\s\S]*?-->/g, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)([^>]*?)(\/?)>/g)) {
    const [, close, name, , selfClose] = m;
    if (selfClose) continue;
    if (close) expect(stack.pop(), `</${name}> closes the wrong element`).toBe(name);
    else stack.push(name as string);
  }
  expect(stack).toEqual([]);
  expect(body).not.toMatch(/&(?!amp;|lt;|gt;|quot;|apos;|#\d+;|#x[0-9a-f]+;)/i);
  const texts = [...body.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1] as string);
  return texts
    .join('\n')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#45;', '-')
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replaceAll('&amp;', '&');
}

function expectEverything(model: LabModel, text: string): void {
  for (const node of Object.values(model.nodes)) {
    expect(text).toContain(node.name);
    for (const iface of Object.values(node.interfaces)) {
      expect(text).toContain(iface.name);
      for (const a of iface.addresses) expect(text).toContain(a);
    }
  }
}

describe('lab picture', () => {
  test.each(['ports', 'labels'] as const)(
    'the demo lab, %s style: an SVG with every node, interface and address, the shaping on its edge',
    async (style) => {
      const model = labOf('examples/labs/demo.yaml');
      const svg = await renderSvg(model, { style });
      expect(svg.startsWith('<?xml')).toBe(true);
      expect(svg).toContain('<svg');
      const text = svgText(svg);
      expectEverything(model, text);
      expect(text).toContain('10mbit');
      expect(text).toContain('p1 (port 1)');
      expect(text).toContain('lab demo');
      // One node per lab node and one edge per link, as Graphviz draws them.
      expect(svg.match(/class="node"/g)).toHaveLength(Object.keys(model.nodes).length);
      expect(svg.match(/class="edge"/g)).toHaveLength(Object.keys(model.links).length);
    },
  );

  test('the DOT text, ports style: a table per node, a row per interface with its addresses, edges from row to row', () => {
    const dot = labToDot(labOf('examples/labs/demo.yaml'), { status: { s1: 'running' } });
    const h1 = dot.split('\n').find((l) => l.startsWith('  "h1" ['));
    expect(h1).toBe(
      '  "h1" [label=<<table border="1" style="rounded" cellborder="0" cellspacing="0" cellpadding="5" bgcolor="#dbeafe">' +
        '<tr><td><b>h1</b></td></tr><tr><td><font point-size="9">host</font></td></tr>' +
        '<tr><td port="i0" sides="t" border="1"><font point-size="9">eth0<br/>10.0.0.1/24<br/>2001:db8::1/64</font></td></tr>' +
        '</table>>, tooltip="demo.h1"];',
    );
    expect(dot).toContain(
      '<td><font point-size="9">bmv2 #1<br/>grpc 9559 thrift 9090</font></td></tr><tr><td><font point-size="9">running</font>',
    );
    expect(dot).toContain('<td port="i1" sides="t" border="1"><font point-size="9">p2 (port 2)</font></td>');
    expect(dot).toMatch(/"br1" \[label=<<table border="1" cellborder/);
    expect(dot).toMatch(/"s1" \[label=<<table border="3" cellborder/);
    expect(dot).toContain('"h1":i0 -- "br1":i0 [tooltip="br1:p1--h1:eth0"];');
    expect(dot).toContain('"s1":i1 -- "h2":i0 [label="10mbit", tooltip="h2:eth0--s1:p2"];');
  });

  test('names that HTML would misread are escaped in the ports style', async () => {
    const model = parseLab(
      'name: x\ntopology:\n  nodes: { a: {}, b: {} }\n  links:\n    - endpoints: ["a:<&>\\"", "b:e0"]\n',
    ).model;
    expect(labToDot(model)).toContain('&lt;&amp;&gt;&quot;');
    expect(svgText(await renderSvg(model))).toContain('<&>"');
  });

  test('the DOT text, labels style: kinds shaped apart, each end labelled with its interface and addresses, a status line when given', () => {
    const dot = labToDot(labOf('examples/labs/demo.yaml'), { status: { s1: 'running' }, style: 'labels' });
    expect(dot).toMatch(/"h1" \[shape=box, [^\n]*label="h1\\nhost"/);
    expect(dot).toMatch(/"br1" \[shape=ellipse/);
    expect(dot).toMatch(/"s1" \[shape=box3d[^\n]*label="s1\\nbmv2 #1\\ngrpc 9559 thrift 9090\\nrunning"/);
    expect(dot).toContain('"h1" -- "br1" [taillabel="eth0\\n10.0.0.1/24\\n2001:db8::1/64", headlabel="p1"');
    expect(dot).toContain(
      '"s1" -- "h2" [taillabel="p2 (port 2)", headlabel="eth0\\n10.0.0.2/24\\n2001:db8::2/64", label="10mbit"',
    );
  });

  test('shaping that differs by direction is labelled per direction', () => {
    const model = parseLab(`name: x
topology:
  nodes: { a: {}, b: {} }
  links:
    - endpoints:
        - { node: a, interface: e0, impair: { rate: 1mbit, delay: 5ms, jitter: 1ms, loss: 1% } }
        - { node: b, interface: e0 }
      mtu: 1400
`).model;
    expect(labToDot(model)).toContain('label="mtu 1400\\na→: 1mbit delay 5ms ±1ms loss 1%"');
    expect(labToDot(model, { style: 'labels' })).toContain('label="mtu 1400\\na→: 1mbit delay 5ms ±1ms loss 1%"');
  });

  test.each(['ports', 'labels'] as const)('quotes and backslashes in a status do not break the DOT (%s style)', async (style) => {
    const model = labOf('examples/labs/demo.yaml');
    const svg = await renderSvg(model, { status: { h1: 'say "hi" \\ bye', s1: 'exited <1>' }, style });
    const text = svgText(svg);
    expect(text).toContain('say "hi" \\ bye');
    expect(text).toContain('exited <1>');
  });

  test('Mermaid: every node once, every link with its ends', () => {
    const model = labOf('examples/labs/demo.yaml');
    const mermaid = labToMermaid(model);
    expect(mermaid.split('\n')[0]).toBe('graph LR');
    expect(mermaid).toContain('n0["h1 (host)"]');
    expect(mermaid).toContain('n2(["br1 (bridge)"])');
    expect(mermaid).toContain('n3[["s1 (bmv2 #1, grpc 9559 thrift 9090)"]]');
    expect(mermaid).toContain('n3 ---|"p2 (port 2) — eth0 10.0.0.2/24 2001:db8::2/64 (10mbit)"| n1');
    expect(mermaid.match(/---\|/g)).toHaveLength(Object.keys(model.links).length);
  });

  test('random labs up to 50 nodes render with every name and address', async () => {
    const seed = seedFrom('LAB_GRAPH_SEED', 'lab pictures');
    const r = new Random(seed);
    for (const size of [2, r.int(3, 49), 50]) {
      const lab = randomLab(r, size, 'g');
      const model = parseLab(lab.text).model;
      expectEverything(model, svgText(await renderSvg(model)));
    }
  });
});
