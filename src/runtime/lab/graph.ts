/**
 * The picture of a lab: Graphviz DOT text (nodes shaped by kind, each edge
 * labelled at each end with the interface and its addresses, and in the
 * middle with its shaping, as tinet does and containerlab users asked for),
 * rendered to SVG in-process by @viz-js/viz (Graphviz compiled to
 * WebAssembly: no `dot` binary needed). Also Mermaid text, which GitHub
 * renders inside Markdown. Built from the model alone, so a lab can be drawn
 * from its file before it is deployed; `status` adds what a running lab
 * knows (a switch's state).
 */
import type { Impairment, LabInterface, LabModel, LabNode } from './model.js';
import { formatLoss, formatRate, formatTime } from './units.js';

export interface GraphOptions {
  /** A line added under a node's name (e.g. a switch's state: 'running', 'exited 1'). */
  status?: Record<string, string>;
}

const STYLE: Record<LabNode['kind'], string> = {
  host: 'shape=box, style="rounded,filled", fillcolor="#dbeafe"',
  bridge: 'shape=ellipse, style=filled, fillcolor="#dcfce7"',
  bmv2: 'shape=box3d, style=filled, fillcolor="#fde68a"',
};

/** DOT text for `model`. */
export function labToDot(model: LabModel, options: GraphOptions = {}): string {
  const out: string[] = [];
  out.push(`graph ${quote(model.name)} {`);
  out.push(
    `  graph [label=${quote(`lab ${model.name}`)}, labelloc=t, fontname="Helvetica", fontsize=14, rankdir=LR, nodesep=0.6, ranksep=2.2];`,
  );
  // A margin: the renderer's fallback font is often wider than the metrics the layout used.
  out.push('  node [fontname="Helvetica", fontsize=12, margin="0.25,0.08"];');
  out.push('  edge [fontname="Helvetica", fontsize=9, labeldistance=3.2, labelangle=40, color="#555555"];');
  for (const node of Object.values(model.nodes)) {
    const lines = [node.name, kindLine(node)];
    const status = options.status?.[node.name];
    if (status) lines.push(status);
    out.push(`  ${quote(node.name)} [${STYLE[node.kind]}, label=${quote(lines.join('\n'))}, tooltip=${quote(node.namespace)}];`);
  }
  for (const link of Object.values(model.links)) {
    const [a, b] = link.endpoints;
    const tail = model.nodes[a.node]?.interfaces[a.interface] as LabInterface;
    const head = model.nodes[b.node]?.interfaces[b.interface] as LabInterface;
    const attrs = [`taillabel=${quote(endLabel(tail))}`, `headlabel=${quote(endLabel(head))}`];
    const middle = middleLabel(a.node, tail, b.node, head, link.mtu);
    if (middle) attrs.push(`label=${quote(middle)}`);
    attrs.push(`tooltip=${quote(link.id)}`);
    out.push(`  ${quote(a.node)} -- ${quote(b.node)} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

let viz: Promise<{ renderString(dot: string, options: { format: string; engine: string }): string }> | undefined;

/** The SVG picture of `model` (Graphviz's dot layout). */
export async function renderSvg(model: LabModel, options: GraphOptions = {}): Promise<string> {
  viz ??= import('@viz-js/viz').then((m) => m.instance());
  return (await viz).renderString(labToDot(model, options), { format: 'svg', engine: 'dot' });
}

/** Mermaid flowchart text for `model` (renders inside GitHub Markdown). */
export function labToMermaid(model: LabModel): string {
  const ids = new Map(Object.keys(model.nodes).map((name, i) => [name, `n${i}`]));
  const shape: Record<LabNode['kind'], [string, string]> = { host: ['[', ']'], bridge: ['([', '])'], bmv2: ['[[', ']]'] };
  const out = ['graph LR'];
  for (const node of Object.values(model.nodes)) {
    const [open, close] = shape[node.kind];
    out.push(`  ${ids.get(node.name)}${open}"${mermaidText(`${node.name} (${kindLine(node).replaceAll('\n', ', ')})`)}"${close}`);
  }
  for (const link of Object.values(model.links)) {
    const [a, b] = link.endpoints;
    const tail = model.nodes[a.node]?.interfaces[a.interface] as LabInterface;
    const head = model.nodes[b.node]?.interfaces[b.interface] as LabInterface;
    const label = [endLabel(tail).replaceAll('\n', ' '), endLabel(head).replaceAll('\n', ' ')].join(' — ');
    const middle = middleLabel(a.node, tail, b.node, head, link.mtu);
    out.push(
      `  ${ids.get(a.node)} ---|"${mermaidText(middle ? `${label} (${middle.replaceAll('\n', ', ')})` : label)}"| ${ids.get(b.node)}`,
    );
  }
  return `${out.join('\n')}\n`;
}

function kindLine(node: LabNode): string {
  const s = node.switch;
  if (!s) return node.kind;
  return `bmv2 #${s.deviceId}\ngrpc ${s.grpcPort} thrift ${s.thriftPort}`;
}

/** `eth0` and its addresses, one a line; a switch port says its number. */
function endLabel(iface: LabInterface): string {
  const name = iface.port !== undefined ? `${iface.name} (port ${iface.port})` : iface.name;
  return [name, ...iface.addresses].join('\n');
}

/** The link's MTU and shaping; shaping per direction when the two ends differ. */
function middleLabel(tailNode: string, tail: LabInterface, headNode: string, head: LabInterface, mtu?: number): string {
  const lines: string[] = [];
  if (mtu !== undefined) lines.push(`mtu ${mtu}`);
  const t = tail.impair ? impairText(tail.impair) : '';
  const h = head.impair ? impairText(head.impair) : '';
  if (t && t === h) lines.push(t);
  else {
    if (t) lines.push(`${tailNode}→: ${t}`);
    if (h) lines.push(`${headNode}→: ${h}`);
  }
  return lines.join('\n');
}

function impairText(i: Impairment): string {
  const parts: string[] = [];
  if (i.rateBitPerSec !== undefined) parts.push(formatRate(i.rateBitPerSec));
  if (i.delayUs !== undefined)
    parts.push(`delay ${formatTime(i.delayUs)}${i.jitterUs !== undefined ? ` ±${formatTime(i.jitterUs)}` : ''}`);
  if (i.lossPercent !== undefined) parts.push(`loss ${formatLoss(i.lossPercent)}`);
  return parts.join(' ');
}

/** A DOT double-quoted string; `\n` in the text becomes DOT's centred line break. */
function quote(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`;
}

/** Mermaid strings cannot hold a double quote; its entity is allowed. */
function mermaidText(text: string): string {
  return text.replaceAll('"', '#quot;');
}
