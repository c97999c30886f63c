/** Every kind the store keeps, in the order they load (interfaces first: the others name them). */
import { addresses } from './address.js';
import { filters } from './filter.js';
import { interfaces } from './interface.js';
import type { Kind, KindName } from './kind.js';
import { neighbours } from './neighbour.js';
import { qdiscs } from './qdisc.js';
import { routes } from './route.js';
import { rules } from './rule.js';

/** Filters after qdiscs: they are dumped per ingress qdisc. */
export const KINDS: readonly Kind[] = [interfaces, addresses, routes, rules, neighbours, qdiscs, filters];
export const KIND_BY_NAME: Record<KindName, Kind> = {
  interface: interfaces,
  address: addresses,
  route: routes,
  rule: rules,
  neighbour: neighbours,
  qdisc: qdiscs,
  filter: filters,
};
export { addresses, filters, interfaces, neighbours, qdiscs, routes, rules };
