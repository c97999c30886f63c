/**
 * What the staging calls take, declared once with zod: each declaration is
 * the TypeScript type of the argument (`CreateSpec`, `RouteSpec`, ...) and
 * the check run on it, so `set({ mut: 1400 })` fails at compile time and,
 * from JavaScript or JSON, with a ValidationError naming the field before
 * anything is staged. Parsing also normalises: numbers the kernel names come
 * back as its names (`action: 6` is 'blackhole'), prefixes in the form the
 * kernel reports them, so what is staged compares equal to what the store
 * will show.
 */

import { parseIp, parsePrefix } from '../backends/netlink/codec/address.js';
import { LINK_KINDS } from '../backends/netlink/families/link-kinds.js';
import {
  ADDR_GEN_MODES,
  type NameTable,
  NEIGH_STATES,
  ROUTE_PROTOCOLS,
  ROUTE_SCOPES,
  ROUTE_TYPES,
  RULE_ACTIONS,
} from '../backends/netlink/families/names.js';
import { metricsSchema, tableNumber } from '../backends/netlink/families/route.js';
import { validateNetnsName } from '../backends/netns.js';
import { ifname, int, ipAddress, linkState, mac, prefix, shown, spec, u8, u16, u32, z } from '../backends/schema.js';
import type { NetStateError } from '../errors.js';

/** A followed namespace's name (the root namespace is 'localhost'). */
export const netns = z.string({ error: (i) => `a namespace name is a string, not ${shown(i.input)}` }).superRefine((v, ctx) => {
  try {
    validateNetnsName(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as NetStateError).message });
  }
});

/** A name or number from one of the kernel's small tables, as the store's records show it (the name). */
function named(table: NameTable, max = 255) {
  return z
    .union([z.string(), z.number()], { error: (i) => `expected a ${table.what} name or number, got ${shown(i.input)}` })
    .transform((v, ctx) => {
      try {
        return table.name(table.number(v, table.what, max));
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^[^:]*: /, '') });
        return z.NEVER;
      }
    });
}

/** A routing table: name ('main', 'local') or number (1..2^32-1). */
const table = z
  .union([z.string(), z.number()], { error: (i) => `expected a table name or number, got ${shown(i.input)}` })
  .transform((v, ctx) => {
    try {
      return tableNumber(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^[^:]*: /, '') });
      return z.NEVER;
    }
  });

/** true/false or 1/0, as the record shows it (1/0). */
const flag = z
  .union([z.boolean(), z.literal(0), z.literal(1)], { error: (i) => `expected true or false, got ${shown(i.input)}` })
  .transform((v) => (v === true || v === 1 ? 1 : 0));

/**
 * Bridge port options, as pyroute2's IPDB names them (`brport_cost`), with
 * the IFLA_BRPORT_* option each sets (`ip link set P type bridge_slave ...`).
 */
export const BRPORT_OPTIONS = {
  cost: u32,
  priority: u16,
  mode: flag, // hairpin
  guard: flag, // bpdu_guard
  protect: flag, // root_block
  fast_leave: flag,
  learning: flag,
  unicast_flood: flag,
  proxyarp: flag,
  proxyarp_wifi: flag,
  multicast_router: int(0, 3),
  mcast_flood: flag,
  mcast_to_ucast: flag,
  bcast_flood: flag,
  group_fwd_mask: u16,
  neigh_suppress: flag,
  isolated: flag,
  locked: flag,
  vlan_tunnel: flag,
} as const;
export type BrportOption = keyof typeof BRPORT_OPTIONS;
export const BRPORT_NAMES = Object.keys(BRPORT_OPTIONS) as BrportOption[];

const brportFields = Object.fromEntries(BRPORT_NAMES.map((k) => [`brport_${k}`, BRPORT_OPTIONS[k].optional()])) as {
  [K in BrportOption as `brport_${K}`]: z.ZodOptional<(typeof BRPORT_OPTIONS)[K]>;
};

/** Where a value stops being data a netlink attribute (and a review) can hold, or undefined: a function, a cycle... */
function notData(
  value: unknown,
  path: (string | number)[],
  seen: Set<unknown>,
): { path: (string | number)[]; why: string } | undefined {
  if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint')
    return { path, why: `a ${typeof value} is not an option value` };
  if (typeof value === 'number' && !Number.isFinite(value)) return { path, why: `${value} is not an option value` };
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined;
  if (seen.has(value)) return { path, why: 'a circular value is not an option value' };
  seen.add(value);
  for (const [k, v] of Object.entries(value)) {
    const wrong = notData(v, [...path, k], seen);
    if (wrong) return wrong;
  }
  seen.delete(value);
  return undefined;
}

/** Kind options (IFLA_INFO_DATA) by name: numbers, strings, booleans, addresses, buffers; nothing a review cannot show. */
const kindData = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  const wrong = notData(v, [], new Set());
  if (wrong) ctx.addIssue({ code: 'custom', path: wrong.path, message: wrong.why });
});

/** What `handle.set()` changes on an interface (and what `create()` may set at once). */
const interfaceChanges = {
  state: linkState.optional(),
  mtu: int(68, 0x7fffffff).optional(),
  address: mac.optional(),
  master: z.union([ifname, z.null()]).optional(),
  ifalias: z.string().max(255).optional(),
  alias: z.string().max(255).optional(),
  txqlen: u32.optional(),
  ifname: ifname.optional(),
  data: kindData.optional(),
  addr_gen_mode: named(ADDR_GEN_MODES).optional(),
  netns: netns.optional(),
  ...brportFields,
};

export const InterfaceChanges = spec(interfaceChanges);
export type InterfaceChanges = z.input<typeof InterfaceChanges>;

/** The peer of a new veth: its name, or its name with where it goes and what it starts with. */
const peerSpec = z.union([
  ifname,
  spec({
    ifname,
    netns: netns.optional(),
    index: int(1, 0x7fffffff).optional(),
    mtu: int(68, 0x7fffffff).optional(),
    address: mac.optional(),
    ifalias: z.string().max(255).optional(),
    txqlen: u32.optional(),
  }),
]);

/** Kinds a transaction creates (the kernel may still lack some: it says so at commit). */
export const CREATABLE_KINDS = [...LINK_KINDS, 'tuntap'] as const;

export const CreateSpec = spec({
  kind: z.enum(CREATABLE_KINDS as unknown as [string, ...string[]], {
    error: (i) => `expected one of ${CREATABLE_KINDS.join(', ')}, got ${shown(i.input)}`,
  }),
  ...interfaceChanges,
  ifname,
  index: int(1, 0x7fffffff).optional(),
  /** The link a macvlan, vlan or vxlan sits on. */
  link: ifname.optional(),
  peer: peerSpec.optional(),
  /** tun/tap (kind 'tuntap'): the device's mode and options, as `ip tuntap add` (pyroute2: uid, gid). */
  mode: z.enum(['tun', 'tap']).optional(),
  owner: u32.optional(),
  group: u32.optional(),
  uid: u32.optional(),
  gid: u32.optional(),
  /** IPDB's reuse: an interface of that name and kind that exists is taken as it is, and changed as the spec says. */
  reuse: z.boolean().optional(),
  multi_queue: z.boolean().optional(),
  pi: z.boolean().optional(),
  vnet_hdr: z.boolean().optional(),
});
export type CreateSpec = z.input<typeof CreateSpec>;

const ADDRESS_FLAG_NAMES = ['nodad', 'noprefixroute', 'homeaddress', 'managetempaddr', 'mcautojoin', 'optimistic'] as const;

/**
 * An address with its prefix length: '10.0.0.1/24', a mask as IPDB takes it
 * ('10.0.0.1/255.255.255.0', '2001:db8::1/ffff:ffff:ffff:ffff::'), or
 * `{ address, prefixlen }` (or `mask`). Parsed to 'a/len'.
 */
export const cidr = z
  .union([z.string(), spec({ address: ipAddress(), prefixlen: int(0, 128).optional(), mask: ipAddress().optional() })], {
    error: (i) => `expected an address like 10.0.0.1/24 or { address, prefixlen }, got ${shown(i.input)}`,
  })
  .transform((v, ctx) => {
    if (typeof v !== 'string' && v.prefixlen !== undefined && v.mask !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['mask'], message: 'give the prefix length or the mask, not both' });
      return z.NEVER;
    }
    const text = typeof v === 'string' ? v : `${v.address}/${v.prefixlen ?? v.mask ?? ''}`.replace(/\/$/, '');
    const parsed = cidrText(text);
    if (!parsed) ctx.addIssue({ code: 'custom', message: `${shown(v)} is not an address with a prefix length or mask` });
    return parsed as string;
  });

/** 'a/len' or 'a/mask' (a contiguous mask) as 'a/len' in the kernel's spelling; undefined when neither. */
function cidrText(text: string): string | undefined {
  const slash = text.indexOf('/');
  const tail = slash < 0 ? '' : text.slice(slash + 1);
  if (tail.includes('.') || (tail.includes(':') && slash >= 0)) {
    const mask = parseIp(tail);
    const addr = parseIp(text.slice(0, slash));
    if (!mask || !addr || mask.length !== addr.length) return undefined;
    let len = 0;
    for (const byte of mask) for (let b = 7; b >= 0; b--) if (byte & (1 << b)) len++;
    const contiguous = [...mask].every((byte, i) => byte === maskByte(len - i * 8));
    if (!contiguous) return undefined;
    return cidrText(`${text.slice(0, slash)}/${len}`);
  }
  const p = parsePrefix(text);
  return p ? `${p.address}/${p.length}` : undefined;
}

function maskByte(bits: number): number {
  if (bits >= 8) return 0xff;
  if (bits <= 0) return 0;
  return (0xff << (8 - bits)) & 0xff;
}

/** What `addIp(cidr, options)` may give an address besides its prefix (`ip addr add ... label ... nodad`). */
export const AddressOptions = spec({
  /** The prefix length, for an address given bare (IPDB's add_ip(address, mask)). */
  prefixlen: int(0, 128).optional(),
  mask: ipAddress().optional(),
  broadcast: ipAddress(4).optional(),
  scope: named(ROUTE_SCOPES).optional(),
  label: z.string().min(1).max(15).optional(),
  flags: z.array(z.enum(ADDRESS_FLAG_NAMES)).optional(),
  valid_lft: z.union([u32, z.literal('forever')]).optional(),
  preferred_lft: z.union([u32, z.literal('forever')]).optional(),
  metric: u32.optional(),
});
export type AddressOptions = z.input<typeof AddressOptions>;

/** Which addresses `delIp(filter)` removes: every one matching all the fields given, or 'all'. */
export const AddressFilter = z.union([
  z.literal('all'),
  spec({
    address: ipAddress().optional(),
    family: z.enum(['inet', 'inet6']).optional(),
    scope: named(ROUTE_SCOPES).optional(),
    label: z.string().optional(),
    prefixlen: int(0, 128).optional(),
    all: z.literal(true).optional(),
  }).superRefine((f, ctx) => {
    if (Object.keys(f).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['filter'],
        message: "name at least one field (address, family, scope, label, prefixlen), or 'all'",
      });
    }
    // One address (with its length), or the fields that filter several: not both.
    const many = (['family', 'scope', 'label', 'all'] as const).find((k) => f[k] !== undefined);
    if (f.address !== undefined && many) {
      ctx.addIssue({
        code: 'custom',
        path: [many],
        message: `${many} filters several addresses; address names one: give one or the other`,
      });
    }
  }),
]);
export type AddressFilter = z.input<typeof AddressFilter>;

const nexthop = spec({
  gateway: ipAddress().optional(),
  via: ipAddress().optional(),
  dev: ifname.optional(),
  oif: ifname.optional(),
  ifname: ifname.optional(),
  hops: u8.optional(),
  weight: int(1, 256).optional(),
  onlink: z.boolean().optional(),
});
export const NexthopSpec = nexthop;
export type NexthopSpec = z.input<typeof NexthopSpec>;

/** RTAX_* by name, as `ip route add ... mtu 1400 advmss 1360`: numbers, but for the congestion control algorithm. */
const metrics = spec(
  Object.fromEntries(metricsSchema.names().map((name) => [name, (name === 'cc_algo' ? z.string() : u32).optional()])),
) as unknown as z.ZodType<Record<string, number | string>>;

const routeFields = {
  dst: z.string({ error: (i) => `a route needs a destination (a/len or default), got ${shown(i.input)}` }),
  family: z
    .union([z.enum(['inet', 'inet6']), z.literal(4), z.literal(6)], {
      error: (i) => `expected inet, inet6, 4 or 6, got ${shown(i.input)}`,
    })
    .optional(),
  table: table.optional(),
  priority: u32.optional(),
  metric: u32.optional(),
  tos: u8.optional(),
  type: named(ROUTE_TYPES).optional(),
  scope: named(ROUTE_SCOPES).optional(),
  proto: named(ROUTE_PROTOCOLS).optional(),
  gateway: ipAddress().optional(),
  via: ipAddress().optional(),
  dev: ifname.optional(),
  oif: ifname.optional(),
  ifname: ifname.optional(),
  prefsrc: ipAddress().optional(),
  metrics: metrics.optional(),
  multipath: z.array(nexthop).optional(),
  onlink: z.boolean().optional(),
  /** RTNH_F_* as pyroute2 takes them: 4, 'onlink' or ['onlink'] (onlink is the only one a route can be given). */
  flags: z
    .union([z.literal(0), z.literal(4), z.literal('onlink'), z.array(z.literal('onlink'))], {
      error: (i) => `the only flag a route takes is onlink (4), got ${shown(i.input)}`,
    })
    .optional(),
  netns: netns.optional(),
};

export const RouteSpec = spec(routeFields);
export type RouteSpec = z.input<typeof RouteSpec>;

/** What `route(spec)` names: a route's identity (dst, table, family, priority). */
export const RouteSelector = spec({
  dst: routeFields.dst,
  /** The destination's length, when `dst` is a bare address (pyroute2's dst_len). */
  dst_len: int(0, 128).optional(),
  family: routeFields.family,
  table: routeFields.table,
  priority: routeFields.priority,
  metric: routeFields.metric,
  tos: routeFields.tos,
  netns: routeFields.netns,
});
export type RouteSelector = z.input<typeof RouteSelector>;

/** What `routeHandle.set()` changes (priority and table move the route: removed and added again). */
export const RouteChanges = spec({
  ...routeFields,
  dst: routeFields.dst.optional(),
});
export type RouteChanges = z.input<typeof RouteChanges>;

const portRange = z.union([u16, z.string().regex(/^\d+(-\d+)?$/), z.tuple([u16, u16]), spec({ start: u16, end: u16 })]);

const ruleFields = {
  family: z.enum(['inet', 'inet6']).optional(),
  priority: u32.optional(),
  pref: u32.optional(),
  table: table.optional(),
  action: named(RULE_ACTIONS).optional(),
  src: prefix().optional(),
  dst: prefix().optional(),
  iifname: ifname.optional(),
  iif: ifname.optional(),
  oifname: ifname.optional(),
  oif: ifname.optional(),
  fwmark: u32.optional(),
  fwmask: u32.optional(),
  tos: u8.optional(),
  goto: u32.optional(),
  invert: z.boolean().optional(),
  suppress_prefixlen: int(0, 128).optional(),
  suppress_ifgroup: u32.optional(),
  ip_proto: z.union([u8, z.enum(['icmp', 'tcp', 'udp', 'icmpv6', 'sctp'])]).optional(),
  sport_range: portRange.optional(),
  dport_range: portRange.optional(),
  l3mdev: z.union([z.boolean(), z.literal(0), z.literal(1)]).optional(),
  uid_range: z.union([u32, z.string().regex(/^\d+(-\d+)?$/), z.tuple([u32, u32]), spec({ start: u32, end: u32 })]).optional(),
  flow: u32.optional(),
  proto: named(ROUTE_PROTOCOLS).optional(),
  netns: netns.optional(),
};

export const RuleSpec = spec(ruleFields);
export type RuleSpec = z.input<typeof RuleSpec>;

export const NeighbourSpec = spec({
  dst: ipAddress(),
  ifname: ifname.optional(),
  dev: ifname.optional(),
  lladdr: mac.optional(),
  state: named(NEIGH_STATES).optional(),
  proxy: z.boolean().optional(),
  router: z.boolean().optional(),
  netns: netns.optional(),
});
export type NeighbourSpec = z.input<typeof NeighbourSpec>;

export const NeighbourSelector = spec({
  dst: ipAddress(),
  ifname: ifname.optional(),
  dev: ifname.optional(),
  netns: netns.optional(),
});
export type NeighbourSelector = z.input<typeof NeighbourSelector>;

export const ReachableOptions = spec({
  netns: netns.optional(),
  timeout: int(1, 600_000).optional(),
});

export const HandleOptions = spec({ netns: netns.optional() });

const callable = z.custom<() => Promise<unknown>>((v) => typeof v === 'function', {
  error: (i) => `expected a function, got ${shown(i.input)}`,
});

export const CommitOptionsSpec = spec({
  timeout: int(1, 3_600_000).optional(),
  /** Functions, or `{ name, fn }` (a failed check is named in the error). */
  checks: z.array(z.union([callable, spec({ name: z.string(), fn: callable })])).optional(),
  /** Commit-confirmed: ms until the commit is rolled back unless confirmed (up to a day). */
  confirm: int(1, 86_400_000).optional(),
  /** Told after each phase: steps done, steps in all, what the last one did. */
  progress: z
    .custom<(done: number, total: number, what: string) => void>((v) => typeof v === 'function', {
      error: (i) => `expected a function, got ${shown(i.input)}`,
    })
    .optional(),
});
