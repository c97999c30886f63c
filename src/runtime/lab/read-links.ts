/**
 * Reading `topology.links`: each link is a veth pair between two nodes'
 * namespaces. Its endpoints are `node:iface` strings (containerlab's brief
 * form, with per-endpoint addresses in the link's `ipv4`/`ipv6` lists) or
 * maps (the extended form: `{node, interface, ipv4, ipv6, mac, impair}`).
 * Every interface is registered on its node here, so an interface used
 * twice is found at its second use.
 */
import { ifnameProblem } from '../../backends/schema.js';
import { type Cidr, readCidr } from './addresses.js';
import { ENDPOINT_KEYS, IMPAIR_KEYS, LINK_KEYS, MAX_MTU, MAX_SWITCH_PORT, MIN_MTU } from './format.js';
import type { Path } from './locate.js';
import type { Impairment } from './model.js';
import type { Problems } from './problems.js';
import type { NodeDraft } from './read-nodes.js';
import { didYouMean } from './suggest.js';
import { readLoss, readRate, readTime } from './units.js';
import { checkKeys, describe, isMap, readInt, readList, readMap, readString, readUnit, type YamlMap } from './values.js';

export interface AddressDraft {
  cidr: Cidr;
  path: Path;
}

export interface InterfaceDraft {
  node: string;
  name: string;
  /** Where the endpoint is written. */
  path: Path;
  link: LinkDraft;
  addresses: AddressDraft[];
  mac?: string;
  impair?: Impairment;
  /** kind bmv2: the port number, from the name's trailing digits. */
  port?: number;
}

export interface LinkDraft {
  path: Path;
  ends: [InterfaceDraft, InterfaceDraft];
  mtu?: number;
}

/** What was read of a link's endpoint before it is known to be usable. */
interface EndpointRead {
  node: string;
  name: string;
  path: Path;
  map?: YamlMap;
}

/** Every link, and every node's interfaces by name (file order). */
export interface LinksRead {
  links: LinkDraft[];
  interfaces: Map<string, Map<string, InterfaceDraft>>;
}

export function readLinks(p: Problems, topology: YamlMap, nodes: Map<string, NodeDraft>): LinksRead {
  const out: LinksRead = { links: [], interfaces: new Map([...nodes.keys()].map((n) => [n, new Map()])) };
  const linksPath = ['topology', 'links'];
  if (topology.links === undefined || topology.links === null) return out;
  const list = readList(p, topology.links, linksPath, 'topology.links');
  list?.forEach((value, i) => {
    const path = [...linksPath, i];
    const map = readMap(p, value, path, 'a link');
    if (!map) return;
    checkKeys(p, map, path, LINK_KEYS, (k) =>
      (ENDPOINT_KEYS as readonly string[]).includes(k)
        ? `"${k}" belongs to an endpoint (the extended form: endpoints: [{node: h1, interface: eth0, ${k}: ...}, ...])`
        : undefined,
    );
    const link = readLink(p, map, path, nodes, out.interfaces);
    if (link) out.links.push(link);
  });
  return out;
}

function readLink(
  p: Problems,
  map: YamlMap,
  path: Path,
  nodes: Map<string, NodeDraft>,
  interfaces: LinksRead['interfaces'],
): LinkDraft | undefined {
  const mtu = map.mtu === undefined ? undefined : readInt(p, map.mtu, [...path, 'mtu'], 'mtu', MIN_MTU, MAX_MTU);
  const impair = map.impair === undefined ? undefined : readImpair(p, map.impair, [...path, 'impair']);
  const brief = { ipv4: readBriefAddresses(p, map, path, 'ipv4'), ipv6: readBriefAddresses(p, map, path, 'ipv6') };

  if (map.endpoints === undefined) {
    p.error(path, 'a link needs endpoints: ["node:interface", "node:interface"]');
    return undefined;
  }
  const list = readList(p, map.endpoints, [...path, 'endpoints'], 'endpoints');
  if (!list) return undefined;
  // Each endpoint is checked even when the link is refused, so that its own problems are listed too.
  const read = list.map((e, i) => readEndpoint(p, e, [...path, 'endpoints', i], nodes));
  if (list.length !== 2) {
    p.error([...path, 'endpoints'], `a link joins exactly 2 endpoints (it is a veth pair), got ${list.length}`);
    return undefined;
  }
  const [a, b] = read;
  if (a && b && a.node === b.node) {
    p.error(b.path, `both ends of the link are on node ${a.node}: a link joins two nodes`);
    return undefined;
  }
  if (!a || !b) {
    // The usable end is still registered: its name and port are checked, and a later use of it is found.
    const half = { path } as LinkDraft;
    for (const end of [a, b])
      if (end) register(p, { node: end.node, name: end.name, path: end.path, link: half, addresses: [] }, nodes, interfaces);
    return undefined;
  }

  const link = { path, ...(mtu !== undefined && { mtu }) } as LinkDraft;
  const ends = read.map((e, i) => {
    const end = e as EndpointRead;
    const own = end.map;
    const iface: InterfaceDraft = { node: end.node, name: end.name, path: end.path, link, addresses: [] };
    for (const family of ['ipv4', 'ipv6'] as const) {
      const fromLink = brief[family]?.[i];
      if (own?.[family] !== undefined) {
        if (fromLink)
          p.error(fromLink.path, `${end.node}:${end.name} has its ${family} on its endpoint already; give it in one place`);
        iface.addresses.push(...readEndpointAddresses(p, own[family], [...end.path, family], family));
      } else if (fromLink) iface.addresses.push(fromLink);
    }
    if (own?.mac !== undefined) {
      const mac = readMac(p, own.mac, [...end.path, 'mac']);
      if (mac) iface.mac = mac;
    }
    const ownImpair = own?.impair === undefined ? undefined : readImpair(p, own.impair, [...end.path, 'impair']);
    const shaping = ownImpair ?? impair;
    if (shaping) iface.impair = shaping;
    return iface;
  }) as [InterfaceDraft, InterfaceDraft];
  link.ends = ends;

  for (const iface of ends) register(p, iface, nodes, interfaces);
  return link;
}

function readEndpoint(p: Problems, value: unknown, path: Path, nodes: Map<string, NodeDraft>): EndpointRead | undefined {
  let node: string | undefined;
  let name: string | undefined;
  let map: YamlMap | undefined;
  let namePath = path;
  let nodePath = path;
  if (typeof value === 'string') {
    const parts = value.split(':');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      p.error(path, `an endpoint is "node:interface", like "h1:eth0"; got ${JSON.stringify(value)}`);
      return undefined;
    }
    [node, name] = parts;
  } else if (isMap(value)) {
    map = value;
    checkKeys(p, map, path, ENDPOINT_KEYS);
    node = readString(p, map.node, (nodePath = [...path, 'node']), 'node');
    name = readString(p, map.interface, (namePath = [...path, 'interface']), 'interface');
    if (node === undefined || name === undefined) return undefined;
  } else {
    p.error(path, `an endpoint is "node:interface" or a map {node, interface, ...}, got ${describe(value)}`);
    return undefined;
  }
  let ok = true;
  if (!nodes.has(node as string)) {
    p.error(nodePath, `no node "${node}" in this lab${didYouMean(node as string, nodes.keys())}`);
    ok = false;
  }
  const problem = ifnameProblem(name as string);
  if (problem) {
    p.error(namePath, `${problem}; it is ${node}'s interface, in ${node}'s namespace`);
    ok = false;
  } else if (name === 'lo') {
    p.error(namePath, `"lo" is the loopback every namespace has; name the interface something else`);
    ok = false;
  }
  return ok ? { node: node as string, name: name as string, path, ...(map && { map }) } : undefined;
}

/** Adds the interface to its node; refuses a name the node's namespace already has, and ports a switch cannot number. */
function register(p: Problems, iface: InterfaceDraft, nodes: Map<string, NodeDraft>, interfaces: LinksRead['interfaces']): void {
  const node = nodes.get(iface.node) as NodeDraft;
  const mine = interfaces.get(iface.node) as Map<string, InterfaceDraft>;
  const before = mine.get(iface.name);
  if (before) {
    p.error(
      iface.path,
      `${iface.node}:${iface.name} is already an end of the link on line ${p.lineOf(before.link.path)}; an interface is an end of one link`,
    );
    return;
  }
  if (node.kind === 'bridge' && iface.name === node.name) {
    p.error(iface.path, `"${iface.name}" is the bridge device of node ${node.name}; name its ports otherwise (p1, p2...)`);
    return;
  }
  if (node.kind === 'bridge' || node.kind === 'bmv2') {
    for (const a of iface.addresses) {
      p.error(
        a.path,
        `${iface.node}:${iface.name} is a port of ${node.kind} ${node.name}: a port carries no address (give it to the other end)`,
      );
    }
  }
  if (node.kind === 'bmv2') {
    const digits = /(\d+)$/.exec(iface.name)?.[1];
    if (digits === undefined) {
      p.error(iface.path, `${iface.node}:${iface.name}: a switch port's name ends with its port number (p1 is port 1)`);
    } else if (Number(digits) > MAX_SWITCH_PORT) {
      const why = Number(digits) === 511 ? " (511 is simple_switch's drop port)" : '';
      p.error(
        iface.path,
        `${iface.node}:${iface.name} would be port ${Number(digits)}; switch ports are 0..${MAX_SWITCH_PORT}${why}`,
      );
    } else iface.port = Number(digits);
  }
  mine.set(iface.name, iface);
}

/** The brief form's `ipv4: [a, b]`: one entry per endpoint, null for none. */
function readBriefAddresses(
  p: Problems,
  map: YamlMap,
  path: Path,
  family: 'ipv4' | 'ipv6',
): (AddressDraft | undefined)[] | undefined {
  if (map[family] === undefined) return undefined;
  const at = [...path, family];
  const list = readList(p, map[family], at, `${family} (one address per endpoint, null for none)`);
  if (!list) return undefined;
  if (list.length !== 2) {
    p.error(at, `${family} has one entry per endpoint (null for none): 2 entries, got ${list.length}`);
    return undefined;
  }
  return list.map((v, i) => (v === null ? undefined : readAddress(p, v, [...at, i], family)));
}

/** The extended form's per-endpoint `ipv4: a` or `ipv4: [a, b, ...]`. */
function readEndpointAddresses(p: Problems, value: unknown, path: Path, family: 'ipv4' | 'ipv6'): AddressDraft[] {
  const values = Array.isArray(value) ? value.map((v, i) => [v, [...path, i]] as const) : [[value, path] as const];
  return values.map(([v, at]) => readAddress(p, v, at, family)).filter((a): a is AddressDraft => a !== undefined);
}

function readAddress(p: Problems, value: unknown, path: Path, family: 'ipv4' | 'ipv6'): AddressDraft | undefined {
  const r = readCidr(value, family === 'ipv4' ? 4 : 6, false);
  if ('problem' in r) {
    p.error(path, r.problem);
    return undefined;
  }
  return { cidr: r, path };
}

function readMac(p: Problems, value: unknown, path: Path): string | undefined {
  const text = typeof value === 'string' ? value : '';
  const bytes = /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$/.test(text)
    ? text.split(':').map((h) => Number.parseInt(h, 16))
    : undefined;
  if (!bytes) {
    p.error(path, `expected a MAC address like 02:00:00:00:00:01, got ${describe(value)}`);
    return undefined;
  }
  if ((bytes[0] as number) & 1) {
    p.error(
      path,
      `${text} is a multicast address; an interface needs a unicast one (the first byte even), like 02:00:00:00:00:01`,
    );
    return undefined;
  }
  if (bytes.every((b) => b === 0)) {
    p.error(path, `00:00:00:00:00:00 is not an address an interface can have`);
    return undefined;
  }
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** `impair: { rate, delay, jitter, loss }`: shaping of what leaves an interface. */
function readImpair(p: Problems, value: unknown, path: Path): Impairment | undefined {
  const map = readMap(p, value, path, 'impair');
  if (!map) return undefined;
  checkKeys(p, map, path, IMPAIR_KEYS);
  if (!IMPAIR_KEYS.some((k) => map[k] !== undefined)) {
    p.error(path, `impair needs at least one of ${IMPAIR_KEYS.join(', ')}`);
    return undefined;
  }
  const out: Impairment = {};
  let ok = true;
  const take = <K extends keyof Impairment>(field: K, key: string, v: number | undefined) => {
    if (map[key] === undefined) return;
    if (v === undefined) ok = false;
    else out[field] = v;
  };
  take('rateBitPerSec', 'rate', map.rate === undefined ? undefined : readUnit(p, map.rate, [...path, 'rate'], readRate));
  take('delayUs', 'delay', map.delay === undefined ? undefined : readUnit(p, map.delay, [...path, 'delay'], readTime));
  take('jitterUs', 'jitter', map.jitter === undefined ? undefined : readUnit(p, map.jitter, [...path, 'jitter'], readTime));
  take('lossPercent', 'loss', map.loss === undefined ? undefined : readUnit(p, map.loss, [...path, 'loss'], readLoss));
  if (map.jitter !== undefined && map.delay === undefined) {
    p.error([...path, 'jitter'], 'jitter varies a delay: give delay too (delay: 10ms, jitter: 2ms)');
    ok = false;
  }
  if (out.jitterUs !== undefined && out.delayUs !== undefined && out.jitterUs > out.delayUs) {
    p.warning([...path, 'jitter'], 'jitter larger than the delay reorders packets');
  }
  return ok ? out : undefined;
}
