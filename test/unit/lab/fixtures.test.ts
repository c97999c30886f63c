/**
 * Lab files from test/fixtures/labs: every valid one reads without a problem
 * and round-trips; every invalid one gives exactly the problems written at
 * its end (`# expect LINE:COL message-prefix`, `# warn ...` for warnings),
 * no more, no fewer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { checkLab, parseLab } from '../../../src/runtime/lab/parse.js';
import { labToYaml } from '../../../src/runtime/lab/serialize.js';

const DIR = join(import.meta.dirname, '../../fixtures/labs');
const files = (kind: string) =>
  readdirSync(join(DIR, kind))
    .filter((f) => f.endsWith('.yaml'))
    .sort();
const read = (kind: string, file: string) => readFileSync(join(DIR, kind, file), 'utf8');

describe('valid lab files', () => {
  test('there are some', () => expect(files('valid').length).toBeGreaterThanOrEqual(5));

  test.each(files('valid'))('%s: no problem, and model -> YAML -> model is exact', (file) => {
    const { model, problems } = checkLab(read('valid', file), { file });
    expect(problems).toEqual([]);
    const again = checkLab(labToYaml(model!));
    expect(again.problems).toEqual([]);
    expect(again.model).toEqual(model);
  });

  // What the files mean, checked on the model: a fact per row.
  const facts: [string, (m: ReturnType<typeof parseLab>['model']) => unknown, unknown][] = [
    ['two-hosts.yaml', (m) => Object.keys(m.nodes), ['a', 'b']],
    ['two-hosts.yaml', (m) => m.nodes.a?.interfaces.eth0?.addresses, ['10.0.0.1/30', '2001:db8::a/64']],
    ['two-hosts.yaml', (m) => m.nodes.b?.interfaces.eth0?.mtu, 9000],
    ['two-hosts.yaml', (m) => m.nodes.b?.namespace, 'pair.b'],
    ['two-hosts.yaml', (m) => Object.keys(m.links), ['a:eth0--b:eth0']],
    ['bridge.yaml', (m) => m.nodes.br0?.bridge, { device: 'br0' }],
    ['bridge.yaml', (m) => Object.keys(m.nodes.br0?.interfaces ?? {}), ['p1', 'p2', 'p3']],
    // kinds.host over defaults, the node's own over kinds.host; sysctls merged key by key.
    ['bridge.yaml', (m) => m.nodes.h1?.limits, { memoryBytes: 128 * 1024 ** 2 }],
    ['bridge.yaml', (m) => m.nodes.r1?.limits, { memoryBytes: 256 * 1024 ** 2 }],
    ['bridge.yaml', (m) => m.nodes.br0?.limits, {}],
    [
      'bridge.yaml',
      (m) => m.nodes.r1?.sysctls,
      { 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' },
    ],
    ['bridge.yaml', (m) => m.nodes.h2?.routes, [{ dst: '0.0.0.0/0', family: 4, via: '10.1.0.254', metric: 100 }]],
    ['bridge.yaml', (m) => m.nodes.h3?.routes[1], { dst: '::/0', family: 6, via: 'fe80::1', dev: 'eth0' }],
    ['bridge.yaml', (m) => m.nodes.h3?.interfaces.eth0?.impair, { rateBitPerSec: 100e6 }],
    ['bridge.yaml', (m) => m.nodes.r1?.interfaces.eth1?.impair, { rateBitPerSec: 100e6 }],
    ['bmv2.yaml', (m) => m.nodes.s1?.switch?.ports, { 1: 'p1', 2: 'p2' }],
    ['bmv2.yaml', (m) => m.nodes.s2?.switch?.ports, { 2: 'eth2', 7: 'port7' }],
    // Explicit numbers first; the rest the lowest free from their base, in file order.
    ['bmv2.yaml', (m) => [m.nodes.s1?.switch?.deviceId, m.nodes.s2?.switch?.deviceId], [7, 0]],
    ['bmv2.yaml', (m) => [m.nodes.s1?.switch?.grpcPort, m.nodes.s2?.switch?.grpcPort], [9559, 50051]],
    ['bmv2.yaml', (m) => [m.nodes.s1?.switch?.thriftPort, m.nodes.s2?.switch?.thriftPort], [9090, 9091]],
    // no-p4 on a node overrides the program its kind gives.
    [
      'bmv2.yaml',
      (m) => [m.nodes.s1?.switch?.program, m.nodes.s2?.switch?.program, m.nodes.s2?.switch?.noP4],
      ['build/basic.json', undefined, true],
    ],
    [
      'bmv2.yaml',
      (m) => [m.nodes.s1?.switch?.cpuPort, m.nodes.s1?.switch?.logLevel, m.nodes.s1?.switch?.log],
      [255, 'info', 'console'],
    ],
    [
      'bmv2.yaml',
      (m) => m.nodes.s1?.interfaces.p2?.impair,
      { rateBitPerSec: 1e9, delayUs: 1000, jitterUs: 100, lossPercent: 0.5 },
    ],
    ['bmv2.yaml', (m) => m.nodes.h2?.interfaces.eth0?.addresses, ['10.0.0.2/24', '10.0.0.3/24', '2001:db8::2/64']],
    ['bmv2.yaml', (m) => m.nodes.h2?.interfaces.eth0?.mac, '02:00:00:00:00:02'],
    [
      'bmv2.yaml',
      (m) => [m.nodes.h2?.interfaces.eth0?.impair, m.nodes.s2?.interfaces.port7?.impair],
      [{ rateBitPerSec: 5e6 }, undefined],
    ],
    ['bmv2.yaml', (m) => m.nodes.h2?.limits, { cpu: 0.25, memoryBytes: 1024 ** 3 }],
    ['anchors.yaml', (m) => [m.nodes.h1?.limits, m.nodes.h2?.limits], [{ cpu: 1, memoryBytes: 64 * 1024 ** 2 }, { cpu: 1 }]],
    ['anchors.yaml', (m) => m.nodes.h1?.interfaces['veth-a']?.addresses, ['2001:db8:1::1/64', '2001:db8:2::1/64']],
    ['fifty.yaml', (m) => Object.keys(m.nodes).length, 50],
    ['fifty.yaml', (m) => Object.keys(m.links).length, 56],
    ['fifty.yaml', (m) => Object.values(m.nodes).filter((n) => n.kind === 'bmv2').length, 2],
    [
      'fifty.yaml',
      (m) => m.nodes.spine1?.switch?.ports,
      { 1: 'p1', 2: 'p2', 3: 'p3', 4: 'p4', 5: 'p5', 6: 'p6', 7: 'p7', 8: 'p8' },
    ],
    ['fifty.yaml', (m) => new Set(Object.values(m.nodes).map((n) => n.namespace)).size, 50],
  ];
  test.each(facts.map(([file, fact, expected], i) => [file, i, fact, expected] as const))(
    '%s, fact %i',
    (file, _i, fact, expected) => {
      expect(fact(parseLab(read('valid', file), { file }).model)).toEqual(expected);
    },
  );

  test.each(readdirSync(join(DIR, '../../../examples/labs')).filter((f) => f.endsWith('.yaml')))(
    'examples/labs/%s: no problem, no warning',
    (file) => {
      const text = readFileSync(join(DIR, '../../../examples/labs', file), 'utf8');
      expect(checkLab(text, { file }).problems).toEqual([]);
    },
  );

  test('relative paths are taken from baseDir (the file directory); absolute ones and console stay', () => {
    const { model } = parseLab(read('valid', 'bmv2.yaml'), { baseDir: '/labs/p4' });
    expect(model.nodes.s1?.switch).toMatchObject({
      program: '/labs/p4/build/basic.json',
      pcap: '/labs/p4/pcaps',
      log: 'console',
    });
  });
});

interface Expected {
  severity: 'error' | 'warning';
  line: number;
  col: number;
  message: string;
}

function expectations(text: string): Expected[] {
  return [...text.matchAll(/^# (expect|warn) (\d+):(\d+) (.*)$/gm)].map((m) => ({
    severity: m[1] === 'expect' ? 'error' : 'warning',
    line: Number(m[2]),
    col: Number(m[3]),
    message: m[4] as string,
  }));
}

describe('invalid lab files', () => {
  test('there are some, each with expectations', () => {
    expect(files('invalid').length).toBeGreaterThanOrEqual(15);
    for (const f of files('invalid')) expect(expectations(read('invalid', f)).length, f).toBeGreaterThan(0);
  });

  test.each(files('invalid'))('%s: exactly the problems it lists', (file) => {
    const text = read('invalid', file);
    const { model, problems } = checkLab(text, { file });
    const got = problems.map((p) => `${p.severity} ${p.line}:${p.col} ${p.message}`);
    const want = expectations(text);
    expect(model).toBeUndefined();
    for (const w of want) {
      const match = problems.find(
        (p) => p.severity === w.severity && p.line === w.line && p.col === w.col && p.message.startsWith(w.message),
      );
      expect(match, `expected ${w.severity} ${w.line}:${w.col} ${w.message}\ngot:\n${got.join('\n')}`).toBeDefined();
    }
    expect(problems.length, got.join('\n')).toBe(want.length);
  });

  test('parseLab throws one LabFileError listing every error like a compiler, first field named', () => {
    const text = read('invalid', 'mtu.yaml');
    let error: unknown;
    try {
      parseLab(text, { file: 'mtu.yaml' });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'LabFileError', file: 'mtu.yaml', field: 'topology.links[0].mtu' });
    const e = error as { message: string; problems: { line: number; col: number; path: string; message: string }[] };
    expect(e.problems).toHaveLength(4);
    expect(e.problems[0]).toEqual({
      path: 'topology.links[0].mtu',
      line: 8,
      col: 12,
      message: 'mtu is an integer in 68..65535, got 10',
    });
    expect(e.message.split('\n')).toEqual([
      'mtu.yaml: 4 problems',
      '  mtu.yaml:8:12: topology.links[0].mtu: mtu is an integer in 68..65535, got 10',
      '  mtu.yaml:10:12: topology.links[1].mtu: mtu is an integer in 68..65535, got 70000',
      expect.stringMatching(/^ {2}mtu\.yaml:12:12: topology\.links\[2\]\.mtu: mtu 1000 is below 1280/),
      '  mtu.yaml:15:12: topology.links[3].mtu: mtu is an integer in 68..65535, got "1500"',
    ]);
  });

  test('warnings do not stop a lab: parseLab returns them with the model', () => {
    const text =
      'name: w\ntopology:\n  nodes: {a: {}, b: {}}\n  links:\n    - endpoints: [a:e0, b:e0]\n      ipv4: [10.0.0.0/24, 10.0.1.2/24]\n';
    const { model, warnings } = parseLab(text);
    expect(Object.keys(model.nodes)).toEqual(['a', 'b']);
    expect(warnings.map((w) => [w.line, w.col, w.message.slice(0, 30)])).toEqual([
      [6, 14, '10.0.0.0/24 is the network or '],
      [6, 27, 'the two ends of this link have'],
    ]);
  });
});

test('without a file name, the problems are listed by line and column alone', () => {
  expect(() => parseLab('name: x\ntopology:\n  nodes: { h1: { cpu: 0 } }\n')).toThrow(
    'lab file: 1 problem\n  3:23: topology.nodes.h1.cpu: cpu is a number of CPUs above 0 (0.5 = half of one CPU), got 0',
  );
});
