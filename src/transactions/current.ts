/** Records of the store turned into targets: the state a transaction starts from. */
import type { NetState } from '../db/netstate.js';
import type { StoreRecord } from '../db/records.js';
import type { InterfaceTarget, NeighbourTarget, NexthopTarget, RouteTarget, RuleTarget } from './staged.js';

function nameOf(db: NetState, netns: string, index: unknown): string | undefined {
  if (typeof index !== 'number' || index === 0) return undefined;
  return db.interfaces.get({ netns, index })?.ifname as string | undefined;
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export function interfaceOf(db: NetState, r: StoreRecord): InterfaceTarget {
  const netns = r.netns as string;
  return defined({
    netns,
    ifname: r.ifname as string,
    kind: r.kind as string | undefined,
    state: r.state as 'up' | 'down',
    mtu: r.mtu as number | undefined,
    address: r.address as string | undefined,
    master: nameOf(db, netns, r.master),
    ifalias: r.ifalias as string | undefined,
    txqlen: r.txqlen as number | undefined,
    // A veth whose peer is in this namespace: enough to recreate the pair.
    peer:
      r.kind === 'veth' && r.link_netnsid === undefined && nameOf(db, netns, r.link)
        ? { ifname: nameOf(db, netns, r.link) as string }
        : undefined,
    ipaddr: [...((r.ipaddr as string[]) ?? [])].sort(),
    ports: db.interfaces
      .list({ netns, master: r.index as number })
      .map((p) => p.ifname as string)
      .sort(),
  });
}

export function routeOf(db: NetState, r: StoreRecord): RouteTarget {
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
    dev: nameOf(db, netns, r.oif),
    prefsrc: r.prefsrc as string | undefined,
    metrics: r.metrics as Record<string, number> | undefined,
    multipath: hops.map(
      (h) =>
        defined({
          gateway: h.gateway as string | undefined,
          dev: nameOf(db, netns, h.oif),
          hops: h.hops as number,
        }) as NexthopTarget,
    ),
  });
}

export function ruleOf(r: StoreRecord): RuleTarget {
  const { flags: _flags, ...rest } = r;
  return { ...rest } as RuleTarget;
}

export function neighbourOf(db: NetState, r: StoreRecord): NeighbourTarget {
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
