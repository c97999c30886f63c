/** Every kind the store keeps, in the order they load (interfaces first: the others name them). */
import { addresses } from './address.js';
import { interfaces } from './interface.js';
import type { Kind, KindName } from './kind.js';
import { neighbours } from './neighbour.js';
import { routes } from './route.js';
import { rules } from './rule.js';

export const KINDS: readonly Kind[] = [interfaces, addresses, routes, rules, neighbours];
export const KIND_BY_NAME: Record<KindName, Kind> = {
  interface: interfaces,
  address: addresses,
  route: routes,
  rule: rules,
  neighbour: neighbours,
};
export { addresses, interfaces, neighbours, routes, rules };
