/**
 * The picture of a lab: Graphviz DOT text, rendered to SVG in-process by
 * @viz-js/viz (Graphviz compiled to WebAssembly: no `dot` binary needed),
 * and Mermaid text, which GitHub renders inside Markdown. Built from the
 * model alone, so a lab can be drawn from its file before it is deployed;
 * `status` adds what a running lab knows (a switch's state).
 *
 * Two styles, both naming at each end of an edge the interface and its
 * addresses (what containerlab's graph lacks and its users asked for):
 * - 'ports' (the default): each node is a small table, a row per interface
 *   with its addresses, and each edge joins the two rows it is between.
 *   Nothing can be read as belonging to the wrong edge, however many meet.
 * - 'labels': plain node shapes with tinet-style head and tail labels
 *   `ifname / address` near each end; compact, but where many edges meet a
 *   node their labels can sit near a neighbouring edge.
 * Either way a node's kind shows in its shape and colour, and an edge's
 * middle label gives its MTU and shaping (per direction when they differ).
 */
import type { Impairment, LabInterface, LabModel, LabNode } from './model.js';
import { formatLoss, formatRate, formatTime } from './units.js';

export interface GraphOptions {
  /** A line added under a node's name (e.g. a switch's state: 'running', 'exited 1'). */
  status?: Record<string, string>;
  style?: 'ports' | 'labels';
}

const COLOUR: Record<LabNode['kind'], string> = { host: '#dbeafe', bridge: '#dcfce7', bmv2: '#fde68a' };

const SHAPE: Record<LabNode['kind'], string> = {
  host: `shape=box, style="rounded,filled", fillcolor="${COLOUR.host}"`,
  bridge: `shape=ellipse, style=filled, fillcolor="${COLOUR.bridge}"`,
  bmv2: `shape=box3d, style=filled, fillcolor="${COLOUR.bmv2}"`,
};

/** Table borders by kind, for the ports style: rounded hosts, square bridges, switches with a heavy border. */
const TABLE: Record<LabNode['kind'], string> = {
  host: 'border="1" style="rounded"',
  bridge: 'border="1"',
  bmv2: 'border="3"',
};

/** DOT text for `model`. */
export function labToDot(model: LabModel, options: GraphOptions = {}): string {
  const ports = (options.style ?? 'ports') === 'ports';
  const out: string[] = [];
  out.push(`graph ${quote(model.name)} {`);
  const spacing = ports ? 'nodesep=0.4, ranksep=1.4' : 'nodesep=0.6, ranksep=2.2';
  out.push(
    `  graph [label=${quote(`lab ${model.name}`)}, labelloc=t, fontname="Helvetica", fontsize=14, rankdir=LR, ${spacing}];`,
  );
  // A margin: the renderer's fallback font is often wider than the metrics the layout used.
  out.push(`  node [fontname="Helvetica", fontsize=12${ports ? ', shape=plain' : ', margin="0.25,0.08"'}];`);
  out.push(`  edge [fontname="Helvetica", fontsize=9, color="#555555"${ports ? '' : ', labeldistance=3.2, labelangle=40'}];`);
  const portOf = new Map<string, string>();
  for (const node of Object.values(model.nodes)) {
    const head = [node.name, kindLine(node)];
    const status = options.status?.[node.name];
    if (status) head.push(status);
    if (ports) {
      for (const [i, name] of Object.keys(node.interfaces).entries()) portOf.set(`${node.name}:${name}`, `i${i}`);
      out.push(`  ${quote(node.name)} [label=<${table(node, head, portOf)}>, tooltip=${quote(node.namespace)}];`);
    } else {
      out.push(`  ${quote(node.name)} [${SHAPE[node.kind]}, label=${quote(head.join('\n'))}, tooltip=${quote(node.namespace)}];`);
    }
  }
  for (const link of Object.values(model.links)) {
    const [a, b] = link.endpoints;
    const tail = model.nodes[a.node]?.interfaces[a.interface] as LabInterface;
    const head = model.nodes[b.node]?.interfaces[b.interface] as LabInterface;
    const attrs = ports ? [] : [`taillabel=${quote(endLabel(tail))}`, `headlabel=${quote(endLabel(head))}`];
    const middle = middleLabel(a.node, tail, b.node, head, link.mtu);
    if (middle) attrs.push(`label=${quote(middle)}`);
    attrs.push(`tooltip=${quote(link.id)}`);
    const ends = ports
      ? `${quote(a.node)}:${portOf.get(`${a.node}:${a.interface}`)} -- ${quote(b.node)}:${portOf.get(`${b.node}:${b.interface}`)}`
      : `${quote(a.node)} -- ${quote(b.node)}`;
    out.push(`  ${ends} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** A node as an HTML-like table: its name, kind (and status), then a row (a port) per interface. */
function table(node: LabNode, head: string[], portOf: Map<string, string>): string {
  const [name, ...rest] = head as [string, ...string[]];
  const small = (t: string) => `<font point-size="9">${html(t).replaceAll('\n', '<br/>')}</font>`;
  const rows = [`<tr><td><b>${html(name)}</b></td></tr>`, ...rest.map((t) => `<tr><td>${small(t)}</td></tr>`)];
  for (const iface of Object.values(node.interfaces)) {
    rows.push(
      `<tr><td port="${portOf.get(`${node.name}:${iface.name}`)}" sides="t" border="1">${small(endLabel(iface))}</td></tr>`,
    );
  }
  return `<table ${TABLE[node.kind]} cellborder="0" cellspacing="0" cellpadding="5" bgcolor="${COLOUR[node.kind]}">${rows.join('')}</table>`;
}

/** Text inside an HTML-like label (interface names may hold '<' or '&'). */
function html(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
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
