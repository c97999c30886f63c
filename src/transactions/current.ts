/** Records of the store turned into targets: the state a transaction starts from. */
import { ADDR_GEN_MODES } from '../backends/netlink/families/names.js';
import type { Database } from '../db/database.js';
import type { StoreRecord } from '../db/records.js';
import { DEFAULT_PRIORITY } from '../db/route-collection.js';
import { BRPORT_NAMES } from './specs.js';
import type { InterfaceTarget, NeighbourTarget, NexthopTarget, RouteTarget, RuleTarget, TuntapOptions } from './staged.js';

/** A kernel-made IPv6 link-local address ('fe80::…/64'): made from the MAC, not ours to stage. */
export function isLinkLocal(cidr: string): boolean {
  return cidr.startsWith('fe80:');
}

/**
 * Where records' interface indexes are looked up: the store, or a state
 * given as `db.dump()` gives it (`tx.load(state)`).
 */
export interface Links {
  readonly namespaces: readonly string[];
  byIndex(netns: string, index: number): StoreRecord | undefined;
  portsOf(netns: string, index: number): StoreRecord[];
  /** Links whose IFLA_LINK is this one (a veth's peer among them). */
  stackedOn(netns: string, index: number): StoreRecord[];
  all(netns: string): StoreRecord[];
}

/** The store's interfaces as Links (each lookup is one indexed query). */
export function storeLinks(db: Database): Links {
  return {
    get namespaces() {
      return db.followed;
    },
    byIndex: (netns, index) => db.interfaces.get({ netns, index }),
    portsOf: (netns, index) => db.interfaces.list({ netns, master: index }),
    stackedOn: (netns, index) => db.interfaces.list({ netns, link: index }),
    all: (netns) => db.interfaces.list({ netns }),
  };
}

/** The interfaces of a dumped state as Links. */
export function dumpLinks(state: { namespaces: Record<string, Record<string, readonly StoreRecord[]>> }): Links {
  const all = (netns: string) => state.namespaces[netns]?.interfaces ?? [];
  const byIndex = new Map(
    Object.keys(state.namespaces).map((netns) => [netns, new Map(all(netns).map((r) => [r.index as number, r]))]),
  );
  return {
    namespaces: Object.keys(state.namespaces),
    byIndex: (netns, index) => byIndex.get(netns)?.get(index),
    portsOf: (netns, index) => all(netns).filter((r) => r.master === index),
    stackedOn: (netns, index) => all(netns).filter((r) => r.link === index),
    all: (netns) => [...all(netns)],
  };
}

type Source = Database | Links;

function links(src: Source): Links {
  return 'byIndex' in src ? src : storeLinks(src);
}

function nameOf(src: Source, netns: string, index: unknown): string | undefined {
  if (typeof index !== 'number' || index === 0) return undefined;
  return links(src).byIndex(netns, index)?.ifname as string | undefined;
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * The options (IFLA_INFO_DATA) that recreate a link of each kind as it was,
 * with the kernel's default for each (undefined: always sent). A value at its
 * default is left out: some kernels refuse even a default for an option they
 * lack (bridge vlan_filtering 0 here), and the rest is state, not options.
 */
const RECREATE_DATA: Record<string, Record<string, unknown>> = {
  bridge: {
    stp_state: 0,
    forward_delay: 1500,
    hello_time: 200,
    max_age: 2000,
    ageing_time: 30000,
    priority: 32768,
    vlan_filtering: 0,
    mcast_snooping: 1,
  },
  macvlan: { mode: undefined },
  macvtap: { mode: undefined },
  vxlan: {
    id: undefined,
    group: undefined,
    group6: undefined,
    local: undefined,
    local6: undefined,
    ttl: 0,
    tos: 0,
    learning: 1,
    ageing: 300,
    port: undefined,
  },
  vlan: { id: undefined, protocol: undefined },
  bond: { mode: 0, miimon: 0 },
  vrf: { table: undefined },
  gre: { local: undefined, remote: undefined, ttl: 0, ikey: undefined, okey: undefined },
  gretap: { local: undefined, remote: undefined, ttl: 0, ikey: undefined, okey: undefined },
};

function recreatable(kind: unknown, data: unknown): Record<string, unknown> | undefined {
  const defaults = RECREATE_DATA[kind as string];
  if (!defaults || !data) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, fallback] of Object.entries(defaults)) {
    const v = (data as Record<string, unknown>)[k];
    if (v !== undefined && v !== fallback) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The peer of a veth: by name in its own namespace, or found in another
 * namespace this store follows (the veth there that points back at this
 * one). Undefined when the peer is somewhere the store cannot see.
 */
function peerOf(db: Source, r: StoreRecord): InterfaceTarget['peer'] {
  const netns = r.netns as string;
  if (r.kind !== 'veth' || typeof r.link !== 'number') return undefined;
  if (r.link_netnsid === undefined) {
    const name = nameOf(db, netns, r.link);
    return name ? { ifname: name } : undefined;
  }
  for (const other of links(db).namespaces) {
    if (other === netns) continue;
    const p = links(db).byIndex(other, r.link);
    if (p && p.kind === 'veth' && p.link === r.index && p.link_netnsid !== undefined) {
      return { ifname: p.ifname as string, netns: other };
    }
  }
  return undefined;
}

function addrGenMode(r: StoreRecord): string | undefined {
  const mode = (r.af_spec as { inet6?: { addr_gen_mode?: number } } | undefined)?.inet6?.addr_gen_mode;
  return mode === undefined ? undefined : (ADDR_GEN_MODES.name(mode) as string);
}

/** A tun/tap device's options from its record (IFLA_TUN_*), so it can be made again. */
export function tuntapOf(r: StoreRecord): TuntapOptions | undefined {
  if (r.kind !== 'tun') return undefined;
  const d = (r.data ?? {}) as Record<string, number | undefined>;
  return defined({
    mode: d.type === 2 ? 'tap' : 'tun',
    owner: d.owner === undefined || d.owner === 0xffffffff ? undefined : d.owner,
    group: d.group === undefined || d.group === 0xffffffff ? undefined : d.group,
    multi_queue: d.multi_queue ? true : undefined,
    pi: d.pi ? true : undefined,
    vnet_hdr: d.vnet_hdr ? true : undefined,
  }) as TuntapOptions;
}

/** A bridge port's options (IFLA_BRPORT_*), the ones a transaction sets. */
function brportOf(r: StoreRecord): Record<string, number> | undefined {
  if (r.slave_kind !== 'bridge' || !r.slave_data) return undefined;
  const d = r.slave_data as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const k of BRPORT_NAMES) if (typeof d[k] === 'number') out[k] = d[k] as number;
  return out;
}

/** The link a stacked link sits on: IFLA_LINK, or for a vxlan its device option (IFLA_VXLAN_LINK). */
function lowerOf(db: Source, netns: string, r: StoreRecord): string | undefined {
  if (r.kind === 'vxlan') return nameOf(db, netns, (r.data as { link?: number } | undefined)?.link);
  const stacked = r.kind !== 'veth' && r.link_netnsid === undefined && typeof r.link === 'number';
  return stacked ? nameOf(db, netns, r.link) : undefined;
}

export function interfaceOf(db: Source, r: StoreRecord): InterfaceTarget {
  const netns = r.netns as string;
  return defined({
    netns,
    ifname: r.ifname as string,
    index: r.index as number,
    kind: r.kind as string | undefined,
    state: r.state as 'up' | 'down',
    mtu: r.mtu as number | undefined,
    address: r.address as string | undefined,
    master: nameOf(db, netns, r.master),
    ifalias: r.ifalias as string | undefined,
    txqlen: r.txqlen as number | undefined,
    addr_gen_mode: addrGenMode(r),
    link: lowerOf(db, netns, r),
    peer: peerOf(db, r),
    data: recreatable(r.kind, r.data),
    tuntap: tuntapOf(r),
    brport: brportOf(r),
    altnames: (r.altnames as string[] | undefined)?.length ? [...(r.altnames as string[])] : undefined,
    // In the kernel's order: a link put back gets them in it, the primaries first.
    ipaddr: [...((r.ipaddr as string[]) ?? [])],
    ports: links(db)
      .portsOf(netns, r.index as number)
      .map((p) => p.ifname as string)
      .sort(),
  });
}

/** Links stacked on this one (macvlan, vlan, vxlan on it): the kernel deletes them with it and caps their MTU at its. */
export function uppersOf(db: Source, netns: string, index: number): StoreRecord[] {
  return links(db)
    .stackedOn(netns, index)
    .filter((r) => r.kind !== 'veth' && r.link_netnsid === undefined && r.index !== index);
}

/** The store filter that finds the route a target names (its identity: netns, family, table, dst, priority). */
export function routeLookup(
  t: Pick<RouteTarget, 'netns' | 'family' | 'table' | 'dst' | 'priority' | 'tos'>,
): Record<string, unknown> {
  const filter: Record<string, unknown> = { netns: t.netns, family: t.family, dst: t.dst, table: t.table };
  if (t.priority !== undefined) filter.priority = t.priority;
  if (t.tos) filter.tos = t.tos;
  return filter;
}

/** A route's priority as the kernel stores it: none given is 0 for IPv4, 1024 for IPv6. */
export function priorityOf(t: Pick<RouteTarget, 'family' | 'priority'>): number {
  return t.priority ?? DEFAULT_PRIORITY[t.family];
}

export function routeOf(db: Source, r: StoreRecord): RouteTarget {
  const netns = r.netns as string;
  const hops = (r.multipath as Record<string, unknown>[] | undefined) ?? [];
  return defined({
    netns,
    family: r.family as 'inet' | 'inet6',
    table: r.table as number,
    dst: r.dst as string,
    priority: r.priority as number | undefined,
    type: r.type as string,
    scope: r.scope as string,
    proto: r.proto as string,
    gateway: r.gateway as string | undefined,
    // Store records carry the device's name already (`dev`): no link to decode per route.
    dev: (r.dev as string | undefined) ?? nameOf(db, netns, r.oif),
    prefsrc: r.prefsrc as string | undefined,
    metrics: r.metrics as Record<string, number> | undefined,
    tos: r.tos ? (r.tos as number) : undefined,
    onlink: hops.length === 0 && ((r.flags as number) & RTNH_F_ONLINK) !== 0 ? true : undefined,
    multipath: hops.map(
      (h) =>
        defined({
          gateway: h.gateway as string | undefined,
          dev: (h.dev as string | undefined) ?? nameOf(db, netns, h.oif),
          hops: h.hops as number,
          onlink: ((h.flags as number) & RTNH_F_ONLINK) !== 0 ? true : undefined,
        }) as NexthopTarget,
    ),
  });
}

const RTNH_F_ONLINK = 4;

export function ruleOf(r: StoreRecord): RuleTarget {
  const { flags, ...rest } = r;
  const rule: Record<string, unknown> = { ...rest };
  if (((flags as number) & FIB_RULE_INVERT) !== 0) rule.invert = true;
  return normalizeRule(rule as RuleTarget);
}

const FIB_RULE_INVERT = 0x2;
const NONE = 0xffffffff;

/**
 * A rule in one canonical form, whether it came from the kernel or from a
 * spec: the values the kernel fills in by default are left out (tos 0, no
 * suppression, a full fwmask, action to_tbl when a table is named, protocol
 * unspec, table 0 for actions that need none), so two forms of one rule are
 * equal field by field.
 */
export function normalizeRule(r: RuleTarget): RuleTarget {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (v === undefined) continue;
    if (k === 'tos' && v === 0) continue;
    if ((k === 'suppress_prefixlen' || k === 'suppress_ifgroup') && v === NONE) continue;
    if (k === 'fwmask' && v === NONE) continue;
    if (k === 'action' && v === 'to_tbl') continue;
    if (k === 'proto' && v === 'unspec') continue;
    if (k === 'table' && v === 0) continue;
    if (k === 'l3mdev' && (v === 0 || v === false)) continue;
    if (k === 'invert' && v === false) continue;
    out[k] = v;
  }
  return out as RuleTarget;
}

export function neighbourOf(db: Source, r: StoreRecord): NeighbourTarget {
  const netns = r.netns as string;
  return defined({
    netns,
    family: r.family as 'inet' | 'inet6',
    dev: nameOf(db, netns, r.ifindex) as string,
    dst: r.dst as string,
    lladdr: r.lladdr as string | undefined,
    state: r.state as string,
  });
}
