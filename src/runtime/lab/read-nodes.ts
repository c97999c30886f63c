/**
 * Reading `topology.defaults`, `topology.kinds` and `topology.nodes`: each
 * field is checked where it is written, then a node's fields are resolved
 * node -> kinds.<kind> -> defaults, as containerlab does (sysctls merge key
 * by key; any other field is taken whole from the first place that has it).
 */
import { type Cidr, hostBitsSet, networkOf, readCidr } from './addresses.js';
import { DEFAULTS_KEYS, KIND_DEFAULTS_KEYS, NODE_KEYS, PER_SWITCH_KEYS, ROUTE_KEYS } from './format.js';
import type { Path } from './locate.js';
import { LOG_LEVELS, type LogLevel, NODE_KINDS, type NodeKind } from './model.js';
import { nodeNameProblem } from './names.js';
import type { Problems } from './problems.js';
import { didYouMean } from './suggest.js';
import { readMemory } from './units.js';
import { checkKeys, describe, readBool, readInt, readList, readMap, readString, readUnit, type YamlMap } from './values.js';

export interface RouteDraft {
  path: Path;
  dst: Cidr;
  via?: Cidr;
  dev?: string;
  metric?: number;
}

/** A node's fields as read, each with where it was written (for problems found later). */
export interface NodeFields {
  kind?: NodeKind;
  exec?: string[];
  cpu?: number;
  memoryBytes?: number;
  sysctls?: Record<string, string>;
  routes?: RouteDraft[];
  program?: string;
  noP4?: boolean;
  deviceId?: number;
  grpcPort?: number;
  thriftPort?: number;
  cpuPort?: number;
  log?: string;
  logLevel?: LogLevel;
  pcap?: string;
  /** Field name (as written, `device-id`) -> where it was written. */
  where: Record<string, Path>;
}

export interface NodeDraft {
  name: string;
  path: Path;
  /** Undefined when the kind written is not one: the node is still known, so links to it are not reported too. */
  kind?: NodeKind;
  fields: NodeFields;
}

export interface NodeDefaults {
  all: NodeFields;
  kinds: Partial<Record<NodeKind, NodeFields>>;
}

/** `topology.defaults` and `topology.kinds`. */
export function readDefaults(p: Problems, topology: YamlMap): NodeDefaults {
  const out: NodeDefaults = { all: { where: {} }, kinds: {} };
  const defaultsPath = ['topology', 'defaults'];
  if (topology.defaults !== undefined && topology.defaults !== null) {
    const map = readMap(p, topology.defaults, defaultsPath, 'topology.defaults');
    if (map) {
      checkKeys(p, map, defaultsPath, DEFAULTS_KEYS, (k) =>
        NODE_KINDS.some((kind) => NODE_KEYS[kind].includes(k))
          ? `"${k}" is not for every node; put it in topology.kinds.<kind> or on the nodes`
          : undefined,
      );
      out.all = readFields(p, pick(map, DEFAULTS_KEYS), defaultsPath, undefined);
    }
  }
  const kindsPath = ['topology', 'kinds'];
  if (topology.kinds !== undefined && topology.kinds !== null) {
    const map = readMap(p, topology.kinds, kindsPath, 'topology.kinds');
    for (const [name, value] of Object.entries(map ?? {})) {
      const path = [...kindsPath, name];
      if (!(NODE_KINDS as readonly string[]).includes(name)) {
        p.error(path, `unknown kind "${name}"${didYouMean(name, NODE_KINDS)}; kinds are ${NODE_KINDS.join(', ')}`, 'key');
        continue;
      }
      const kind = name as NodeKind;
      if (value === null) continue;
      const fields = readMap(p, value, path, `topology.kinds.${kind}`);
      if (!fields) continue;
      checkKeys(p, fields, path, KIND_DEFAULTS_KEYS[kind], (k) => {
        if ((PER_SWITCH_KEYS as readonly string[]).includes(k))
          return `"${k}" must differ from switch to switch: set it on each node`;
        if (k === 'kind') return `"kind" makes no sense under topology.kinds.${kind}`;
        return elsewhere(k, kind);
      });
      out.kinds[kind] = readFields(p, pick(fields, KIND_DEFAULTS_KEYS[kind]), path, kind);
    }
  }
  return out;
}

/** `topology.nodes`, in the file's order, each resolved against the defaults. */
export function readNodes(p: Problems, topology: YamlMap, defaults: NodeDefaults): Map<string, NodeDraft> {
  const nodes = new Map<string, NodeDraft>();
  const nodesPath = ['topology', 'nodes'];
  const map = topology.nodes === undefined ? undefined : readMap(p, topology.nodes, nodesPath, 'topology.nodes');
  if (topology.nodes === undefined) p.error(['topology'], 'topology.nodes is missing: a lab needs at least one node');
  else if (map && Object.keys(map).length === 0) p.error(nodesPath, 'a lab needs at least one node');
  for (const [name, value] of Object.entries(map ?? {})) {
    const path = [...nodesPath, name];
    const nameProblem = nodeNameProblem(name);
    if (nameProblem) p.error(path, nameProblem, 'key');
    // `h1:` alone is a host with every default.
    const fields = value === null ? {} : readMap(p, value, path, `node ${name}`);
    if (!fields) {
      nodes.set(name, { name, path, fields: { where: {} } });
      continue;
    }
    const kind =
      readKind(p, fields.kind, [...path, 'kind']) ?? (fields.kind === undefined ? (defaults.all.kind ?? 'host') : undefined);
    if (kind) checkKeys(p, fields, path, NODE_KEYS[kind], (k) => elsewhere(k, kind));
    // A node of an unknown kind: only the fields every kind has are read (its other keys cannot be judged).
    const own = readFields(p, pick(fields, kind ? NODE_KEYS[kind] : ['exec', 'cpu', 'memory', 'sysctls']), path, kind);
    nodes.set(name, { name, path, kind, fields: kind ? resolve(own, defaults.kinds[kind], defaults.all) : own });
  }
  return nodes;
}

/** Why `key`, unknown for `kind`, may be right elsewhere; or the did-you-mean of an unknown key. */
function elsewhere(key: string, kind: NodeKind): string | undefined {
  const owners = NODE_KINDS.filter((k) => k !== kind && NODE_KEYS[k].includes(key));
  if (owners.length) return `"${key}" is a field of ${owners.join(' and ')} nodes, not of ${kind} nodes`;
  return undefined;
}

/** The fields of `map` a reader may read (the others were reported as unknown). */
function pick(map: YamlMap, keys: readonly string[]): YamlMap {
  return Object.fromEntries(Object.entries(map).filter(([k]) => keys.includes(k)));
}

/** Words people use for a kind, for the "did you mean". */
const KIND_ALIASES: Record<string, NodeKind> = {
  switch: 'bmv2',
  p4: 'bmv2',
  simple_switch: 'bmv2',
  simple_switch_grpc: 'bmv2',
  router: 'host',
  linux: 'host',
  br: 'bridge',
};

function readKind(p: Problems, value: unknown, path: Path): NodeKind | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (NODE_KINDS as readonly string[]).includes(value)) return value as NodeKind;
  const alias = typeof value === 'string' ? KIND_ALIASES[value.toLowerCase()] : undefined;
  const hint = alias ? ` (did you mean "${alias}"?)` : typeof value === 'string' ? didYouMean(value, NODE_KINDS) : '';
  p.error(path, `unknown kind ${describe(value)}${hint}; kinds are ${NODE_KINDS.join(', ')}`);
  return undefined;
}

/** The fields of one map (a node, `defaults` or `kinds.<kind>`); unknown keys were reported by the caller. */
function readFields(p: Problems, map: YamlMap, path: Path, kind: NodeKind | undefined): NodeFields {
  const f: NodeFields = { where: {} };
  const at = (key: string): Path => {
    f.where[key] = [...path, key];
    return [...path, key];
  };
  for (const [key, value] of Object.entries(map)) {
    if (value === undefined) continue;
    switch (key) {
      case 'kind':
        f.kind = readKind(p, value, at(key));
        break;
      case 'exec':
        f.exec = readExec(p, value, at(key));
        break;
      case 'cpu':
        if (typeof value === 'number' && value > 0 && value <= 1024) f.cpu = value;
        else p.error(at(key), `cpu is a number of CPUs above 0 (0.5 = half of one CPU), got ${describe(value)}`);
        break;
      case 'memory':
        f.memoryBytes = readUnit(p, value, at(key), readMemory);
        break;
      case 'sysctls':
        f.sysctls = readSysctls(p, value, at(key));
        break;
      case 'routes':
        if (kind === 'host') f.routes = readRoutes(p, value, at(key));
        break;
      case 'program':
        f.program = readString(p, value, at(key), 'program (the compiled P4 program, a BMv2 JSON file)');
        break;
      case 'no-p4':
        f.noP4 = readBool(p, value, at(key), 'no-p4');
        break;
      case 'device-id':
        f.deviceId = readInt(p, value, at(key), 'device-id', 0, 0xffffffff);
        break;
      case 'grpc-port':
        f.grpcPort = readInt(p, value, at(key), 'grpc-port', 1, 65535);
        break;
      case 'thrift-port':
        f.thriftPort = readInt(p, value, at(key), 'thrift-port', 1, 65535);
        break;
      case 'cpu-port':
        f.cpuPort = readInt(p, value, at(key), 'cpu-port', 1, 510);
        break;
      case 'log':
        f.log = readString(p, value, at(key), 'log ("console" or a file)');
        break;
      case 'log-level':
        if (typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value)) f.logLevel = value as LogLevel;
        else
          p.error(
            at(key),
            `log-level is one of ${LOG_LEVELS.join(', ')}, got ${describe(value)}${typeof value === 'string' ? didYouMean(value, LOG_LEVELS) : ''}`,
          );
        break;
      case 'pcap':
        f.pcap = readString(p, value, at(key), 'pcap (a directory for the capture files)');
        break;
    }
  }
  return f;
}

function readExec(p: Problems, value: unknown, path: Path): string[] | undefined {
  if (typeof value === 'string') {
    p.error(path, `exec is a list of commands: exec: [${JSON.stringify(value)}]`);
    return undefined;
  }
  const list = readList(p, value, path, 'exec');
  if (!list) return undefined;
  const out: string[] = [];
  list.forEach((c, i) => {
    const command = readString(p, c, [...path, i], 'a command');
    if (command !== undefined) out.push(command);
  });
  return out;
}

const SYSCTL_KEY = /^[a-z0-9_]+(\.[A-Za-z0-9_@:+-]+)+$/;

function readSysctls(p: Problems, value: unknown, path: Path): Record<string, string> | undefined {
  const map = readMap(p, value, path, 'sysctls');
  if (!map) return undefined;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(map)) {
    const at = [...path, key];
    if (!SYSCTL_KEY.test(key)) {
      p.error(at, `"${key}" is not a sysctl name like net.ipv4.ip_forward`, 'key');
      continue;
    }
    if (!key.startsWith('net.')) {
      p.error(
        at,
        `${key} is not a network namespace's own sysctl: writing it in a lab would change the whole host (net.* only)`,
        'key',
      );
      continue;
    }
    if (typeof v === 'number' || typeof v === 'string') out[key] = String(v);
    else if (typeof v === 'boolean') out[key] = v ? '1' : '0';
    else p.error(at, `a sysctl's value is a number or a string, got ${describe(v)}`);
  }
  return out;
}

function readRoutes(p: Problems, value: unknown, path: Path): RouteDraft[] | undefined {
  const list = readList(p, value, path, 'routes');
  if (!list) return undefined;
  const out: RouteDraft[] = [];
  list.forEach((item, i) => {
    const at = [...path, i];
    const map = readMap(p, item, at, 'a route');
    if (!map) return;
    checkKeys(p, map, at, ROUTE_KEYS);
    let ok = true;
    let dst: Cidr | undefined;
    if (map.dst === undefined) {
      p.error(at, 'a route needs dst (a prefix like 10.0.2.0/24, or default)');
      ok = false;
    } else if (map.dst === 'default') {
      dst = undefined; // resolved below from via's family
    } else {
      const r = readCidr(map.dst, undefined, true);
      if ('problem' in r) {
        p.error([...at, 'dst'], r.problem);
        ok = false;
      } else if (hostBitsSet(r)) {
        p.error([...at, 'dst'], `${map.dst} has bits set after its prefix length; the kernel wants ${networkOf(r)}`);
        ok = false;
      } else dst = r;
    }
    let via: Cidr | undefined;
    if (map.via !== undefined) {
      const r = typeof map.via === 'string' && map.via.includes('/') ? undefined : readCidr(map.via, undefined, true);
      if (!r || 'problem' in r) {
        p.error(
          [...at, 'via'],
          r ? r.problem : `via is a gateway address, without a prefix length: ${String(map.via).split('/')[0]}`,
        );
        ok = false;
      } else via = r;
    }
    let dev: string | undefined;
    if (map.dev !== undefined) dev = readString(p, map.dev, [...at, 'dev'], 'dev (an interface of this node)');
    const metric = map.metric === undefined ? undefined : readInt(p, map.metric, [...at, 'metric'], 'metric', 0, 0xffffffff);
    if (map.via === undefined && map.dev === undefined) {
      p.error(at, 'a route needs via (a gateway) or dev (an interface of this node), or both');
      ok = false;
    }
    if (!ok) return;
    if (!dst) {
      const family = via?.family ?? 4;
      dst = readCidr(family === 4 ? '0.0.0.0/0' : '::/0', family, false) as Cidr;
    }
    if (via && via.family !== dst.family) {
      p.error([...at, 'via'], `the gateway ${via.address} is IPv${via.family}, the destination ${dst.text} IPv${dst.family}`);
      return;
    }
    out.push({ path: at, dst, ...(via && { via }), ...(dev !== undefined && { dev }), ...(metric !== undefined && { metric }) });
  });
  return out;
}

/** A node's own fields over its kind's over every node's. */
function resolve(own: NodeFields, kind: NodeFields | undefined, all: NodeFields): NodeFields {
  const out: NodeFields = { where: {} };
  // Lowest layer first, so that a higher layer's value (and where it was written) wins.
  for (const layer of [all, kind ?? { where: {} }, own]) {
    const { where, sysctls, ...fields } = layer;
    // program and no-p4 are one choice: a layer that makes it overrides the other from layers below.
    if (fields.program !== undefined || fields.noP4 !== undefined) {
      delete out.program;
      delete out.noP4;
    }
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) (out as unknown as YamlMap)[key] = value;
    if (sysctls) out.sysctls = { ...out.sysctls, ...sysctls };
    Object.assign(out.where, where);
  }
  return out;
}
