/**
 * Random input for fuzzing public calls. Values come from pools per kind of
 * field: valid ones, subtly flawed ones ('10.0.0.01', '10.0.0.0/33', a
 * 16-byte interface name, a 5-byte MAC) and junk of every JavaScript type
 * (NaN, -0, 1e30, BigInt, symbols, functions, circular objects, arrays
 * where objects belong). Objects are built from a spec's real field names
 * (read from its zod shape, so a new field is fuzzed too) plus unknown keys
 * and typos.
 *
 * Each input carries a verdict: 'bad' when the spec must refuse it, with the
 * fields to blame; 'ok' when every part is valid on its own (the call may
 * still refuse it for what it means: an interface that does not exist);
 * 'maybe' when this file does not know.
 */
import { inspect } from 'node:util';
import type { Random } from './random.js';

export type Verdict = 'ok' | 'bad' | 'maybe';

/** A generated input: the value, whether it must be refused, and the fields that make it bad. */
export interface Input {
  value: unknown;
  verdict: Verdict;
  /** Dotted paths of the parts that are certainly bad ('mtu', 'peer.ifname', 'multipath.0.gateway'); '' is the whole. */
  bad: string[];
  /** Paths of the parts this file cannot judge: an error may name them as well. */
  maybe?: string[];
  /** What a report shows instead of the value (a changed dump is long). */
  label?: string;
  /** For a positional argument: the field an error about it names ('ifname' for tx.interface(name)). */
  path?: string;
}

/** A pool entry made anew each time it is drawn (objects the callee might keep, symbols, circular objects). */
class Fresh {
  constructor(readonly make: () => unknown) {}
}
const fresh = (make: () => unknown) => new Fresh(make);

interface Pool {
  ok: readonly unknown[];
  bad?: readonly unknown[];
  maybe?: readonly unknown[];
}

/**
 * How a field takes junk: a 'scalar' refuses every object and array; an
 * 'array' or 'object' field may take some; a 'record' (kind options) takes
 * anything inside.
 */
type Shape = 'scalar' | 'array' | 'object' | 'record' | 'function';

/** One field: its pool (or a generator for nested specs) and its shape. */
interface Field {
  pool: Pool | ((f: Fuzz) => Input);
  shape?: Shape;
  /** null is a valid value (master: null leaves the bridge). */
  nullable?: boolean;
}

function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { ifname: 'v0' };
  o.self = o;
  return o;
}

function ownProto(): Record<string, unknown> {
  const o = JSON.parse('{"__proto__": {"mtu": 1}}') as Record<string, unknown>;
  return o;
}

/** Junk: values no typed field takes (except as noted in junkVerdict). */
export const JUNK: readonly unknown[] = [
  undefined,
  null,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  1e30,
  -1,
  0,
  2 ** 53,
  1.5,
  fresh(() => 7n),
  fresh(() => Symbol('fuzz')),
  fresh(() => () => 'v0'),
  fresh(circular),
  true,
  false,
  '',
  ' ',
  'default',
  'all',
  '\u0000',
  'x'.repeat(5000),
  fresh(() => []),
  fresh(() => [1]),
  fresh(() => [null]),
  fresh(() => ({})),
  fresh(() => ({ nested: { deeper: undefined } })),
  fresh(() => new Date(0)),
  fresh(() => new Map([['a', 1]])),
  fresh(() => Buffer.from('v0')),
  fresh(() => Object.create(null)),
  fresh(() => new String('v0')),
  fresh(() => ({ toString: () => 'v0', valueOf: () => 1400 })),
  fresh(ownProto),
];

/** Keys no spec has, typos of keys specs have, and keys that are real fields of other specs. */
const UNKNOWN_KEYS = [
  'mut',
  'ifnmae',
  'gatway',
  'priorty',
  'dest',
  'tabel',
  'metrik',
  'Ifname',
  'MTU',
  'ifname ',
  ' ifname',
  '',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'ipaddr',
  'index',
  'gateway',
  'kind',
  'peer',
  'dst',
  'lladdr',
  'table',
  'priority',
  'netns',
  'prefixlen',
  'state',
];

// ---- pools

const ints = (min: number, max: number): Pool => ({
  ok: [min, max, Math.floor((min + max) / 2), ...(min === 0 ? [-0] : []), min + 1],
  bad: [min - 1, max + 1, min + 0.5, Number.NaN, Number.POSITIVE_INFINITY, 1e30, String(min), fresh(() => BigInt(min)), true],
});
const U8 = ints(0, 0xff);
const U16 = ints(0, 0xffff);
const U32 = ints(0, 0xffffffff);
const BOOL: Pool = { ok: [true, false], bad: [1, 0, 'true', 'yes'] };
const FLAG: Pool = { ok: [true, false, 0, 1], bad: [2, -1, 'true', 'on'] };

const IFNAME: Pool = {
  ok: ['v0', 'v1', 'lo', 'x0', 'x1', 'br0', 'h0', 'mv0', 'a'.repeat(15), 'ü'.repeat(7), 'eth-9.1'],
  bad: ['', 'v0 ', ' v0', 'v/0', 'v:0', '.', '..', 'a'.repeat(16), 'ü'.repeat(8), 'v\n0', 'v\t0', 'x\u0000y', 5],
  maybe: ['V0', 'default', 'all', 'any', 'none'],
};
const IP: Pool = {
  ok: [
    '10.0.0.2',
    '10.0.0.3',
    '10.0.0.1',
    '10.0.0.9',
    '2001:db8::2',
    '2001:DB8::0002',
    'fe80::1',
    '0.0.0.0',
    '::',
    '::ffff:10.0.0.2',
  ],
  bad: [
    '10.0.0.01',
    '010.0.0.1',
    '10.0.0.256',
    '10.0.0',
    '1.2.3.4.5',
    '2001:db8:::1',
    '10.0.0.2/24',
    ' 10.0.0.2',
    '10.0.0.2 ',
    '',
    'default',
    'localhost',
    '2001:db8::1::2',
    '1.2.3.-4',
    '0x0a.0.0.1',
    'fe80::1%v0',
    '10.0.0.2%v0',
  ],
};
const MASK: Pool = {
  ok: ['255.255.255.0', '255.255.0.0', '255.255.255.255', 'ffff:ffff:ffff:ffff::', '0.0.0.0'],
  bad: ['255.0.255.0', '10.0.0.9', '255.255.255.256', '', '/24', 'ffff::ffff'],
};
const IP4: Pool = { ok: ['10.0.0.255', '10.0.0.2', '0.0.0.0', '255.255.255.255'], bad: ['2001:db8::ff', '10.0.0.01', ''] };
const CIDR: Pool = {
  ok: [
    '10.0.5.1/24',
    '10.0.0.5/24',
    '10.0.0.1/24',
    '2001:db8::5/64',
    '2001:db8::1/64',
    '10.0.0.1/32',
    '10.0.0.6',
    '10.0.0.7/255.255.255.0',
    '2001:db8::9/ffff:ffff:ffff:ffff::',
    '10.1.1.1/0',
    '2001:DB8::0005/64',
  ],
  bad: [
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.1/255.0.255.0',
    '10.0.0.1/-1',
    '10.0.0.1/',
    '/24',
    '10.0.0.256/24',
    '10.0.0.1/24/1',
    '10.0.0.1/ 24',
    '10.0.0.1 /24',
    '10.0.0.01/24',
    '10.0.0.1/0x18',
    '',
    'default',
    '10.0.0.1/2001:db8::',
  ],
  maybe: ['10.0.0.1/024', '10.0.0.1/+24', 'fe80::9/64'],
};
const PREFIX: Pool = {
  ok: ['10.1.0.0/16', '10.0.0.0/8', '2001:db8::/32', '10.1.0.1', '0.0.0.0/0', '::/0', '10.1.0.1/16', '192.0.2.0/24'],
  bad: ['10.0.0.0/33', '2001:db8::/129', '10.1.0.0/', '10.1.0.0/-1', 'x', '', ' 10.1.0.0/16', '10.0.0.01/8', '10.1.0.0/16/2'],
  maybe: ['default', 'all'],
};
const ROUTE_DST: Pool = {
  ok: [
    '10.7.0.0/16',
    '10.6.0.0/24',
    'default',
    '0.0.0.0/0',
    '2001:db8:7::/48',
    '::/0',
    '10.7.0.1',
    '10.9.0.0/16',
    '2001:db8:9::/48',
  ],
  bad: [
    '10.0.0.0/33',
    '2001:db8::/129',
    '',
    'defualt',
    'Default',
    '10.7.0.0/16 ',
    '10.7.0.0/-1',
    '/16',
    '10.7.0.0/16/1',
    '10.07.0.0/16',
  ],
  maybe: ['10.7.0.1/16', 'any', 'all'],
};
const MAC: Pool = {
  ok: ['02:00:00:00:00:09', '02:ab:CD:00:00:01', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '2:0:0:0:0:9'],
  bad: [
    '02:00:00:00:00',
    '02:00:00:00:00:00:00',
    '02-00-00-00-00-09',
    '',
    '02:00:00:00:00:0g',
    '020000000009',
    '02:00:00:00:00:09 ',
    'v0',
    '02:00:00:00:00:009',
    '0200.0000.0009',
  ],
};
const named = (names: readonly (string | number)[], bad: readonly unknown[]): Pool => ({
  ok: names,
  bad: [...bad, 'bogus', '', 256, -1, 1.5],
});
const SCOPE = named(['universe', 'global', 'site', 'link', 'host', 'nowhere', 0, 200, 253, 254, 255, '253'], ['LINK']);
const ROUTE_TYPE = named(['unicast', 'local', 'blackhole', 'unreachable', 'prohibit', 'throw', 1, 6], ['Blackhole']);
const PROTO = named(['static', 'boot', 'kernel', 'redirect', 4, 99], ['Static']);
const NEIGH_STATE = named(['permanent', 'noarp', 'reachable', 'stale', 0x80, 0x40], ['PERMANENT']);
const ADDR_GEN = { ...named(['eui64', 'none', 'stable_secret', 'random', 0, 1, 2, 3], ['EUI64']), maybe: [4, 255] };
const RULE_ACTION = named(['to_tbl', 'goto', 'nop', 'blackhole', 'unreachable', 'prohibit', 1, 6], ['lookup']);
const TABLE: Pool = {
  ok: ['main', 'local', 'default', 100, 254, 255, 256, 1, 0xffffffff, '100'],
  bad: ['nope', 2 ** 32, -1, 1.5, Number.NaN, '', 'Main', '0x64'],
  maybe: [0, 'unspec', 'all', 'compat'],
};
const ROUTE_FAMILY: Pool = { ok: ['inet', 'inet6', 4, 6], bad: ['ipv4', 2, 10, '', 'INET', 'inet4'] };
const FAMILY: Pool = { ok: ['inet', 'inet6'], bad: [4, 6, 'ipv6', 'INET', ''] };
const KIND: Pool = {
  ok: ['veth', 'bridge', 'macvlan', 'vxlan', 'dummy', 'tuntap', 'bond', 'vlan', 'ifb', 'tun'],
  bad: ['wormhole', 'Veth', '', 'ethernet', 'veth '],
};
const LINK_STATE: Pool = { ok: ['up', 'down'], bad: ['UP', 'dormant', 'unknown', 1] };
const LABEL: Pool = { ok: ['v0:1', 'v0', 'v0:a', 'v1:x'], bad: ['', 'x'.repeat(16)], maybe: ['x0', 'v0 1'] };
const LFT: Pool = { ok: ['forever', 0, 100, 0xffffffff], bad: ['never', -1, 2 ** 32, 'Forever'] };
const ALIAS: Pool = { ok: ['uplink', '', 'x'.repeat(255), 'ünï côdé'], bad: ['x'.repeat(256), 1] };
const ADDRESS_FLAGS: Pool = {
  ok: [fresh(() => ['nodad']), fresh(() => ['nodad', 'noprefixroute']), fresh(() => [])],
  bad: ['nodad', fresh(() => ['bogus']), fresh(() => [1]), fresh(() => ['NODAD'])],
  maybe: [fresh(() => ['nodad', 'nodad'])],
};
const ROUTE_FLAGS: Pool = {
  ok: [0, 4, 'onlink', fresh(() => ['onlink']), fresh(() => [])],
  bad: [1, 'nodad', fresh(() => ['x']), fresh(() => ['onlink', 'dead'])],
};
const METRICS: Pool = {
  ok: [fresh(() => ({ mtu: 1400 })), fresh(() => ({ window: 65535, rtt: 10 })), fresh(() => ({}))],
  bad: [fresh(() => ({ mtu: -1 })), fresh(() => ({ mtu: 1.5 })), fresh(() => ({ mtu: 1n })), fresh(() => [1]), 'mtu'],
  maybe: [fresh(() => ({ mut: 1400 })), fresh(() => ({ mtu: '1400' })), fresh(() => ({ cc_algo: 'cubic' }))],
};
const DATA: Pool = {
  ok: [fresh(() => ({})), fresh(() => ({ mode: 'bridge' })), fresh(() => ({ id: 42 }))],
  // Kind options are data a netlink attribute can hold: no BigInt, cycle, symbol, function or NaN.
  bad: [
    'bridge',
    5,
    fresh(() => ({ x: 1n })),
    fresh(() => ({ x: circular() })),
    fresh(() => ({ x: Symbol('data') })),
    fresh(() => ({ mode: () => 'bridge' })),
    fresh(() => ({ ageing: Number.NaN })),
  ],
  maybe: [fresh(() => ({ x: undefined })), fresh(() => []), fresh(() => ({ bogus: 1 }))],
};
// shape(): rates in bit/s or with tc's units, times in ms or with units, loss in percent.
const RATE: Pool = {
  ok: ['10mbit', '1gbit', '500kbps', '100kbit', '1.5mbit', 1_000_000, 8],
  bad: ['fast', '', '-1mbit', '10mbits', 'mbit', 0, 7, -8, 1e30, Number.NaN, '10 parsecs'],
  maybe: ['10Mbit', ' 10mbit', '10mibit'],
};
const TIME: Pool = {
  ok: ['10ms', '1s', '500us', '2.5ms', 10, 0, 2.5],
  bad: ['soon', '', '-1ms', '10 parsecs', -1, Number.NaN, 1e30],
  maybe: ['10', '10MS', '1sec'],
};
const LOSS: Pool = { ok: ['1%', '0.5%', '100%', 0.5, 100, 0], bad: ['101%', -1, 101, 'x', '1 %', '%', Number.NaN] };
const IP_PROTO: Pool = { ok: ['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 6, 17, 0, 255], bad: ['esp', 256, -1, 'TCP'] };
const portRange = (max: number): Pool => ({
  ok: [80, 0, max, '1000-2000', '80', fresh(() => [1000, 2000]), fresh(() => ({ start: 1, end: 2 }))],
  bad: [max + 1, -1, '2000-', '1000-2000-3000', fresh(() => [1]), fresh(() => [1, 2, 3]), fresh(() => ({ start: 1 }))],
  maybe: ['2000-1000', fresh(() => [2000, 1000]), fresh(() => ({ start: 2, end: 1 }))],
});
const CHECKS: Pool = {
  ok: [fresh(() => []), fresh(() => [async () => true]), fresh(() => [{ name: 'x', fn: async () => true }])],
  bad: ['x', 5, fresh(() => [5]), fresh(() => ['check']), fresh(() => [{ name: 'x' }])],
};
const TIMEOUT: Pool = { ok: [1, 1000, 600_000], bad: [0, -1, 1.5, '1000', Number.NaN, 1e30] };

// ---- the fields of each spec, by name

type FieldTable = Record<string, Field>;

/** Fields many specs share, under one name. */
function commonFields(f: Fuzz): FieldTable {
  return {
    ifname: { pool: IFNAME },
    dev: { pool: IFNAME },
    oif: { pool: IFNAME },
    iif: { pool: IFNAME },
    iifname: { pool: IFNAME },
    oifname: { pool: IFNAME },
    link: { pool: IFNAME },
    master: { pool: IFNAME, nullable: true },
    netns: { pool: f.netnsPool },
    mtu: { pool: ints(68, 0x7fffffff) },
    txqlen: { pool: U32 },
    index: { pool: ints(1, 0x7fffffff) },
    ifalias: { pool: ALIAS },
    alias: { pool: ALIAS },
    data: { pool: DATA, shape: 'record' },
    addr_gen_mode: { pool: ADDR_GEN },
    kind: { pool: KIND },
    mode: { pool: { ok: ['tun', 'tap'], bad: ['TUN', 'tunnel', 1] } },
    owner: { pool: U32 },
    group: { pool: U32 },
    uid: { pool: U32 },
    gid: { pool: U32 },
    reuse: { pool: BOOL },
    multi_queue: { pool: BOOL },
    pi: { pool: BOOL },
    vnet_hdr: { pool: BOOL },
    gateway: { pool: IP },
    via: { pool: IP },
    prefsrc: { pool: IP },
    table: { pool: TABLE },
    priority: { pool: U32 },
    metric: { pool: U32 },
    pref: { pool: U32 },
    tos: { pool: U8 },
    hops: { pool: U8 },
    weight: { pool: ints(1, 256) },
    onlink: { pool: BOOL },
    type: { pool: ROUTE_TYPE },
    scope: { pool: SCOPE },
    proto: { pool: PROTO },
    metrics: { pool: METRICS, shape: 'object' },
    family: { pool: FAMILY },
    prefixlen: { pool: ints(0, 128) },
    cidr: { pool: CIDR },
    rank: { pool: ints(0, 0x7fffffff) },
    dst_len: { pool: ints(0, 128) },
    mask: { pool: MASK },
    broadcast: { pool: IP4 },
    label: { pool: LABEL },
    flags: { pool: ADDRESS_FLAGS, shape: 'array' },
    valid_lft: { pool: LFT },
    preferred_lft: { pool: LFT },
    lladdr: { pool: MAC },
    proxy: { pool: BOOL },
    router: { pool: BOOL },
    fwmark: { pool: U32 },
    fwmask: { pool: U32 },
    goto: { pool: U32 },
    invert: { pool: BOOL },
    suppress_prefixlen: { pool: ints(0, 128) },
    suppress_ifgroup: { pool: U32 },
    ip_proto: { pool: IP_PROTO },
    sport_range: { pool: portRange(0xffff), shape: 'object' },
    dport_range: { pool: portRange(0xffff), shape: 'object' },
    uid_range: { pool: portRange(0xffffffff), shape: 'object' },
    l3mdev: { pool: FLAG },
    flow: { pool: U32 },
    action: { pool: RULE_ACTION },
    timeout: { pool: TIMEOUT },
    checks: { pool: CHECKS, shape: 'array' },
    all: { pool: { ok: [true], bad: [false, 1, 'true'] } },
  };
}

/** Bridge port options as `set()` takes them (IPDB's names). */
const BRPORT: FieldTable = Object.fromEntries([
  ...['mode', 'guard', 'protect', 'fast_leave', 'learning', 'unicast_flood', 'proxyarp', 'proxyarp_wifi', 'mcast_flood']
    .concat(['mcast_to_ucast', 'bcast_flood', 'neigh_suppress', 'isolated', 'locked', 'vlan_tunnel'])
    .map((k) => [`brport_${k}`, { pool: FLAG }]),
  ['brport_cost', { pool: U32 }],
  ['brport_priority', { pool: U16 }],
  ['brport_group_fwd_mask', { pool: U16 }],
  ['brport_multicast_router', { pool: ints(0, 3) }],
]);

/** Where a spec's field differs from the common one of that name. */
function specFields(): Record<string, FieldTable> {
  const link: FieldTable = { state: { pool: LINK_STATE }, address: { pool: MAC }, ...BRPORT };
  const route: FieldTable = {
    dst: { pool: ROUTE_DST },
    family: { pool: ROUTE_FAMILY },
    flags: { pool: ROUTE_FLAGS, shape: 'array' },
    multipath: { pool: (g) => g.list('NexthopSpec', 0, 3), shape: 'array' },
  };
  return {
    InterfaceChanges: link,
    CreateSpec: {
      ...link,
      peer: { pool: (g) => (g.rng.chance(0.5) ? g.field('', { pool: IFNAME }) : g.spec('PeerSpec')), shape: 'object' },
    },
    PeerSpec: { address: { pool: MAC } },
    // A filter's label is compared, not checked: any string.
    AddressFilter: { address: { pool: IP }, label: { pool: { ok: ['v0', 'v0:1', 'x'.repeat(16), ''], bad: [1, null] } } },
    RouteSpec: route,
    RouteChanges: route,
    RouteSelector: { dst: { pool: ROUTE_DST }, family: { pool: ROUTE_FAMILY } },
    RuleSpec: { src: { pool: PREFIX }, dst: { pool: PREFIX } },
    NeighbourSpec: { dst: { pool: IP }, state: { pool: NEIGH_STATE } },
    NeighbourSelector: { dst: { pool: IP } },
    CidrObject: { address: { pool: IP } },
    ShapeSpec: {
      rate: { pool: RATE },
      delay: { pool: TIME },
      jitter: { pool: TIME },
      loss: { pool: LOSS },
      limit: { pool: ints(1, 0xffffffff) },
    },
    WaitOptions: { timeout: { pool: { ok: [0, 1, 5, 10], bad: [-1, 1.5, '10', Number.NaN, 1e30] } }, absent: { pool: BOOL } },
  };
}

/** A spec to fuzz: its field names (from the zod shape) and the ones it needs. */
export interface SpecInfo {
  keys: readonly string[];
  required: readonly string[];
}

/** The generator: one per run, drawing from one seeded Random. */
export class Fuzz {
  readonly netnsPool: Pool;
  private readonly common: FieldTable;
  private readonly special: Record<string, FieldTable>;

  constructor(
    readonly rng: Random,
    netns: string,
    private readonly specs: Record<string, SpecInfo>,
  ) {
    this.netnsPool = {
      ok: [netns],
      bad: ['', '.', '..', 'a/b', '../etc', 'x'.repeat(300), 'x\u0000y', 1],
      maybe: ['localhost', 'nst-nope-0', 'lab'],
    };
    this.common = commonFields(this);
    this.special = specFields();
  }

  /** One value from a pool, or junk; `path` is what an error should name. */
  field(path: string, field: Field, required = true): Input {
    const r = this.rng.float();
    if (typeof field.pool === 'function') {
      if (r < 0.85) {
        const nested = field.pool(this);
        const under = (b: string) => (b === '' ? path : path === '' ? b : `${path}.${b}`);
        return { ...nested, bad: nested.bad.map(under), maybe: (nested.maybe ?? []).map(under) };
      }
      return this.junk(path, field, required);
    }
    const pool = field.pool;
    // A field the pools do not know yet (declared since): junk only.
    if (!pool.ok.length) return this.junk(path, field, required);
    if (r < 0.55) return { value: draw(this.rng.pick(pool.ok)), verdict: 'ok', bad: [] };
    if (r < 0.8 && pool.bad?.length) return { value: draw(this.rng.pick(pool.bad)), verdict: 'bad', bad: [path] };
    if (r < 0.85 && pool.maybe?.length)
      return { value: draw(this.rng.pick(pool.maybe)), verdict: 'maybe', bad: [], maybe: [path] };
    if (r < 0.85) return { value: draw(this.rng.pick(pool.ok)), verdict: 'ok', bad: [] };
    return this.junk(path, field, required);
  }

  /** A value for a positional argument drawn from a named field's pool ('ifname', 'dst' of RouteSpec...). */
  arg(path: string, spec: string, name: string, required = true): Input {
    const v = this.field(path, this.fieldOf(spec, name), required);
    // An object given where a single value belongs may be read as a spec of its own: any of its fields may be named.
    const whole = v.verdict === 'bad' && typeof v.value === 'object' && v.value !== null;
    return { ...v, bad: whole ? [''] : v.bad, path };
  }

  /** Junk for a field, with what the field must make of it. */
  junk(path: string, field: Pick<Field, 'shape' | 'nullable'>, required: boolean): Input {
    const value = draw(this.rng.pick(JUNK));
    const verdict = junkVerdict(value, field, required);
    return { value, verdict, bad: verdict === 'bad' ? [path] : [], maybe: verdict === 'maybe' ? [path] : [] };
  }

  /** How a spec names a field: its own entry, or the common one (any value when unknown to this file). */
  fieldOf(spec: string, name: string): Field {
    const own = (table: FieldTable | undefined) => (table && Object.hasOwn(table, name) ? table[name] : undefined);
    return own(this.special[spec]) ?? own(this.common) ?? { pool: { ok: [], maybe: ['x', 1, true] } };
  }

  /**
   * An object for a spec: its required fields, a few of its optional ones,
   * sometimes an unknown key, sometimes a required one left out; now and
   * then not an object at all.
   */
  spec(name: string): Input {
    const info = this.specs[name];
    if (!info) throw new Error(`fuzz: no spec ${name}`);
    if (this.rng.chance(0.04)) {
      // Not an object where one belongs: refused, but for undefined (an optional argument) and objects of other sorts.
      const value = draw(this.rng.pick(JUNK));
      const refused = value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value));
      return refused ? { value, verdict: 'bad', bad: [''] } : { value, verdict: 'maybe', bad: [], maybe: [''] };
    }
    const out: Record<string, unknown> = {};
    const bad: string[] = [];
    const maybe: string[] = [];
    let verdict: Verdict = 'ok';
    const optional = info.keys.filter((k) => !info.required.includes(k));
    const chosen = [...info.required, ...this.rng.sample(optional, this.rng.int(0, Math.min(4, optional.length)))];
    for (const key of chosen) {
      if (info.required.includes(key) && this.rng.chance(0.03)) {
        bad.push(key); // left out
        continue;
      }
      const drawn = this.field(key, this.fieldOf(name, key), info.required.includes(key));
      // An optional field given as undefined is as good as left out, whatever a nested generator meant by it.
      const v: Input =
        drawn.value === undefined && !info.required.includes(key) ? { value: undefined, verdict: 'ok', bad: [] } : drawn;
      bad.push(...v.bad);
      if (v.value === undefined && this.rng.chance(0.5)) continue;
      out[key] = v.value;
      maybe.push(...(v.maybe ?? []));
      verdict = worse(verdict, v.verdict);
    }
    if (this.rng.chance(0.1)) {
      const key = this.rng.pick(UNKNOWN_KEYS.filter((k) => !info.keys.includes(k)));
      Object.defineProperty(out, key, { value: draw(this.rng.pick([...JUNK, 1400, 'v0'])), enumerable: true, writable: true });
      bad.push(key);
    }
    if (bad.length) verdict = 'bad';
    return { value: out, verdict, bad, maybe };
  }

  /** An array of `min..max` objects of a spec (multipath). */
  list(name: string, min: number, max: number): Input {
    const items = Array.from({ length: this.rng.int(min, max) }, (_, i) => {
      const item = this.spec(name);
      const at = (b: string) => (b === '' ? String(i) : `${i}.${b}`);
      return { ...item, bad: item.bad.map(at), maybe: (item.maybe ?? []).map(at) };
    });
    return {
      value: items.map((i) => i.value),
      verdict: items.reduce<Verdict>((v, i) => worse(v, i.verdict), 'ok'),
      bad: items.flatMap((i) => i.bad),
      maybe: items.flatMap((i) => i.maybe ?? []),
    };
  }
}

function worse(a: Verdict, b: Verdict): Verdict {
  if (a === 'bad' || b === 'bad') return 'bad';
  if (a === 'maybe' || b === 'maybe') return 'maybe';
  return 'ok';
}

/** What a field of some shape must make of a junk value. */
function junkVerdict(value: unknown, field: Pick<Field, 'shape' | 'nullable'>, required: boolean): Verdict {
  if (value === undefined) return required ? 'bad' : 'ok';
  if (field.shape === 'record') return 'maybe';
  if (field.shape === 'function') return typeof value === 'function' ? 'ok' : 'bad';
  if (value === null) return field.nullable ? 'ok' : 'bad';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return 'maybe';
    case 'number':
      return Number.isFinite(value) && Math.abs(value) < 1e20 ? 'maybe' : 'bad';
    case 'bigint':
    case 'symbol':
    case 'function':
      return 'bad';
  }
  if (Array.isArray(value)) return field.shape === 'array' ? 'maybe' : 'bad';
  return field.shape === 'object' || field.shape === 'array' ? 'maybe' : 'bad';
}

function draw(entry: unknown): unknown {
  return entry instanceof Fresh ? entry.make() : entry;
}

/** An input as a line of a report (never throws). */
export function shownInput(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Number.POSITIVE_INFINITY, maxStringLength: 40, maxArrayLength: 6 });
}
