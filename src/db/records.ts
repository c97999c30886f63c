/** Rows to the plain, frozen records users get. */

import type { AddressRecord } from '../backends/netlink/families/address.js';
import type { FilterRecord } from '../backends/netlink/families/filter.js';
import type { LinkRecord } from '../backends/netlink/families/link.js';
import type { NeighbourRecord } from '../backends/netlink/families/neighbour.js';
import type { QdiscRecord } from '../backends/netlink/families/qdisc.js';
import type { RouteRecord } from '../backends/netlink/families/route.js';
import type { RuleRecord } from '../backends/netlink/families/rule.js';
import type { Kind } from './kinds/kind.js';
import { decodeBody } from './kinds/kind.js';

export type StoreRecord = Readonly<Record<string, unknown>>;

/** A record as the store gives it: the kernel's object, frozen, with the namespace it lives in. */
export type Stored<T> = Readonly<T & { netns: string }>;

/** An interface (`db.interfaces`): its link record and its addresses ('a/len', in the kernel's order). */
export type InterfaceRecord = Stored<LinkRecord & { ipaddr: string[] }>;
/** An address (`db.addresses`). */
export type StoredAddress = Stored<AddressRecord>;
/** A route (`db.routes`), with its device's name beside its index (`dev`, also on each nexthop). */
export type StoredRoute = Stored<RouteRecord & { dev?: string }>;
/** A rule (`db.rules`). */
export type StoredRule = Stored<RuleRecord>;
/** A neighbour (`db.neighbours`). */
export type StoredNeighbour = Stored<NeighbourRecord>;
/**
 * A root or ingress qdisc (`db.qdiscs`), with its interface's name; `default`
 * when it is the one the kernel attached (handle 0:); an ingress qdisc that
 * forwards all traffic to another device says where (`forward`: its name, or
 * its index when no link has that index any more).
 */
export type StoredQdisc = Stored<QdiscRecord & { ifname?: string; default?: true; forward?: string | number }>;
/** A filter of an ingress or clsact qdisc (`db.filters`); `forward` as on qdiscs; mirred actions name their `dev`. */
export type StoredFilter = Stored<FilterRecord & { ifname?: string; forward?: string | number }>;

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** What a collection adds to a decoded record (names for indexes, an interface's addresses); may change `rec`. */
export type Extra = (
  ns: number,
  body: Buffer,
  rec: Record<string, unknown>,
  memo: Map<string, unknown>,
) => Record<string, unknown> | undefined;

/** A record decoded from a stored body, with the namespace it lives in. */
export function toRecord(
  kind: Kind,
  netns: string,
  body: Buffer,
  extra?: Record<string, unknown> | ((rec: Record<string, unknown>) => Record<string, unknown> | undefined),
): StoreRecord {
  const rec = decodeBody(kind.family, body);
  const more = typeof extra === 'function' ? extra(rec) : extra;
  return deepFreeze({ netns, ...rec, ...more });
}
