/**
 * A lab file's text to a LabModel, or every problem it has. Nothing here
 * touches the kernel or the file system: `checkLab` and `parseLab` take the
 * text (load.ts reads files). Relative paths in the file (program, log,
 * pcap) are resolved against `baseDir` when given, the lab file's
 * directory as containerlab does.
 */
import { isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, visit } from 'yaml';
import { LabFileError } from '../../errors.js';
import { checkAddresses, checkRoutes, checkSwitches, type SwitchNumbers } from './checks.js';
import { TOP_KEYS, TOPOLOGY_KEYS } from './format.js';
import { Locator, type Path } from './locate.js';
import { type LabInterface, type LabLink, type LabModel, type LabNode, type LabRoute, type LabSwitch, linkId } from './model.js';
import { labNameProblem, labNamespace } from './names.js';
import { type LabProblem, Problems, sortProblems } from './problems.js';
import type { InterfaceDraft, LinksRead } from './read-links.js';
import { readLinks } from './read-links.js';
import { type NodeDraft, readDefaults, readNodes } from './read-nodes.js';
import { checkKeys, readMap } from './values.js';

export interface ParseOptions {
  /** The file the text came from, for messages. */
  file?: string;
  /** Where relative paths of the file are from (the file's directory); kept as written when absent. */
  baseDir?: string;
  /** When given, a switch's program must be a file this says exists (load.ts passes the file system's answer). */
  exists?: (path: string) => boolean;
}

export interface LabCheck {
  /** Present when the file has no errors. */
  model?: LabModel;
  /** Errors and warnings, in file order. */
  problems: LabProblem[];
}

/** Every problem of a lab file, and its model when it has no errors. Never throws for bad input. */
export function checkLab(text: string, options: ParseOptions = {}): LabCheck {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: true, uniqueKeys: true });
  const syntax: LabProblem[] = [...doc.errors, ...doc.warnings].map((e) => {
    const at = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
    return {
      path: '',
      line: at.line,
      col: at.col,
      message: `YAML: ${e.code === 'DUPLICATE_KEY' ? 'this key is already in this map (two nodes or two fields with one name)' : e.message.split(/ at line \d+, column \d+/)[0]}`,
      severity: e.name === 'YAMLWarning' ? 'warning' : 'error',
    };
  });
  if (doc.errors.length) return { problems: sortProblems(syntax) };

  const p = new Problems(new Locator(doc, lines));
  p.list.push(...syntax);
  // toJS() throws on an alias without its anchor, with no position: find them first.
  let unresolved = false;
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc)) return;
      const at = lines.linePos(alias.range?.[0] ?? 0);
      p.list.push({ path: '', ...at, message: `YAML: no anchor &${alias.source} before this alias`, severity: 'error' });
      unresolved = true;
    },
  });
  if (unresolved) return { problems: sortProblems(p.list) };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    p.error([], `YAML: ${(e as Error).message}`);
    return { problems: sortProblems(p.list) };
  }
  const model = read(p, data, options);
  const problems = sortProblems(p.list);
  return p.errors.length || !model ? { problems } : { model, problems };
}

/**
 * The model of a lab file, and its warnings; a LabFileError listing every
 * problem (with line and column) when it has any error.
 */
export function parseLab(text: string, options: ParseOptions = {}): { model: LabModel; warnings: LabProblem[] } {
  const { model, problems } = checkLab(text, options);
  const errors = problems.filter((q) => q.severity === 'error');
  if (errors.length || !model)
    throw new LabFileError(
      options.file,
      errors.map(({ severity: _, ...rest }) => rest),
    );
  return { model, warnings: problems.filter((q) => q.severity === 'warning') };
}

function read(p: Problems, data: unknown, options: ParseOptions): LabModel | undefined {
  if (data === null || data === undefined) {
    p.error([], 'the lab file is empty: it needs name and topology');
    return undefined;
  }
  const root = readMap(p, data, [], 'a lab file');
  if (!root) return undefined;
  // `x-` keys are the user's (as in Compose files): a place for YAML anchors to reuse.
  checkKeys(p, root, [], [...TOP_KEYS, ...Object.keys(root).filter((k) => k.startsWith('x-'))]);
  const nameProblem = root.name === undefined ? 'a lab needs a name (name: demo)' : labNameProblem(root.name);
  if (nameProblem) p.error(root.name === undefined ? [] : ['name'], nameProblem);
  if (root.topology === undefined) {
    p.error([], 'a lab needs topology (with nodes and links)');
    return undefined;
  }
  const topology = readMap(p, root.topology, ['topology'], 'topology');
  if (!topology) return undefined;
  checkKeys(p, topology, ['topology'], TOPOLOGY_KEYS);

  const defaults = readDefaults(p, topology);
  const nodes = readNodes(p, topology, defaults);
  const links = readLinks(p, topology, nodes);
  checkAddresses(p, links);
  checkRoutes(p, nodes, links);
  const numbers = checkSwitches(p, nodes, links);
  if (options.exists) {
    for (const node of nodes.values()) {
      const program = node.kind === 'bmv2' ? node.fields.program : undefined;
      if (program !== undefined && !options.exists(resolvePath(options, program))) {
        p.error(node.fields.where.program as Path, `${node.name}'s program ${resolvePath(options, program)} does not exist`);
      }
    }
  }
  if (p.errors.length) return undefined;
  return build(root.name as string, nodes, links, numbers, options);
}

/** A path of the file, from the file's directory when known ('console' is not a path). */
function resolvePath(options: ParseOptions, p: string): string {
  return options.baseDir === undefined || isAbsolute(p) || p === 'console' ? p : resolve(options.baseDir, p);
}

/** The model of a lab that has no errors. */
function build(
  name: string,
  nodes: Map<string, NodeDraft>,
  read: LinksRead,
  numbers: Map<string, SwitchNumbers>,
  options: ParseOptions,
): LabModel {
  const path = (p: string) =>
    options.baseDir === undefined || isAbsolute(p) || p === 'console' ? p : resolve(options.baseDir, p);
  const model: LabModel = { name, nodes: {}, links: {} };
  const ids = new Map<InterfaceDraft['link'], string>();
  for (const link of read.links) {
    const [a, b] = link.ends.map((e) => ({ node: e.node, interface: e.name }));
    const id = linkId(a as LabLink['endpoints'][0], b as LabLink['endpoints'][0]);
    ids.set(link, id);
    model.links[id] = { id, endpoints: [a, b] as LabLink['endpoints'], ...(link.mtu !== undefined && { mtu: link.mtu }) };
  }
  for (const draft of nodes.values()) {
    const f = draft.fields;
    const kind = draft.kind as LabNode['kind'];
    const interfaces: Record<string, LabInterface> = {};
    for (const iface of read.interfaces.get(draft.name)?.values() ?? []) {
      const peer = iface.link.ends.find((e) => e !== iface) as InterfaceDraft;
      const byFamily = [...iface.addresses].sort((x, y) => x.cidr.family - y.cidr.family);
      interfaces[iface.name] = {
        name: iface.name,
        link: ids.get(iface.link) as string,
        peer: { node: peer.node, interface: peer.name },
        addresses: byFamily.map((a) => a.cidr.text),
        ...(iface.link.mtu !== undefined && { mtu: iface.link.mtu }),
        ...(iface.mac !== undefined && { mac: iface.mac }),
        ...(iface.impair !== undefined && { impair: { ...iface.impair } }),
        ...(iface.port !== undefined && { port: iface.port }),
      };
    }
    const routes: LabRoute[] = (f.routes ?? []).map((r) => ({
      dst: r.dst.text,
      family: r.dst.family,
      ...(r.via && { via: r.via.address }),
      ...(r.dev !== undefined && { dev: r.dev }),
      ...(r.metric !== undefined && { metric: r.metric }),
    }));
    const node: LabNode = {
      name: draft.name,
      kind,
      namespace: labNamespace(name, draft.name),
      interfaces,
      routes,
      sysctls: { ...f.sysctls },
      exec: [...(f.exec ?? [])],
      limits: { ...(f.cpu !== undefined && { cpu: f.cpu }), ...(f.memoryBytes !== undefined && { memoryBytes: f.memoryBytes }) },
    };
    if (kind === 'bridge') node.bridge = { device: draft.name };
    if (kind === 'bmv2') {
      const n = numbers.get(draft.name) as SwitchNumbers;
      const ports: Record<number, string> = {};
      const byPort = Object.values(interfaces).sort((x, y) => (x.port as number) - (y.port as number));
      for (const i of byPort) ports[i.port as number] = i.name;
      const sw: LabSwitch = {
        deviceId: n.deviceId,
        grpcPort: n.grpcPort,
        thriftPort: n.thriftPort,
        ...(f.cpuPort !== undefined && { cpuPort: f.cpuPort }),
        ...(f.program !== undefined && { program: path(f.program) }),
        noP4: f.noP4 === true,
        ...(f.log !== undefined && { log: path(f.log) }),
        ...(f.logLevel !== undefined && { logLevel: f.logLevel }),
        ...(f.pcap !== undefined && { pcap: path(f.pcap) }),
        ports,
      };
      node.switch = sw;
    }
    model.nodes[draft.name] = node;
  }
  return model;
}
