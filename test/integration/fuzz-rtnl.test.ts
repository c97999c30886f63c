/**
 * A seeded fuzz of every public Rtnl call (link, addr, route, rule, neigh,
 * qdisc with each command, call, batch, open, indexOf) against a fresh
 * namespace: specs built from the real field names with good values, then
 * mutated with junk (wrong types, unknown keys, numbers out of range,
 * BigInt, cycles, nulls, nested garbage, strings with subtle flaws).
 *
 * Every input is first built dry (FAMILIES[op].build with a name resolver
 * over the namespace's links as `ip` reports them): that predicts whether
 * the call is refused before the kernel or reaches it. Then, for the real call:
 * - whatever it throws (or a batch entry reports) is a NetStateError, never
 *   a TypeError or RangeError, nor one of those wrapped by the safety net;
 * - a call predicted refused is refused with the same error class, one
 *   predicted to reach the kernel is not refused by validation;
 * - refused (and read-only) calls change nothing: `ip -j` and `tc -j` show
 *   the same before and after each run of them. Calls that reach the kernel
 *   are kept apart: the state is read again right before and after each.
 *
 * FUZZ_SEED=<n> replays a run; FUZZ_INPUTS=<n> sets how many (10 000);
 * FUZZ_TRACE=<file> appends each input to the file before it runs (to find a
 * hang); FUZZ_INSPECT=1 shows inputs with util.inspect in failures (BigInt,
 * Promise, Proxy and class instances told apart).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FamilyName } from '../../src/backends/netlink/codec/message.js';
import type { BuildContext } from '../../src/backends/netlink/families/family.js';
import { boundedJson } from '../../src/backends/schema.js';
import {
  type Command,
  FAMILIES,
  LinkError,
  NamespaceError,
  NetlinkError,
  NetStateError,
  netnsExists,
  Rtnl,
  validateNetnsName,
} from '../../src/index.js';
import { HostileGetterError, isPoison, junk } from '../helpers/junk.js';
import { type KernelSnapshot, kernelSnapshot, snapshotDiff } from '../helpers/kernel-snapshot.js';
import { addNetns, delNetns, freshName } from '../helpers/netns.js';
import { type Random, seeded } from '../helpers/random.js';

const INPUTS = Number(process.env.FUZZ_INPUTS ?? 10_000);
/** Refused calls checked together: one snapshot before, one after. */
const GROUP = 500;
/** No process has a pid this high (PID_MAX_LIMIT is 2^22): a "move to pid N" can never leave the namespace. */
const NO_PID = 4_194_305;
/** No fd of this process is this high: a "move to the namespace of fd N" fails. */
const NO_FD = 1 << 30;

const ns = freshName('fz');
const NOWHERE = `${ns}-none`;

// ---------------------------------------------------------------- good values

const NAMES = ['v0', 'v1', 'br0', 'lo'];
const KINDS = ['veth', 'bridge', 'vxlan', 'macvlan', 'vlan', 'bond', 'dummy', 'ifb', 'vrf', 'gre', 'tun'];

const good = {
  name: (r: Random) => (r.chance(0.7) ? r.pick(NAMES) : `fz${r.int(0, 20)}`),
  index: (r: Random) => r.int(1, 12),
  dev: (r: Random) => (r.chance(0.8) ? good.name(r) : good.index(r)),
  ip4: (r: Random) => `10.0.${r.int(0, 3)}.${r.int(1, 254)}`,
  ip6: (r: Random) => `2001:db8::${r.int(1, 0xffff).toString(16)}`,
  ip: (r: Random) => (r.chance(0.8) ? good.ip4(r) : good.ip6(r)),
  prefix: (r: Random) =>
    r.chance(0.85)
      ? `10.${r.int(1, 9)}.${r.int(0, 255)}.0/${r.pick([16, 24, 32])}`
      : `2001:db8:${r.int(1, 99)}::/${r.pick([48, 64])}`,
  mac: (r: Random) => `02:00:00:00:${r.hex(1)}:${r.hex(1)}`,
  u8: (r: Random) => r.int(0, 255),
  u16: (r: Random) => r.int(0, 0xffff),
  u32: (r: Random) => r.pick([0, 1, 100, 1000, r.int(0, 0xffffffff)]),
  bool: (r: Random) => r.pick([true, false, 0, 1]),
  table: (r: Random) => r.pick([100, 254, 1000, 'main', 'local', '100', 300]),
  lft: (r: Random) => r.pick([60, 3600, 'forever', 0]),
};

type Gen = (r: Random) => unknown;

const BRIDGE_DATA: Record<string, Gen> = {
  stp_state: (r) => r.pick([0, 1, true, false, 2]),
  priority: good.u16,
  forward_delay: (r) => r.int(200, 3000),
  hello_time: (r) => r.int(100, 1000),
  ageing_time: (r) => r.int(0, 100000),
  mcast_snooping: good.bool,
  vlan_default_pvid: (r) => r.int(0, 4094),
  group_fwd_mask: (r) => r.pick([0, 8]),
};
const DATA: Record<string, Record<string, Gen>> = {
  bridge: BRIDGE_DATA,
  vxlan: { id: (r) => r.int(0, 0xffffff), port: (r) => r.pick([4789, 8472]), learning: good.bool, local: good.ip4, ttl: good.u8 },
  macvlan: { mode: (r) => r.pick(['bridge', 'private', 'vepa', 'passthru', 4]) },
  vlan: { id: (r) => r.int(0, 4094), protocol: (r) => r.pick(['802.1Q', '802.1ad']) },
  bond: { mode: (r) => r.pick(['active-backup', 'balance-rr', 4]), miimon: (r) => r.int(0, 1000) },
  vrf: { table: (r) => r.int(1, 5000) },
  gre: { local: good.ip4, remote: good.ip4, ttl: good.u8 },
  tun: { type: (r) => r.int(1, 2) },
};
const PORT_DATA: Record<string, Gen> = {
  cost: (r) => r.int(1, 65535),
  priority: (r) => r.int(0, 63),
  learning: good.bool,
  state: (r) => r.int(0, 4),
  unicast_flood: good.bool,
};

function fieldsOf(r: Random, table: Record<string, Gen>, min: number, max: number): Record<string, unknown> {
  const keys = r.sample(Object.keys(table), r.int(min, Math.min(max, Object.keys(table).length)));
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = (table[k] as Gen)(r);
  return out;
}

const LINK: Record<string, Gen> = {
  ifname: good.name,
  index: good.index,
  newname: (r) => `fz${r.int(0, 20)}`,
  kind: (r) => r.pick(KINDS),
  state: (r) => r.pick(['up', 'down']),
  mtu: (r) => r.pick([68, 1280, 1400, 1500, 9000, 65535]),
  address: good.mac,
  broadcast: good.mac,
  txqlen: (r) => r.int(0, 10000),
  master: (r) => r.pick(['br0', null, 0, 'v0', 4]),
  link: good.dev,
  ifalias: (r) => r.pick(['uplink', '', 'a b c']),
  alias: (r) => r.pick(['uplink', 'x']),
  group: (r) => r.int(0, 10),
  netns: (r) => r.pick([ns, NOWHERE, NO_PID + r.int(0, 1000)]),
  net_ns_pid: (r) => NO_PID + r.int(0, 1000),
  net_ns_fd: (r) => NO_FD + r.int(0, 1000),
  flags: (r) => r.pick([0, 1, 0x100]),
  change: (r) => r.pick([0, 1, 0x100]),
  operstate: (r) => r.pick(['UP', 'DORMANT', 6]),
  linkmode: (r) => r.int(0, 1),
  num_tx_queues: (r) => r.int(1, 8),
  num_rx_queues: (r) => r.int(1, 8),
  gso_max_size: (r) => r.pick([65536, 16384]),
  gso_max_segs: (r) => r.pick([65535, 100]),
  promiscuity: (r) => r.int(0, 2),
  carrier: good.bool,
  proto_down: good.bool,
  addr_gen_mode: (r) => r.pick(['none', 'eui64', 'random', 1]),
};
const LINK_FILTER: Record<string, Gen> = {
  ifname: good.name,
  index: good.index,
  kind: (r) => r.pick(KINDS),
  slave_kind: (r) => r.pick(['bridge', 'bond']),
  master: good.dev,
  link: good.dev,
  state: (r) => r.pick(['up', 'down']),
  operstate: (r) => r.pick(['UP', 'DOWN', 'UNKNOWN']),
  mtu: (r) => r.pick([1500, 65536]),
  address: good.mac,
  txqlen: (r) => r.pick([0, 1000]),
  group: (r) => r.int(0, 1),
  ifalias: (r) => r.pick(['uplink']),
};

const ADDRESS: Record<string, Gen> = {
  family: (r) => r.pick(['inet', 'inet6', 4, 6]),
  index: good.index,
  ifname: good.name,
  address: (r) => `${good.ip(r)}/${r.pick([24, 32, 64])}`,
  local: (r) => `${good.ip4(r)}/24`,
  prefixlen: (r) => r.int(0, 32),
  peer: good.ip4,
  label: (r) => r.pick(['v0:1', 'v0', 'x']),
  broadcast: good.ip4,
  anycast: good.ip,
  scope: (r) => r.pick(['global', 'link', 'host', 200]),
  flags: (r) => r.pick([['nodad'], ['noprefixroute'], 0, 0x200]),
  valid_lft: good.lft,
  preferred_lft: good.lft,
  proto: (r) => r.pick(['static', 'kernel', 99]),
  metric: good.u32,
  rt_priority: good.u32,
};
const ADDRESS_FILTER: Record<string, Gen> = {
  family: (r) => r.pick(['inet', 'inet6']),
  index: good.index,
  ifname: good.name,
  address: (r) => r.pick(['10.0.0.1', '10.0.0.1/24', good.ip(r)]),
  local: good.ip4,
  prefixlen: (r) => r.pick([24, 32]),
  label: (r) => r.pick(['v0', 'v0:1']),
  scope: (r) => r.pick(['global', 'host']),
  proto: (r) => r.pick(['static', 0]),
};

const ROUTE: Record<string, Gen> = {
  family: (r) => r.pick(['inet', 'inet6']),
  dst: (r) => (r.chance(0.1) ? 'default' : good.prefix(r)),
  src: good.prefix,
  table: good.table,
  priority: good.u32,
  metric: good.u32,
  tos: (r) => r.pick([0, 4, 8]),
  type: (r) => r.pick(['unicast', 'blackhole', 'unreachable', 'prohibit', 'local', 6]),
  proto: (r) => r.pick(['static', 'boot', 'kernel', 99]),
  scope: (r) => r.pick(['universe', 'link', 'host']),
  gateway: (r) => r.pick(['10.0.0.2', '10.0.0.3', good.ip(r)]),
  via: (r) => r.pick(['10.0.0.2', good.ip4(r)]),
  oif: good.dev,
  dev: good.dev,
  ifname: good.dev,
  iif: good.dev,
  prefsrc: (r) => r.pick(['10.0.0.1', good.ip4(r)]),
  metrics: (r) => r.pick([{ mtu: 1400 }, { advmss: 1360, hoplimit: 10 }, { cc_algo: 'cubic' }]),
  multipath: (r) =>
    Array.from({ length: r.int(1, 3) }, () =>
      r.chance(0.5) ? { gateway: good.ip4(r), weight: r.int(1, 5) } : { dev: good.dev(r), hops: r.int(0, 3) },
    ),
  pref: (r) => r.pick(['low', 'medium', 'high']),
  expires: (r) => r.int(0, 1000),
  flow: good.u32,
  realm: good.u32,
  nh_id: (r) => r.int(1, 10),
};
const ROUTE_QUERY: Record<string, Gen> = {
  family: (r) => r.pick(['inet', 'inet6']),
  dst: good.ip,
  src: good.ip4,
  oif: good.dev,
  dev: good.dev,
  ifname: good.dev,
  iif: good.dev,
  mark: good.u32,
};
const ROUTE_FILTER: Record<string, Gen> = {
  family: (r) => r.pick(['inet', 'inet6']),
  table: good.table,
  proto: (r) => r.pick(['boot', 'kernel']),
  type: (r) => r.pick(['unicast', 'local']),
  scope: (r) => r.pick(['link', 'host']),
  oif: good.dev,
  dev: good.dev,
  ifname: good.dev,
  dst: (r) => r.pick(['default', '10.1.0.0/16', good.prefix(r)]),
  src: good.prefix,
  priority: good.u32,
  metric: good.u32,
  gateway: good.ip4,
  via: good.ip4,
  prefsrc: good.ip4,
  tos: (r) => r.pick([0, 4]),
};

const RULE: Record<string, Gen> = {
  family: (r) => r.pick(['inet', 'inet6']),
  priority: (r) => r.int(1, 40000),
  pref: (r) => r.int(1, 40000),
  table: good.table,
  action: (r) => r.pick(['to_tbl', 'goto', 'nop', 'blackhole', 'unreachable', 'prohibit']),
  src: good.prefix,
  dst: good.prefix,
  iifname: good.name,
  oifname: good.name,
  fwmark: good.u32,
  fwmask: good.u32,
  goto: (r) => r.int(1, 40000),
  tos: (r) => r.pick([0, 4]),
  flags: (r) => r.pick([0, 2]),
  invert: good.bool,
  flow: good.u32,
  suppress_prefixlen: (r) => r.pick([0, 24, -1, 0xffffffff]),
  suppress_ifgroup: (r) => r.pick([0, 1, -1]),
  l3mdev: good.bool,
  uid_range: (r) => r.pick(['1000-2000', [0, 10], { start: 5, end: 6 }, 7]),
  ip_proto: (r) => r.pick(['tcp', 'udp', 1, 'icmp']),
  sport_range: (r) => r.pick(['80-443', [1, 2], 22]),
  dport_range: (r) => r.pick(['80-443', 53]),
  proto: (r) => r.pick(['static', 'kernel', 'boot']),
};
const RULE_FILTER: Record<string, Gen> = Object.fromEntries(
  [
    'family',
    'priority',
    'pref',
    'table',
    'action',
    'src',
    'dst',
    'iifname',
    'oifname',
    'fwmark',
    'fwmask',
    'goto',
    'tos',
    'proto',
  ].map((k) => [k, RULE[k] as Gen]),
);

const NEIGHBOUR: Record<string, Gen> = {
  family: (r) => r.pick(['inet', 'inet6']),
  ifindex: good.index,
  index: good.index,
  ifname: good.name,
  dst: good.ip,
  lladdr: good.mac,
  state: (r) => r.pick(['permanent', 'reachable', 'stale', 'noarp', 0x80]),
  flags: (r) => r.pick([0, 0x80]),
  vlan: (r) => r.int(0, 4095),
  proxy: good.bool,
  router: good.bool,
  protocol: (r) => r.pick(['static', 99]),
};
const NEIGHBOUR_FILTER: Record<string, Gen> = {
  family: (r) => r.pick(['inet', 'inet6']),
  ifindex: good.index,
  index: good.index,
  ifname: good.name,
  master: good.dev,
  dst: good.ip,
  lladdr: good.mac,
  state: (r) => r.pick(['permanent', 'reachable']),
};

const QDISC_BASE: Record<string, Gen> = {
  ifname: good.name,
  index: good.index,
  handle: (r) => r.pick(['1:', '2:', 'ffff:', 0x10000, 'none']),
  parent: (r) => r.pick(['root', 'ingress', '1:1', 0xffffffff]),
};
const QDISC_OPTIONS: Record<string, Record<string, Gen>> = {
  tbf: {
    rate: (r) => r.pick(['10mbit', '1gbit', '100kbit', 8_000_000, '50gbit']),
    burst: (r) => r.pick([32768, '32kb', '1mb', 1600]),
    latency: (r) => r.pick(['50ms', 100, '1s']),
    limit: (r) => r.pick([100000, '1mb']),
    mtu: (r) => r.pick([1500, '2kb']),
    peakrate: (r) => r.pick(['20mbit', '2gbit']),
    mpu: (r) => r.pick([0, 64]),
  },
  netem: {
    delay: (r) => r.pick(['10ms', 100, '1s']),
    jitter: (r) => r.pick(['1ms', 2]),
    loss: (r) => r.pick(['1%', 0.5, 100]),
    limit: (r) => r.int(0, 10000),
    rate: (r) => r.pick(['1mbit', 1e6]),
    duplicate: (r) => r.pick(['1%']),
    corrupt: (r) => r.pick(['0.1%']),
    reorder: (r) => r.pick(['25%']),
    gap: (r) => r.int(0, 10),
  },
  htb: { default: (r) => r.pick(['10', 16, 'ff']), r2q: (r) => r.int(1, 20), direct_qlen: (r) => r.int(0, 1000) },
  pfifo: { limit: (r) => r.int(0, 1000) },
  bfifo: { limit: (r) => r.pick([1000, '10kb']) },
  ingress: {},
  clsact: {},
  cake: {},
};

const FILTER_BASE: Record<string, Gen> = {
  ifname: good.name,
  index: good.index,
  parent: (r) => r.pick(['ingress', 'egress', 'ffff:', 0xffff0000]),
  protocol: (r) => r.pick(['all', 'ip', 'ipv6', 0x0003]),
  priority: (r) => r.pick([1, 49152, 7]),
  handle: (r) => r.pick(['800::800', '800:', 0x80000800]),
};
const FILTER_OPTIONS: Record<string, Gen> = {
  match: (r) => r.pick(['all', [{ value: 0, mask: 0 }], [{ value: 0x0a000001, mask: 0xffffffff, at: 16 }]]),
  action: (r) => ({ kind: 'mirred', dev: good.name(r), ...(r.chance(0.5) ? { action: r.pick(['redirect', 'mirror']) } : {}) }),
};

/** A plausible spec for `op cmd`: real field names with good values (it may still be refused). */
function plausible(r: Random, op: FamilyName, cmd: Command): Record<string, unknown> {
  const read = cmd === 'dump' || cmd === 'get';
  switch (op) {
    case 'link': {
      if (cmd === 'dump') return fieldsOf(r, LINK_FILTER, 0, 3);
      if (cmd === 'get' || cmd === 'del') return r.chance(0.8) ? { ifname: good.name(r) } : { index: good.index(r) };
      const s = fieldsOf(r, LINK, 1, 4);
      if (cmd === 'add' || r.chance(0.6)) s.ifname ??= cmd === 'add' ? `fz${r.int(0, 20)}` : good.name(r);
      if (cmd === 'add') s.kind ??= r.pick(KINDS);
      if (typeof s.kind === 'string' && DATA[s.kind] && r.chance(0.6))
        s.data = fieldsOf(r, DATA[s.kind] as Record<string, Gen>, 1, 3);
      if (s.kind === 'veth' && r.chance(0.7))
        s.peer = r.chance(0.5) ? `fz${r.int(0, 20)}` : { ifname: `fz${r.int(0, 20)}`, mtu: 1400 };
      if (r.chance(0.1)) {
        s.slave_kind = 'bridge';
        s.slave_data = fieldsOf(r, PORT_DATA, 1, 2);
      }
      return s;
    }
    case 'address':
      if (read) return fieldsOf(r, ADDRESS_FILTER, 0, 3);
      return { ifname: good.name(r), address: `${good.ip4(r)}/24`, ...fieldsOf(r, ADDRESS, 0, 3) };
    case 'route':
      if (cmd === 'dump') return fieldsOf(r, ROUTE_FILTER, 0, 3);
      if (cmd === 'get') return { dst: good.ip(r), ...fieldsOf(r, ROUTE_QUERY, 0, 2) };
      return { dst: good.prefix(r), ...fieldsOf(r, ROUTE, 0, 4) };
    case 'rule':
      if (read) return fieldsOf(r, RULE_FILTER, 0, 3);
      return { src: good.prefix(r), ...fieldsOf(r, RULE, 1, 4) };
    case 'neighbour':
      if (read) return fieldsOf(r, NEIGHBOUR_FILTER, 0, 3);
      return { ifname: good.name(r), dst: good.ip(r), ...fieldsOf(r, NEIGHBOUR, 0, 3) };
    case 'qdisc': {
      if (read) return { ...fieldsOf(r, QDISC_BASE, 0, 2), ...(r.chance(0.3) ? { kind: r.pick(['tbf', 'noqueue']) } : {}) };
      const kind = r.pick(Object.keys(QDISC_OPTIONS));
      const s: Record<string, unknown> = { ifname: good.name(r), ...fieldsOf(r, QDISC_BASE, 0, 2) };
      if (cmd !== 'del' || r.chance(0.3)) s.kind = kind;
      if (cmd !== 'del') Object.assign(s, fieldsOf(r, QDISC_OPTIONS[kind] as Record<string, Gen>, 0, 4));
      return s;
    }
    case 'filter': {
      const s: Record<string, unknown> = { ifname: good.name(r), ...fieldsOf(r, FILTER_BASE, 0, 3) };
      if (read) return s;
      if (cmd !== 'del' || r.chance(0.3)) s.kind = 'u32';
      if (cmd !== 'del') Object.assign(s, { action: (FILTER_OPTIONS.action as Gen)(r), ...fieldsOf(r, FILTER_OPTIONS, 0, 1) });
      return s;
    }
  }
}

const TYPOS = [
  'mut',
  'gatway',
  'ifnmae',
  'tabel',
  'metirc',
  'x',
  'stp',
  'constructor',
  'toString',
  'valueOf',
  '__defineGetter__',
];

/** The same spec with 1..3 flaws: junk values, unknown fields, nested garbage, or junk instead of the spec. */
function mutated(r: Random, spec: Record<string, unknown>, op: FamilyName): unknown {
  if (r.chance(0.05)) return junk(r);
  const s: Record<string, unknown> = { ...spec };
  for (let n = r.int(1, 3); n > 0; n--) {
    const keys = Object.keys(s);
    switch (r.int(0, 5)) {
      case 0:
      case 1:
        if (keys.length) s[r.pick(keys)] = junk(r);
        else s[r.pick(TYPOS)] = junk(r);
        break;
      case 2:
        s[r.pick(TYPOS)] = r.chance(0.5) ? 1 : junk(r);
        break;
      case 3: {
        // A field of this object that the spec did not have, with junk.
        const table = {
          link: LINK,
          address: ADDRESS,
          route: ROUTE,
          rule: RULE,
          neighbour: NEIGHBOUR,
          qdisc: QDISC_BASE,
          filter: FILTER_BASE,
        }[op];
        s[r.pick(Object.keys(table))] = junk(r);
        break;
      }
      case 4: {
        // Garbage one level down: in data, peer, metrics, multipath, slave_data.
        const key = r.pick(['data', 'peer', 'metrics', 'multipath', 'slave_data']);
        const inner = s[key];
        if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
          let copy: Record<string, unknown>;
          try {
            copy = { ...(inner as object) };
          } catch {
            copy = {}; // a hostile value from an earlier round
          }
          copy[r.chance(0.5) ? r.pick(Object.keys(copy).concat(TYPOS)) : 'stp'] = junk(r);
          s[key] = copy;
        } else if (Array.isArray(inner)) {
          s[key] = [...inner, junk(r)];
        } else s[key] = r.chance(0.5) ? { [r.pick(TYPOS)]: junk(r) } : junk(r);
        break;
      }
      default:
        if (keys.length) delete s[r.pick(keys)];
    }
  }
  return s;
}

/**
 * Whether a spec is refused whatever else it holds: not an object at all, or
 * an unknown field (one of TYPOS), or a poison value in a field or one level
 * down (inside data, peer, metrics, multipath...). Such an input going
 * through would be junk silently accepted.
 */
function mustRefuse(spec: unknown, read: boolean): boolean {
  if (spec === undefined) return !read;
  if (spec === null || typeof spec !== 'object') return true;
  if (Array.isArray(spec)) return true;
  if (isPoison(spec)) return true;
  let entries: [string, unknown][];
  try {
    entries = Object.entries(spec);
  } catch {
    return true;
  }
  for (const [key, value] of entries) {
    if (TYPOS.includes(key) || isPoison(value)) return true;
    if (
      value !== null &&
      typeof value === 'object' &&
      (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype)
    ) {
      for (const inner of Object.entries(value)) if (isPoison(inner[1])) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- predicting

const OPS: FamilyName[] = ['link', 'address', 'route', 'rule', 'neighbour', 'qdisc', 'filter'];
const COMMANDS: Command[] = ['add', 'set', 'replace', 'del', 'get', 'dump'];
const METHOD: Record<FamilyName, string> = {
  link: 'link',
  address: 'addr',
  route: 'route',
  rule: 'rule',
  neighbour: 'neigh',
  qdisc: 'qdisc',
  filter: 'filter',
};

/** What the dry build says: refused before the kernel (with its error class), or sent. */
type Prediction = { refused: string; message: string } | { refused: undefined };

let linkIndexes = new Map<string, number>();

const dry: BuildContext = {
  index: async (nameOrIndex, field) => {
    if (typeof nameOrIndex === 'number') return nameOrIndex;
    const i = linkIndexes.get(nameOrIndex);
    if (i === undefined) throw new LinkError(`${field}: no interface named "${nameOrIndex}"`);
    return i;
  },
  netnsFd: (name) => {
    validateNetnsName(name);
    if (!netnsExists(name)) throw new NamespaceError(`netns: no network namespace named "${name}"`);
    return -1;
  },
};

function classOf(e: unknown): string {
  if (e instanceof NetStateError) return e.name;
  // The dry run has no safety net: the real call reports a foreign error as a ValidationError.
  return 'ValidationError';
}

async function predict(op: unknown, cmd: unknown, spec: unknown, batched = false): Promise<Prediction> {
  if (typeof op !== 'string' || !OPS.includes(op as FamilyName)) return { refused: 'ValidationError', message: 'op' };
  if (typeof cmd !== 'string' || !COMMANDS.includes(cmd as Command)) return { refused: 'ValidationError', message: 'cmd' };
  if (batched && (cmd === 'get' || cmd === 'dump')) return { refused: 'ValidationError', message: 'batched read' };
  try {
    await FAMILIES[op as FamilyName].build(cmd as Command, spec === undefined && !batched ? {} : spec, dry);
    return { refused: undefined };
  } catch (e) {
    return { refused: classOf(e), message: e instanceof Error ? e.message : String(e) };
  }
}

// ---------------------------------------------------------------- checking

interface Failure {
  input: number;
  what: string;
  problem: string;
}

function shownInput(value: unknown): string {
  if (process.env.FUZZ_INSPECT) return inspect(value, { depth: 3, breakLength: Infinity }).slice(0, 400);
  if (typeof value === 'bigint' || typeof value === 'symbol' || typeof value === 'function') return String(value);
  return (boundedJson(value) ?? Object.prototype.toString.call(value)).slice(0, 300);
}

/** Why an error a call produced is not acceptable, or undefined. */
function badError(e: unknown): string | undefined {
  if (!(e instanceof NetStateError))
    return `threw a ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? shownInput(e)}`;
  const cause = (e as Error).cause;
  if (cause !== undefined && !(cause instanceof NetStateError) && !(cause instanceof HostileGetterError)) {
    return `a ${(cause as Error)?.name} reached the safety net: ${e.message}\n${(cause as Error)?.stack?.split('\n').slice(1, 6).join('\n')}`;
  }
  return undefined;
}

describe('fuzz: every public Rtnl call refuses bad input with a typed error and changes nothing', () => {
  let nl: Rtnl;

  beforeAll(async () => {
    addNetns(ns);
    const sh = (cmd: string) => execFileSync('sh', ['-c', cmd]);
    // No IPv6 here: its link-local addresses and DAD change the namespace on their own, after the calls.
    sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`);
    sh(
      [
        'link add v0 type veth peer name v1',
        'link add br0 type bridge',
        'link set v1 master br0',
        'link set v0 up',
        'link set v1 up',
        'link set br0 up',
        'addr add 10.0.0.1/24 dev v0',
        'route add 10.1.0.0/16 via 10.0.0.2 table 100',
        'rule add from 10.1.0.0/16 table 100 pref 1000',
        'neigh add 10.0.0.9 lladdr 02:00:00:00:00:09 dev v0',
      ]
        .map((c) => `ip -n ${ns} ${c}`)
        .join(' && '),
    );
    sh(`ip netns exec ${ns} tc qdisc add dev v0 root handle 1: tbf rate 10mbit burst 32kb latency 50ms`);
    nl = await Rtnl.open({ netns: ns });
  });

  afterAll(() => {
    nl?.close();
    delNetns(ns);
  });

  it(`${INPUTS} random inputs`, { timeout: 120_000 }, async () => {
    const r = seeded('FUZZ_SEED');
    const failures: Failure[] = [];
    const counts = { refused: 0, kernel: 0, succeeded: 0, kernelRefused: 0, reads: 0, snapshots: 0 };
    let base: KernelSnapshot;
    let pending: number[] = [];

    const snapshot = (): KernelSnapshot => {
      counts.snapshots++;
      const s = kernelSnapshot(ns);
      linkIndexes = new Map((s.links as { ifname: string; ifindex: number }[]).map((l) => [l.ifname, l.ifindex]));
      return s;
    };
    /** The refused and read-only calls since `base` changed nothing. */
    const checkPending = () => {
      if (!pending.length) return;
      const now = snapshot();
      const diff = snapshotDiff(base, now);
      if (diff.length) {
        failures.push({
          input: pending[0] as number,
          what: `inputs ${pending[0]}..${pending.at(-1)}`,
          problem: `refused calls changed the kernel:\n${diff.join('\n')}`,
        });
        base = now;
      }
      pending = [];
    };
    base = snapshot();

    const fail = (input: number, what: string, problem: string) => failures.push({ input, what, problem });

    /** One op/cmd/spec through a method (or `call`): predicted, run, checked. */
    const runSpec = async (i: number, via: 'method' | 'call', op: unknown, cmd: unknown, spec: unknown) => {
      const what = `${via} ${shownInput(op)} ${shownInput(cmd)} ${shownInput(spec)}`;
      if (process.env.FUZZ_TRACE) appendFileSync(process.env.FUZZ_TRACE, `${i} ${what}\n`);
      const p = await predict(op, cmd, spec);
      const mutating = p.refused === undefined && cmd !== 'get' && cmd !== 'dump';
      if (mutating) checkPending();
      let error: unknown;
      try {
        if (via === 'call') await nl.call(op as FamilyName, cmd as Command, spec);
        else {
          const method = (nl as unknown as Record<string, (c: unknown, s?: unknown) => Promise<unknown>>)[
            METHOD[op as FamilyName]
          ];
          await (spec === undefined ? method?.call(nl, cmd) : method?.call(nl, cmd, spec));
        }
      } catch (e) {
        error = e;
      }
      if (error !== undefined) {
        const bad = badError(error);
        if (bad) fail(i, what, bad);
      }
      const validCall = typeof op === 'string' && OPS.includes(op as FamilyName) && COMMANDS.includes(cmd as Command);
      if ((!validCall || mustRefuse(spec, cmd === 'dump' || cmd === 'get')) && error === undefined) {
        fail(i, what, 'junk was accepted');
      }
      if (p.refused !== undefined) {
        counts.refused++;
        if (error === undefined) fail(i, what, `predicted refused (${p.refused}: ${p.message}) but it succeeded`);
        else if ((error as Error).name !== p.refused)
          fail(i, what, `predicted ${p.refused} (${p.message}), got ${(error as Error).name}: ${(error as Error).message}`);
        pending.push(i);
        return;
      }
      if (error !== undefined && !(error instanceof NetlinkError) && (error as Error).name === 'ValidationError') {
        fail(i, what, `the dry build took it, the call refused it: ${(error as Error).message}`);
      }
      if (!mutating) {
        counts.reads++;
        pending.push(i);
        return;
      }
      counts.kernel++;
      if (error === undefined) counts.succeeded++;
      else counts.kernelRefused++;
      // Succeeded or refused by the kernel (which may apply part of a link change before
      // refusing the rest): either way the state read now is the new reference.
      base = snapshot();
    };

    const randomOpCmd = (): [FamilyName, Command] => [r.pick(OPS), r.pick(COMMANDS)];
    const specFor = (op: FamilyName, cmd: Command): unknown => {
      const s = plausible(r, op, cmd);
      return r.chance(0.9) ? mutated(r, s, op) : s;
    };

    for (let i = 0; i < INPUTS; i++) {
      const kind = r.weighted([
        [80, 'method'],
        [5, 'call'],
        [6, 'batch'],
        [4, 'open'],
        [5, 'indexOf'],
      ] as const);
      if (process.env.FUZZ_TRACE) appendFileSync(process.env.FUZZ_TRACE, `${i} (${kind})\n`);
      if (kind === 'method' || kind === 'call') {
        const [op, cmd] = randomOpCmd();
        const spec = cmd === 'dump' && r.chance(0.1) ? undefined : specFor(op, cmd);
        if (kind === 'call' && r.chance(0.3)) {
          await runSpec(i, 'call', r.chance(0.5) ? junk(r) : op, r.chance(0.5) ? junk(r) : cmd, spec);
        } else await runSpec(i, kind, op, cmd, spec);
      } else if (kind === 'batch') {
        await runBatch(i);
      } else if (kind === 'open') {
        const options = r.chance(0.2)
          ? junk(r)
          : {
              netns: r.pick([ns, NOWHERE, '../etc', '', junk(r)]),
              ...(r.chance(0.3) ? { eventBuffer: r.pick([1 << 20, 100, junk(r)]) } : {}),
              ...(r.chance(0.3) ? { groups: r.pick([['LINK'], ['NOPE'], 'LINK', junk(r)]) } : {}),
              ...(r.chance(0.3) ? { dumpRetries: r.pick([3, 0, junk(r)]) } : {}),
              ...(r.chance(0.1) ? { [r.pick(TYPOS)]: 1 } : {}),
            };
        try {
          const other = await Rtnl.open(options as { netns: string });
          other.close();
        } catch (e) {
          const bad = badError(e);
          if (bad) fail(i, `open ${shownInput(options)}`, bad);
        }
        counts.reads++;
        pending.push(i);
      } else {
        const name = r.chance(0.5) ? good.name(r) : junk(r);
        try {
          const index = await nl.indexOf(name as string);
          if (typeof name === 'string' && linkIndexes.has(name) && index !== linkIndexes.get(name)) {
            fail(i, `indexOf ${name}`, `said ${index}, ip says ${linkIndexes.get(name)}`);
          }
        } catch (e) {
          const bad = badError(e);
          if (bad) fail(i, `indexOf ${shownInput(name)}`, bad);
        }
        counts.reads++;
        pending.push(i);
      }
      if (pending.length >= GROUP) checkPending();
      if (failures.length > 20) break;
    }
    checkPending();

    async function runBatch(i: number): Promise<void> {
      let requests: unknown;
      if (r.chance(0.05)) requests = junk(r);
      else {
        requests = Array.from({ length: r.int(1, 20) }, () => {
          if (r.chance(0.05)) return junk(r);
          const [op, cmd] = r.chance(0.9) ? [r.pick(OPS), r.pick(['add', 'set', 'replace', 'del'] as Command[])] : randomOpCmd();
          const entry: Record<string, unknown> = { op, cmd, spec: specFor(op, cmd) };
          if (r.chance(0.05)) entry.op = junk(r);
          if (r.chance(0.05)) entry.cmd = junk(r);
          return entry;
        });
      }
      const what = `batch ${shownInput(requests)}`;
      if (!Array.isArray(requests)) {
        const e = await nl.batch(requests as never).then(
          () => undefined,
          (err: unknown) => err,
        );
        if (e === undefined) fail(i, what, 'a batch of a non-array went through');
        else if ((e as Error).name !== 'ValidationError')
          fail(i, what, badError(e) ?? `${(e as Error).name}, not a ValidationError`);
        counts.refused++;
        pending.push(i);
        return;
      }
      const predictions: Prediction[] = [];
      for (const entry of requests) {
        const e = entry as { op?: unknown; cmd?: unknown; spec?: unknown } | null;
        if (e === null || typeof e !== 'object' || Array.isArray(e))
          predictions.push({ refused: 'ValidationError', message: 'entry' });
        else {
          let p: Prediction;
          try {
            p = await predict(e.op, e.cmd, e.spec, true);
          } catch {
            p = { refused: 'ValidationError', message: 'entry could not be read' };
          }
          predictions.push(p);
        }
      }
      const mutating = predictions.some((p) => p.refused === undefined);
      if (mutating) checkPending();
      let results: Awaited<ReturnType<Rtnl['batch']>> | undefined;
      try {
        results = await nl.batch(requests as never);
      } catch (e) {
        fail(i, what, `a batch rejected as a whole: ${badError(e) ?? (e as Error).message}`);
      }
      results?.forEach((res, k) => {
        const p = predictions[k] as Prediction;
        if (!res.ok) {
          const bad = badError(res.error);
          if (bad) fail(i, `${what} [${k}]`, bad);
        }
        const entry = requests[k] as { op?: unknown; cmd?: unknown; spec?: unknown } | null;
        if (res.ok && (entry === null || typeof entry !== 'object' || mustRefuse(entry.spec, false))) {
          fail(i, `${what} [${k}]`, 'junk was accepted');
        }
        if (p.refused !== undefined) {
          if (res.ok) fail(i, `${what} [${k}]`, `predicted refused (${p.refused}: ${p.message}), went through`);
          else if (res.error.name !== p.refused)
            fail(i, `${what} [${k}]`, `predicted ${p.refused} (${p.message}), got ${res.error.name}: ${res.error.message}`);
        } else if (!res.ok && !(res.error instanceof NetlinkError)) {
          fail(i, `${what} [${k}]`, `the dry build took it, the batch refused it: ${res.error.message}`);
        }
      });
      if (results && results.length !== requests.length)
        fail(i, what, `${results.length} results for ${requests.length} entries`);
      if (mutating) {
        counts.kernel++;
        base = snapshot();
      } else {
        counts.refused++;
        pending.push(i);
      }
    }

    console.log(`fuzz-rtnl: ${JSON.stringify(counts)}`);
    expect(failures.slice(0, 10).map((f) => `#${f.input} ${f.what}\n  ${f.problem}`)).toEqual([]);
    // A fuzz that never reaches the kernel, or never refuses, tests little.
    expect(counts.refused).toBeGreaterThan(INPUTS / 2);
    expect(counts.succeeded).toBeGreaterThan(0);
  });
});
