/**
 * `netstate show [links|addresses|routes|rules|neighbours]`: every record of a
 * kind as aligned columns (a `netns` column first when several namespaces
 * are shown), or a JSON array of records. Routes of table main unless
 * `--table` says otherwise; both address families unless -4 or -6.
 */
import { ValidationError } from '../errors.js';
import type { Filter, KindName, NetState, StoreRecord } from '../index.js';
import { AlignedTable } from './aligned-table.js';
import { COLUMNS, rowsOf } from './columns.js';
import type { FormatContext } from './format-context.js';
import { familyOf, type GlobalOptions } from './global-options.js';
import { withDeviceNames, writeJsonArray } from './json.js';
import type { Output } from './output.js';
import { RouteTables } from './route-tables.js';
import { formatContext } from './store-names.js';

type CollectionName = 'interfaces' | 'addresses' | 'routes' | 'rules' | 'neighbours';

export const WHAT: Record<string, { kind: KindName; collection: CollectionName }> = {
  links: { kind: 'interface', collection: 'interfaces' },
  addresses: { kind: 'address', collection: 'addresses' },
  routes: { kind: 'route', collection: 'routes' },
  rules: { kind: 'rule', collection: 'rules' },
  neighbours: { kind: 'neighbour', collection: 'neighbours' },
};

/** ip's names and the singular forms for the same tables. */
const SYNONYMS: Record<string, string> = {
  link: 'links',
  address: 'addresses',
  addr: 'addresses',
  route: 'routes',
  rule: 'rules',
  neighbour: 'neighbours',
  neighbor: 'neighbours',
  neighbors: 'neighbours',
  neigh: 'neighbours',
};

/** The table a word names, or a ValidationError listing them. */
export function whatOf(word: string): string {
  const what = SYNONYMS[word] ?? word;
  if (!WHAT[what]) throw new ValidationError(`"${word}" is not one of ${Object.keys(WHAT).join(', ')}`, 'what');
  return what;
}

export interface ShowOptions extends GlobalOptions {
  table?: string;
  dev?: string;
}

/** The store filter of `show WHAT` with its options; checked before the store is opened. */
export function showFilter(what: string, o: ShowOptions, tables: RouteTables): Filter {
  if (o.table !== undefined && what !== 'routes' && what !== 'rules') {
    throw new ValidationError('--table applies to routes and rules only', 'table');
  }
  if (o.dev !== undefined && what === 'rules') throw new ValidationError('--dev does not apply to rules', 'dev');
  const family = familyOf(o);
  const table = o.table === undefined ? (what === 'routes' ? 254 : undefined) : tables.parse(o.table);
  const filter: Filter = { dev: o.dev };
  if (what !== 'links') filter.family = family;
  if (table !== undefined && !(what === 'rules' && table === 'all')) filter.table = table;
  return filter;
}

/** The aligned table of one kind's records (rows of a multipath route's nexthops included). */
function tableOf(db: NetState, what: string, records: Iterable<StoreRecord>, ctx: FormatContext): AlignedTable {
  const { kind } = WHAT[what] as (typeof WHAT)[string];
  const several = db.followed.length > 1;
  const table = new AlignedTable([...(several ? ['netns'] : []), ...COLUMNS[kind].map((c) => c.header)], new Set(['weight']));
  for (const r of records) {
    for (const row of rowsOf(kind, r, ctx)) table.push(several ? [String(r.netns), ...row] : row);
  }
  return table;
}

/** Prints `show WHAT`: aligned columns, or a JSON array of records. */
export async function printTable(
  db: NetState,
  what: string,
  filter: Filter,
  json: boolean,
  ctx: FormatContext,
  out: Output,
): Promise<void> {
  const { kind, collection } = WHAT[what] as (typeof WHAT)[string];
  const records = db[collection].iterate(filter);
  if (json) {
    const named = (function* () {
      for (const r of records) yield withDeviceNames(kind, r, ctx);
    })();
    return writeJsonArray(out, named);
  }
  const table = tableOf(db, what, records, ctx);
  if (table.size === 0) return out.line(`(no ${what})`);
  await table.write(out, process.stdout.isTTY === true);
}

/** The same as one string, for a small table (the demo prints a few). */
export function showTable(db: NetState, what: string, filter: Filter, json: boolean): string {
  const { collection } = WHAT[what] as (typeof WHAT)[string];
  const records = db[collection].list(filter);
  if (json) return JSON.stringify(records, null, 2);
  const table = tableOf(db, what, records, formatContext(db, RouteTables.load()));
  return table.size ? [...table.lines()].join('\n') : `(no ${what})`;
}
