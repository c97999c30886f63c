/**
 * Routes: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE with struct rtmsg.
 * iproute2 equivalent: `ip route add|change|replace|del|get|show`.
 *
 * Identity in the kernel: family, table, dst/len, priority, tos, type — the
 * gateway is not part of it. Tables above 255 only fit in RTA_TABLE.
 */
import { ValidationError } from '../../../errors.js';
import {
  family,
  hostAddress,
  ifRef,
  inInputOrder,
  int,
  list,
  named,
  parseSpec,
  prefix,
  prefixOrDefault,
  spec,
  text,
  u8,
  u32,
  type z,
} from '../../schema.js';
import type { Prefix } from '../codec/address.js';
import { type Attrs, type Body, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, FAMILY_NAMES } from '../constants.js';
import {
  type BuildContext,
  type Command,
  either,
  type Family,
  familyName,
  flagsFor,
  keepMatching,
  NEW_FLAGS,
  type Request,
} from './family.js';
import { ROUTE_PROTOCOLS, ROUTE_SCOPES, ROUTE_TABLES, ROUTE_TYPES, RT_TABLE_MAIN } from './names.js';
import { U32 } from './validate.js';

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
  /** IPv6 router preference. */
  pref?: number;
  expires?: number;
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

/** A nexthop of a multipath route: `{ gateway, oif, hops }` (`via`, `dev` and iproute2's `weight` = hops + 1 too). */
export const NexthopSpec = spec({
  gateway: hostAddress().optional(),
  via: hostAddress().optional(),
  oif: ifRef.optional(),
  dev: ifRef.optional(),
  ifname: ifRef.optional(),
  /** rtnh_hops: the kernel's weight minus one. */
  hops: u8.optional(),
  /** iproute2's spelling: hops + 1. */
  weight: int(1, 256).optional(),
  /** RTNH_F_* bits. */
  flags: u8.optional(),
});
export type NexthopSpec = z.input<typeof NexthopSpec>;

/** RTAX_* metrics: `{ mtu: 1400, advmss: 1360, cc_algo: 'bbr' }` (the names of metricsSchema). */
export const RouteMetrics = spec(
  {
    /** RTAX_LOCK: bit (1 << RTAX_x) set for each metric the kernel must not change. */
    lock: u32.optional(),
    mtu: u32.optional(),
    window: u32.optional(),
    rtt: u32.optional(),
    rttvar: u32.optional(),
    ssthresh: u32.optional(),
    cwnd: u32.optional(),
    advmss: u32.optional(),
    reordering: u32.optional(),
    hoplimit: u32.optional(),
    initcwnd: u32.optional(),
    features: u32.optional(),
    rto_min: u32.optional(),
    initrwnd: u32.optional(),
    quickack: u32.optional(),
    /** Congestion control algorithm name (TCP_CA_NAME_MAX is 16 with its NUL). */
    cc_algo: text(15, 'a congestion control name').optional(),
    fastopen_no_cookie: u32.optional(),
  },
  (key) => `"${key}" is not a route metric (known: ${metricsSchema.names().join(', ')})`,
);

/**
 * Most hops a list may have: 4095 IPv4 hops with a gateway (16 bytes each) fill
 * the 64 KiB of one RTA_MULTIPATH attribute; the exact size is checked once built.
 */
const MAX_HOPS = 4095;
/** What the nexthops of one RTA_MULTIPATH may take, bytes (its length is a u16, header included). */
const MAX_MULTIPATH_BYTES = 0xffff - 4;

/** IPv6 router preference (RTA_PREF): `pref low|medium|high`. */
const PREF = { low: 3, medium: 0, high: 1 } as const;

const routeFields = {
  /** 'inet' or 'inet6'; inferred from the addresses when left out. */
  family: family.optional(),
  /** 'a/len', a bare address (a host route), or 'default'. */
  dst: prefixOrDefault().optional(),
  /** Source prefix (`ip route add ... from`). */
  src: prefix().optional(),
  /** A number (0..2^32-1) or a name: main, local, default. */
  table: ROUTE_TABLES.field(U32).optional(),
  priority: u32.optional(),
  /** iproute2's name of priority. */
  metric: u32.optional(),
  tos: u8.optional(),
  type: ROUTE_TYPES.field().optional(),
  proto: ROUTE_PROTOCOLS.field().optional(),
  scope: ROUTE_SCOPES.field().optional(),
  /** RTM_F_* bits of the header. */
  flags: u32.optional(),
  gateway: hostAddress().optional(),
  /** iproute2's name of gateway. */
  via: hostAddress().optional(),
  /** The output interface, by name or index (`dev` and `ifname` are other names of it). */
  oif: ifRef.optional(),
  dev: ifRef.optional(),
  ifname: ifRef.optional(),
  iif: ifRef.optional(),
  /** Preferred source address (`ip route add ... src`). */
  prefsrc: hostAddress().optional(),
  metrics: RouteMetrics.optional(),
  multipath: list(NexthopSpec, MAX_HOPS, 'a list of nexthops').min(1, 'a non-empty list of nexthops').optional(),
  /** IPv6 router preference: low, medium, high (or 3, 0, 1). */
  pref: named(PREF, 'router preference', 3).optional(),
  expires: u32.optional(),
  /** Routing realm (`realm` is iproute2's name). */
  flow: u32.optional(),
  realm: u32.optional(),
  /** A nexthop object's id (`ip route add ... nhid`). */
  nh_id: int(1, U32).optional(),
};

/** `route add|set|replace|del`: a route as iproute2 writes it. */
export const RouteSpec = spec(routeFields);
export type RouteSpec = z.input<typeof RouteSpec>;

/** `route get`: a FIB lookup, like `ip route get ADDRESS [from A] [oif X] [iif Y] [mark M]`. */
export const RouteQuery = spec({
  family: family.optional(),
  dst: prefix().optional(),
  src: prefix().optional(),
  oif: ifRef.optional(),
  dev: ifRef.optional(),
  ifname: ifRef.optional(),
  iif: ifRef.optional(),
  mark: u32.optional(),
});
export type RouteQuery = z.input<typeof RouteQuery>;

/** `route dump`: table, protocol, type and oif are filtered by the kernel, the rest in record terms. */
export const RouteFilter = spec({
  family: family.optional(),
  table: ROUTE_TABLES.field(U32).optional(),
  proto: ROUTE_PROTOCOLS.field().optional(),
  type: ROUTE_TYPES.field().optional(),
  scope: ROUTE_SCOPES.field().optional(),
  oif: ifRef.optional(),
  dev: ifRef.optional(),
  ifname: ifRef.optional(),
  dst: prefixOrDefault().optional(),
  src: prefix().optional(),
  priority: u32.optional(),
  metric: u32.optional(),
  gateway: hostAddress().optional(),
  via: hostAddress().optional(),
  prefsrc: hostAddress().optional(),
  tos: u8.optional(),
});
export type RouteFilter = z.input<typeof RouteFilter>;

function familyNumber(f: 4 | 6): number {
  return f === 4 ? AF.INET : AF.INET6;
}

/** The one family of every address a spec has (and of `family`): mixtures are refused. */
function sameFamily(f: 4 | 6 | undefined, p: Prefix | 'default' | undefined, field: string, what: string): 4 | 6 | undefined {
  if (p === undefined || p === 'default') return f;
  if (f && p.family !== f) {
    throw new ValidationError(`${field}: ${p.address} is IPv${p.family} but the ${what} is IPv${f}`, field);
  }
  return p.family;
}

export function tableNumber(value: unknown, field = 'table'): number {
  return ROUTE_TABLES.number(value, field, U32);
}

type Nexthop = z.output<typeof NexthopSpec>;

/** The gateway of a route or a nexthop, given as `gateway` or `via`. */
function gatewayOf(s: { gateway?: Prefix; via?: Prefix }): Prefix | undefined {
  return either(s.gateway, s.via, 'gateway', 'via');
}

/** The output interface, given as `oif`, `dev` or `ifname`. */
function oifOf(s: { oif?: string | number; dev?: string | number; ifname?: string | number }): string | number | undefined {
  return either(either(s.oif, s.dev, 'oif', 'dev'), s.ifname, 'oif', 'ifname');
}

async function hopsOf(hops: readonly Nexthop[], ctx: BuildContext): Promise<Body[]> {
  const out: Body[] = [];
  let bytes = 0;
  for (const [i, hop] of hops.entries()) {
    const at = `multipath[${i}]`;
    const attrs: Attrs = {};
    const gw = gatewayOf(hop);
    if (gw) attrs.gateway = gw.bytes;
    const dev = oifOf(hop);
    const ifindex = dev !== undefined ? await ctx.index(dev, `${at}.oif`) : 0;
    let hopsValue = 0;
    if (hop.weight !== undefined) hopsValue = hop.weight - 1;
    if (hop.hops !== undefined) {
      if (hop.weight !== undefined && hop.weight !== hop.hops + 1) {
        throw new ValidationError(`${at}.weight: weight is hops + 1; ${hop.weight} and ${hop.hops} disagree`, `${at}.weight`);
      }
      hopsValue = hop.hops;
    }
    if (gw === undefined && dev === undefined) {
      throw new ValidationError(`${at}: a nexthop needs a gateway or an oif`, at);
    }
    out.push({ header: { len: 0, flags: hop.flags ?? 0, hops: hopsValue, ifindex }, attrs });
    bytes += 8 + (gw ? 4 + gw.bytes.length : 0);
  }
  if (bytes > MAX_MULTIPATH_BYTES) {
    throw new ValidationError(
      `multipath: ${hops.length} nexthops take ${bytes} bytes, more than one attribute holds (65531)`,
      'multipath',
    );
  }
  return out;
}

async function build(cmd: Command, input: unknown, ctx: BuildContext): Promise<Request> {
  if (cmd === 'dump') return buildDump(parseSpec(RouteFilter, input, 'route dump'), ctx);
  if (cmd === 'get') return buildGet(parseSpec(RouteQuery, input, 'route get'), ctx);
  const s = parseSpec(RouteSpec, input, `route ${cmd}`);
  const gw = gatewayOf(s);
  let fam = sameFamily(s.family, s.dst, 'dst', 'route');
  fam = sameFamily(fam, s.src, 'src', 'route');
  fam = sameFamily(fam, gw, 'gateway', 'route');
  fam = sameFamily(fam, s.prefsrc, 'prefsrc', 'route');
  s.multipath?.forEach((hop, i) => {
    fam = sameFamily(fam, gatewayOf(hop), `multipath[${i}].gateway`, 'route');
  });
  if (!fam) {
    throw new ValidationError(`route ${cmd}: cannot tell IPv4 from IPv6; give dst as a prefix or set family`, 'family');
  }
  if (s.dst === undefined) throw new ValidationError(`route ${cmd}: 'dst' is required ('default' or a prefix)`, 'dst');
  const header = rtmsgHeader(fam);
  const attrs: Attrs = {};
  if (s.dst !== 'default') {
    header.dst_len = s.dst.length;
    if (s.dst.length > 0) attrs.dst = s.dst.bytes;
  }
  if (s.src) {
    header.src_len = s.src.length;
    attrs.src = s.src.bytes;
  }
  // iproute2's defaults: `ip route add` is proto boot, scope universe, type unicast;
  // `ip route del` leaves them open (scope nowhere) so any match goes.
  const isDel = cmd === 'del';
  const table = s.table ?? RT_TABLE_MAIN;
  header.table = table < 256 ? table : 0;
  header.proto = isDel ? 0 : 3;
  header.scope = isDel ? 255 : 0;
  header.type = isDel ? 0 : 1;
  if (s.tos !== undefined) header.tos = s.tos;
  if (s.type !== undefined) header.type = s.type;
  if (s.proto !== undefined) header.proto = s.proto;
  if (s.flags !== undefined) header.flags = s.flags;
  if (gw) attrs.gateway = gw.bytes;
  if (table >= 256) attrs.table = table;
  const priority = either(s.priority, s.metric, 'priority', 'metric');
  if (priority !== undefined) attrs.priority = priority;
  if (s.prefsrc) attrs.prefsrc = s.prefsrc.bytes;
  if (s.pref !== undefined) {
    if (fam !== 6) throw new ValidationError('pref: router preference is IPv6 only', 'pref');
    attrs.pref = s.pref;
  }
  if (s.expires !== undefined) attrs.expires = s.expires;
  const flow = either(s.flow, s.realm, 'flow', 'realm');
  if (flow) attrs.flow = flow;
  if (s.nh_id !== undefined) attrs.nh_id = s.nh_id;
  const dev = oifOf(s);
  if (dev !== undefined) attrs.oif = await ctx.index(dev, 'oif');
  if (s.iif !== undefined) attrs.iif = await ctx.index(s.iif, 'iif');
  if (s.metrics !== undefined) attrs.metrics = inInputOrder((input as Record<string, unknown>).metrics, s.metrics);
  if (s.multipath !== undefined) {
    if (gw !== undefined) throw new ValidationError('gateway: give either gateway or multipath, not both', 'gateway');
    attrs.multipath = await hopsOf(s.multipath, ctx);
  }
  if (s.scope !== undefined) header.scope = s.scope;
  else if (!isDel) {
    const type = header.type as number;
    if (type === 2 || type === 10)
      header.scope = 254; // local, nat: host
    else if (type === 3 || type === 4 || type === 5)
      header.scope = 253; // broadcast, anycast, multicast: link
    else if ((type === 1 || type === 0) && gw === undefined && s.multipath === undefined && s.nh_id === undefined) {
      header.scope = 253; // a directly connected unicast route
    }
  }
  return { type: isDel ? RTM_DELROUTE : RTM_NEWROUTE, flags: flagsFor(cmd), body: { header, attrs } };
}

/** An rtmsg of this family with every other field zero: requests fill in what they set. */
function rtmsgHeader(fam: Parameters<typeof familyNumber>[0]): Record<string, number> {
  return { family: familyNumber(fam), dst_len: 0, src_len: 0, tos: 0, table: 0, proto: 0, scope: 0, type: 0, flags: 0 };
}

/** `ip route get`: a FIB lookup; answers with the route a packet would take. */
async function buildGet(s: z.output<typeof RouteQuery>, ctx: BuildContext): Promise<Request> {
  const fam = sameFamily(sameFamily(s.family, s.dst, 'dst', 'lookup'), s.src, 'src', 'lookup');
  if (!fam) throw new ValidationError('route get: cannot tell IPv4 from IPv6; give dst or set family', 'family');
  const header = rtmsgHeader(fam);
  const attrs: Attrs = {};
  if (s.dst) {
    header.dst_len = s.dst.length;
    if (s.dst.length > 0) attrs.dst = s.dst.bytes;
  }
  if (s.src) {
    header.src_len = s.src.length;
    attrs.src = s.src.bytes;
  }
  const dev = oifOf(s);
  if (dev !== undefined) attrs.oif = await ctx.index(dev, 'oif');
  if (s.iif !== undefined) attrs.iif = await ctx.index(s.iif, 'iif');
  if (s.mark !== undefined) attrs.mark = s.mark;
  return { type: RTM_GETROUTE, flags: NEW_FLAGS.get, body: { header, attrs } };
}

async function buildDump(s: z.output<typeof RouteFilter>, ctx: BuildContext): Promise<Request> {
  const gw = gatewayOf(s);
  let fam = sameFamily(s.family, s.dst, 'dst', 'filter');
  fam = sameFamily(fam, s.src, 'src', 'filter');
  fam = sameFamily(fam, gw, 'gateway', 'filter');
  fam = sameFamily(fam, s.prefsrc, 'prefsrc', 'filter');
  const header: Record<string, number> = {
    family: fam ? familyNumber(fam) : AF.UNSPEC,
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
  // Kernel-side filters under strict checking: table, protocol, type, oif.
  if (s.table !== undefined) {
    header.table = s.table < 256 ? s.table : 0;
    attrs.table = s.table;
  }
  if (s.proto !== undefined) header.proto = s.proto;
  if (s.type !== undefined) header.type = s.type;
  const dev = oifOf(s);
  const oif = dev !== undefined ? await ctx.index(dev, 'oif') : undefined;
  if (oif !== undefined) attrs.oif = oif;
  const keep = keepMatching({
    family: fam ? familyName(fam) : undefined,
    table: s.table,
    proto: s.proto !== undefined ? ROUTE_PROTOCOLS.name(s.proto) : undefined,
    type: s.type !== undefined ? ROUTE_TYPES.name(s.type) : undefined,
    scope: s.scope !== undefined ? ROUTE_SCOPES.name(s.scope) : undefined,
    oif,
    dst: s.dst === undefined ? undefined : dstText(s.dst),
    src: s.src ? `${s.src.address}/${s.src.length}` : undefined,
    priority: either(s.priority, s.metric, 'priority', 'metric'),
    gateway: gw?.address,
    prefsrc: s.prefsrc?.address,
    tos: s.tos,
  });
  return { type: RTM_GETROUTE, flags: NEW_FLAGS.dump, body: { header, attrs }, strict: true, keep };
}

/** A dst as records write it: 'a/len', or 'default' for a zero-length prefix. */
function dstText(p: Prefix | 'default'): string {
  return p === 'default' || p.length === 0 ? 'default' : `${p.address}/${p.length}`;
}

export const route: Family<RouteRecord> = {
  name: 'route',
  types: { new: RTM_NEWROUTE, del: RTM_DELROUTE, get: RTM_GETROUTE },
  body: routeBody,
  build,
  toRecord: routeToRecord,
};
