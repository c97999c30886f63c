/** `netstate show [links|addresses|routes|rules|neighbours]`: tables like `ip` prints, or JSON. */
import Table from 'cli-table3';
import type { Filter, KindName, NetState, StoreRecord } from '../index.js';
import { COLUMNS, cells, type NameOf } from './columns.js';

export const WHAT: Record<
  string,
  { kind: KindName; collection: 'interfaces' | 'addresses' | 'routes' | 'rules' | 'neighbours' }
> = {
  links: { kind: 'interface', collection: 'interfaces' },
  addresses: { kind: 'address', collection: 'addresses' },
  routes: { kind: 'route', collection: 'routes' },
  rules: { kind: 'rule', collection: 'rules' },
  neighbours: { kind: 'neighbour', collection: 'neighbours' },
};

/** Borderless, like iproute2's columns. */
const PLAIN = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

export function interfaceNames(db: NetState): NameOf {
  return (netns, index) => String(db.interfaces.get({ netns, index: index as number })?.ifname ?? index ?? '');
}

export function showTable(db: NetState, what: string, filter: Filter, json: boolean): string {
  const { kind, collection } = WHAT[what] as (typeof WHAT)[string];
  const records: StoreRecord[] = db[collection].list(filter);
  if (json) return JSON.stringify(records, null, 2);
  const several = db.followed.length > 1;
  const head = [...(several ? ['netns'] : []), ...COLUMNS[kind].map((c) => c.header)];
  const style = { head: process.stdout.isTTY ? ['bold'] : [], border: [], 'padding-left': 0, 'padding-right': 0 };
  const table = new Table({ head, chars: PLAIN, style });
  const nameOf = interfaceNames(db);
  for (const r of records) table.push([...(several ? [String(r.netns)] : []), ...cells(kind, r, nameOf)]);
  return records.length ? table.toString().replace(/ +$/gm, '') : `(no ${what})`;
}
