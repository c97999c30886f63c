/** The names a store's records are printed with: its interfaces' (kept up to date by `names.learn`) and the route tables'. */
import type { NetState } from '../index.js';
import type { FormatContext } from './format-context.js';
import { InterfaceNames } from './interface-names.js';
import type { RouteTables } from './route-tables.js';

export function formatContext(db: NetState, tables: RouteTables): FormatContext & { names: InterfaceNames } {
  const names = new InterfaceNames(db);
  return {
    names,
    ifname: (netns, index) => names.of(netns, index),
    table: (n) => tables.name(n),
  };
}
