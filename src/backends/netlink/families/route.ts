/**
 * Routes: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE with struct rtmsg.
 * iproute2 equivalent: `ip route add|change|replace|del|get|show`.
 *
 * Identity in the kernel: family, table, dst/len, priority, tos, type — the
 * gateway is not part of it. Tables above 255 only fit in RTA_TABLE.
 */
import { ValidationError } from '../../../errors.js';
import type { Prefix } from '../codec/address.js';
import { type Attrs, type Body, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, FAMILY_NAMES } from '../constants.js';
import { type BuildContext, type Command, type Family, flagsFor, matchesAll, NEW_FLAGS, type Request } from './family.js';
import { ROUTE_PROTOCOLS, ROUTE_SCOPES, ROUTE_TABLES, ROUTE_TYPES, RT_TABLE_MAIN } from './names.js';
import { checkFamily, checkInt, checkIp, checkKnownKeys, checkObject, checkPrefix, U8, U32 } from './validate.js';

export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const rtmsg = struct('rtmsg', 'family:u8 dst_len:u8 src_len:u8 tos:u8 table:u8 proto:u8 scope:u8 type:u8 flags:u32');
export const rtnexthop = struct('rtnexthop', 'len:u16 flags:u8 hops:u8 ifindex:s32');

/** RTAX_*: the `metrics` of a route (`ip route add ... mtu 1400 advmss 1360`). */
export const metricsSchema = schema('RTAX', [
  [1, 'lock', 'u32'],
  [2, 'mtu', 'u32'],
  [3, 'window', 'u32'],
  [4, 'rtt', 'u32'],
  [5, 'rttvar', 'u32'],
  [6, 'ssthresh', 'u32'],
  [7, 'cwnd', 'u32'],
  [8, 'advmss', 'u32'],
  [9, 'reordering', 'u32'],
  [10, 'hoplimit', 'u32'],
  [11, 'initcwnd', 'u32'],
  [12, 'features', 'u32'],
  [13, 'rto_min', 'u32'],
  [14, 'initrwnd', 'u32'],
  [15, 'quickack', 'u32'],
  [16, 'cc_algo', 'asciiz'],
  [17, 'fastopen_no_cookie', 'u32'],
]);

const rows: import('../codec/attributes.js').AttrRow[] = [
  [1, 'dst', 'ip'],
  [2, 'src', 'ip'],
  [3, 'iif', 'u32'],
  [4, 'oif', 'u32'],
  [5, 'gateway', 'ip'],
  [6, 'priority', 'u32'],
  [7, 'prefsrc', 'ip'],
  [8, 'metrics', 'nested', { schema: metricsSchema }],
  [10, 'protoinfo', 'binary'],
  [11, 'flow', 'u32'],
  [
    12,
    'cacheinfo',
    'struct',
    { struct: struct('rta_cacheinfo', 'clntref:u32 lastuse:u32 expires:s32 error:u32 used:u32 id:u32 ts:u32 tsage:u32') },
  ],
  [13, 'session', 'binary'],
  [14, 'mp_algo', 'binary'],
  [15, 'table', 'u32'],
  [16, 'mark', 'u32'],
  [17, 'mfc_stats', 'binary'],
  [18, 'via', 'binary'],
  [19, 'newdst', 'binary'],
  [20, 'pref', 'u8'],
  [21, 'encap_type', 'u16'],
  [22, 'encap', 'binary'],
  [23, 'expires', 'u32'],
  [24, 'pad', 'binary'],
  [25, 'uid', 'u32'],
  [26, 'ttl_propagate', 'u8'],
  [27, 'ip_proto', 'u8'],
  [28, 'sport', 'be16'],
  [29, 'dport', 'be16'],
  [30, 'nh_id', 'u32'],
  [31, 'flowlabel', 'be32'],
];
/** Attributes of one hop inside RTA_MULTIPATH: the same RTA_* space. */
const hopSchema = schema('RTA(nexthop)', rows);
rows.push([9, 'multipath', 'records', { struct: rtnexthop, schema: hopSchema }]);
export const routeBody = schema('RTA', rows, rtmsg);

export interface NexthopRecord {
  gateway?: string;
  oif?: number;
  /** rtnh_hops: the kernel's weight minus one. */
  hops: number;
  /** iproute2's spelling: hops + 1. */
  weight: number;
  flags: number;
  [attr: string]: unknown;
}

export interface RouteRecord {
  family: string;
  /** 'a/len', or 'default' for a zero-length prefix. */
  dst: string;
  table: number;
  priority?: number;
  tos: number;
  type: string | number;
  proto: string | number;
  scope: string | number;
  flags: number;
  gateway?: string;
  oif?: number;
  prefsrc?: string;
  /** source prefix ('from' in iproute2), when the route has one. */
  src?: string;
  metrics?: Record<string, number | string>;
  multipath?: NexthopRecord[];
  [attr: string]: unknown;
}

function prefixText(addr: string | undefined, len: number, family: number): string {
  if (len === 0 && addr === undefined) return 'default';
  const a = addr ?? (family === AF.INET6 ? '::' : '0.0.0.0');
  return len === 0 ? 'default' : `${a}/${len}`;
}

export function routeToRecord(body: Body): RouteRecord {
  const h = body.header;
  const { dst, src, table, multipath, ...attrs } = body.attrs as Attrs & {
    dst?: string;
    src?: string;
    table?: number;
    multipath?: Body[];
  };
  const rec: RouteRecord = {
    family: FAMILY_NAMES[h.family as number] ?? String(h.family),
    dst: prefixText(dst, h.dst_len as number, h.family as number),
    table: table ?? (h.table as number),
    tos: h.tos as number,
    type: ROUTE_TYPES.name(h.type as number),
    proto: ROUTE_PROTOCOLS.name(h.proto as number),
    scope: ROUTE_SCOPES.name(h.scope as number),
    flags: h.flags as number,
    ...attrs,
  };
  if ((h.src_len as number) > 0 || src !== undefined) rec.src = `${src}/${h.src_len}`;
  if (multipath) {
    rec.multipath = multipath.map((nh) => ({
      ...nh.attrs,
      oif: nh.header.ifindex || undefined,
      hops: nh.header.hops as number,
      weight: (nh.header.hops as number) + 1,
      flags: nh.header.flags as number,
    }));
  }
  return rec;
}

const KEYS = new Set([
  'family',
  'dst',
  'src',
  'table',
  'priority',
  'metric',
  'tos',
  'type',
  'proto',
  'scope',
  'flags',
  'gateway',
  'via',
  'oif',
  'dev',
  'ifname',
  'iif',
  'prefsrc',
  'metrics',
  'multipath',
  'pref',
  'mark',
  'expires',
  'flow',
  'realm',
  'nh_id',
]);
const HOP_KEYS = new Set(['gateway', 'via', 'oif', 'dev', 'ifname', 'hops', 'weight', 'flags']);

const PREF: Record<string, number> = { low: 3, medium: 0, high: 1 };

function familyNumber(f: 4 | 6): number {
  return f === 4 ? AF.INET : AF.INET6;
}

/** Addresses of a spec, parsed once: builds of 100k routes must not parse each several times. */
type Parsed = Partial<Record<'dst' | 'src' | 'gateway' | 'prefsrc', Prefix>>;

/** Picks the family from whatever address the spec has; refuses mixtures. */
function inferFamily(spec: Record<string, unknown>, parsed: Parsed): 4 | 6 | undefined {
  let family = spec.family !== undefined ? checkFamily(spec.family) : undefined;
  const probe = (value: unknown, field: string): Prefix | undefined => {
    if (value === undefined || value === 'default') return undefined;
    const p = checkPrefix(value, field);
    if (family && p.family !== family) {
      throw new ValidationError(`${field}: ${value} is IPv${p.family} but the route is IPv${family}`, field);
    }
    family = p.family;
    return p;
  };
  parsed.dst = probe(spec.dst, 'dst');
  parsed.src = probe(spec.src, 'src');
  parsed.gateway = probe(spec.gateway ?? spec.via, 'gateway');
  parsed.prefsrc = probe(spec.prefsrc, 'prefsrc');
  for (const field of ['gateway', 'prefsrc'] as const) {
    const p = parsed[field];
    if (p && p.length !== p.bytes.length * 8) throw new ValidationError(`${field}: an address, not a prefix`, field);
  }
  if (Array.isArray(spec.multipath)) {
    spec.multipath.forEach((hop, i) => {
      probe((hop as Record<string, unknown>)?.gateway ?? (hop as Record<string, unknown>)?.via, `multipath[${i}].gateway`);
    });
  }
  return family;
}

export function tableNumber(value: unknown, field = 'table'): number {
  return ROUTE_TABLES.number(value, field, U32);
}

async function hopsOf(value: unknown, family: 4 | 6, ctx: BuildContext): Promise<Body[]> {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ValidationError('multipath: a non-empty list of nexthops like [{ gateway, oif, hops }]', 'multipath');
  }
  const out: Body[] = [];
  for (const [i, raw] of value.entries()) {
    const hop = checkObject(raw, `multipath[${i}]`);
    checkKnownKeys(hop, HOP_KEYS, `multipath[${i}]`);
    const attrs: Attrs = {};
    const gw = hop.gateway ?? hop.via;
    if (gw !== undefined) attrs.gateway = checkIp(gw, `multipath[${i}].gateway`, family);
    const dev = hop.oif ?? hop.dev ?? hop.ifname;
    const ifindex = dev !== undefined ? await ctx.index(dev as string | number, `multipath[${i}].oif`) : 0;
    let hops = 0;
    if (hop.weight !== undefined) hops = checkInt(hop.weight, `multipath[${i}].weight`, 1, 256) - 1;
    if (hop.hops !== undefined) hops = checkInt(hop.hops, `multipath[${i}].hops`, 0, 255);
    if (gw === undefined && dev === undefined) {
      throw new ValidationError(`multipath[${i}]: a nexthop needs a gateway or an oif`, `multipath[${i}]`);
    }
    out.push({ header: { len: 0, flags: (hop.flags as number) ?? 0, hops, ifindex }, attrs });
  }
  return out;
}

function checkMetrics(value: unknown): Attrs {
  const m = checkObject(value, 'metrics');
  for (const [key, v] of Object.entries(m)) {
    if (!metricsSchema.byName.has(key)) {
      throw new ValidationError(
        `metrics.${key}: not a route metric (known: ${metricsSchema.names().join(', ')})`,
        `metrics.${key}`,
      );
    }
    if (key !== 'cc_algo') checkInt(v, `metrics.${key}`, 0, U32);
  }
  return m;
}

async function build(cmd: Command, spec: Record<string, unknown>, ctx: BuildContext): Promise<Request> {
  checkKnownKeys(spec, KEYS, `route ${cmd}`);
  const parsed: Parsed = {};
  const family = inferFamily(spec, parsed);
  const header: Record<string, number> = {
    family: family ? familyNumber(family) : AF.UNSPEC,
    dst_len: 0,
    src_len: 0,
    tos: 0,
    table: 0,
    proto: 0,
    scope: 0,
    type: 0,
    flags: 0,
  };
  const attrs: Attrs = {};

  if (cmd === 'dump') {
    // Kernel-side filters under strict checking: table, protocol, type, scope, oif.
    if (spec.table !== undefined) {
      const t = tableNumber(spec.table);
      header.table = t < 256 ? t : 0;
      attrs.table = t;
    }
    if (spec.proto !== undefined) header.proto = ROUTE_PROTOCOLS.number(spec.proto, 'proto');
    if (spec.type !== undefined) header.type = ROUTE_TYPES.number(spec.type, 'type');
    const dev = spec.oif ?? spec.dev ?? spec.ifname;
    if (dev !== undefined) attrs.oif = await ctx.index(dev as string | number, 'oif');
    return { type: RTM_GETROUTE, flags: NEW_FLAGS.dump, body: { header, attrs }, strict: true };
  }

  if (!family) {
    throw new ValidationError(`route ${cmd}: cannot tell IPv4 from IPv6; give dst as a prefix or set family`, 'family');
  }
  const isDel = cmd === 'del';
  const isGet = cmd === 'get';
  if (spec.dst === undefined && !isGet)
    throw new ValidationError(`route ${cmd}: 'dst' is required ('default' or a prefix)`, 'dst');
  if (parsed.dst) {
    header.dst_len = parsed.dst.length;
    if (parsed.dst.length > 0) attrs.dst = parsed.dst.bytes;
  }
  if (parsed.src) {
    header.src_len = parsed.src.length;
    attrs.src = parsed.src.bytes;
  }
  if (isGet) {
    // `ip route get`: a FIB lookup; answers with the route a packet would take.
    const dev = spec.oif ?? spec.dev ?? spec.ifname;
    if (dev !== undefined) attrs.oif = await ctx.index(dev as string | number, 'oif');
    if (spec.iif !== undefined) attrs.iif = await ctx.index(spec.iif as string | number, 'iif');
    if (spec.mark !== undefined) attrs.mark = checkInt(spec.mark, 'mark', 0, U32);
    return { type: RTM_GETROUTE, flags: NEW_FLAGS.get, body: { header, attrs } };
  }

  // iproute2's defaults: `ip route add` is proto boot, scope universe, type unicast;
  // `ip route del` leaves them open (scope nowhere) so any match goes.
  const table = spec.table !== undefined ? tableNumber(spec.table) : RT_TABLE_MAIN;
  header.table = table < 256 ? table : 0;
  header.proto = isDel ? 0 : 3;
  header.scope = isDel ? 255 : 0;
  header.type = isDel ? 0 : 1;
  if (spec.tos !== undefined) header.tos = checkInt(spec.tos, 'tos', 0, U8);
  if (spec.type !== undefined) header.type = ROUTE_TYPES.number(spec.type, 'type');
  if (spec.proto !== undefined) header.proto = ROUTE_PROTOCOLS.number(spec.proto, 'proto');
  if (spec.flags !== undefined) header.flags = checkInt(spec.flags, 'flags', 0, U32);
  const gw = spec.gateway ?? spec.via;
  if (parsed.gateway) attrs.gateway = parsed.gateway.bytes;
  if (table >= 256) attrs.table = table;
  const priority = spec.priority ?? spec.metric;
  if (priority !== undefined) attrs.priority = checkInt(priority, 'priority', 0, U32);
  if (parsed.prefsrc) attrs.prefsrc = parsed.prefsrc.bytes;
  if (spec.pref !== undefined) {
    const pref = typeof spec.pref === 'string' ? PREF[spec.pref] : spec.pref;
    if (family !== 6) throw new ValidationError('pref: router preference is IPv6 only', 'pref');
    attrs.pref = checkInt(pref, 'pref', 0, 3);
  }
  if (spec.expires !== undefined) attrs.expires = checkInt(spec.expires, 'expires', 0, U32);
  if (spec.flow ?? spec.realm) attrs.flow = checkInt(spec.flow ?? spec.realm, 'flow', 0, U32);
  if (spec.nh_id !== undefined) attrs.nh_id = checkInt(spec.nh_id, 'nh_id', 1, U32);
  const dev = spec.oif ?? spec.dev ?? spec.ifname;
  if (dev !== undefined) attrs.oif = await ctx.index(dev as string | number, 'oif');
  if (spec.iif !== undefined) attrs.iif = await ctx.index(spec.iif as string | number, 'iif');
  if (spec.metrics !== undefined) attrs.metrics = checkMetrics(spec.metrics);
  if (spec.multipath !== undefined) {
    if (gw !== undefined) throw new ValidationError('gateway: give either gateway or multipath, not both', 'gateway');
    attrs.multipath = await hopsOf(spec.multipath, family, ctx);
  }
  if (spec.scope !== undefined) header.scope = ROUTE_SCOPES.number(spec.scope, 'scope');
  else if (!isDel) {
    const type = header.type as number;
    if (type === 2 || type === 10)
      header.scope = 254; // local, nat: host
    else if (type === 3 || type === 4 || type === 5)
      header.scope = 253; // broadcast, anycast, multicast: link
    else if ((type === 1 || type === 0) && gw === undefined && spec.multipath === undefined && spec.nh_id === undefined) {
      header.scope = 253; // a directly connected unicast route
    }
  }
  const flags = flagsFor(cmd);
  return { type: isDel ? RTM_DELROUTE : RTM_NEWROUTE, flags, body: { header, attrs } };
}

async function filter(spec: Record<string, unknown>, ctx: BuildContext): Promise<(r: RouteRecord) => boolean> {
  const wanted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    switch (key) {
      case 'family':
        wanted.family = checkFamily(value) === 4 ? 'inet' : 'inet6';
        break;
      case 'table':
        wanted.table = tableNumber(value);
        break;
      case 'metric':
      case 'priority':
        wanted.priority = value;
        break;
      case 'dst':
        wanted.dst = value === 'default' ? 'default' : prefixCanonical(value);
        break;
      case 'oif':
      case 'dev':
      case 'ifname':
        wanted.oif = await ctx.index(value as string | number, key);
        break;
      case 'proto':
        wanted.proto = ROUTE_PROTOCOLS.name(ROUTE_PROTOCOLS.number(value, 'proto'));
        break;
      case 'type':
        wanted.type = ROUTE_TYPES.name(ROUTE_TYPES.number(value, 'type'));
        break;
      case 'scope':
        wanted.scope = ROUTE_SCOPES.name(ROUTE_SCOPES.number(value, 'scope'));
        break;
      default:
        wanted[key] = value;
    }
  }
  return (r) => matchesAll(r, wanted);
}

function prefixCanonical(value: unknown): string {
  const p = checkPrefix(value, 'dst');
  return p.length === 0 ? 'default' : `${p.address}/${p.length}`;
}

export const route: Family<RouteRecord> = {
  name: 'route',
  types: { new: RTM_NEWROUTE, del: RTM_DELROUTE, get: RTM_GETROUTE },
  body: routeBody,
  build,
  toRecord: routeToRecord,
  filter,
};
