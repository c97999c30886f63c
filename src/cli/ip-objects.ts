/**
 * `netstate link|addr|route|neigh|rule [show] [selectors]`: the show forms of
 * `ip link`, `ip addr`, `ip route`, `ip neigh` and `ip rule`, printed as
 * iproute2 prints them (or as a JSON array of records with --json).
 *
 *   netstate -n lab route show table all dev v0
 *   netstate -6 -n lab addr show v0
 *
 * Like ip, `route` shows IPv4 unless -6 is given (or `table all`), `rule`
 * IPv4 unless -6; `link`, `addr` and `neigh` every family unless -4 or -6.
 */
import { LinkError } from '../errors.js';
import type { Filter, NetState, StoreRecord } from '../index.js';
import { formatAddress } from './format-address.js';
import type { FormatContext } from './format-context.js';
import { formatLink, linkHeader, linkLayer } from './format-link.js';
import { formatNeighbour } from './format-neighbour.js';
import { formatRoute } from './format-route.js';
import { formatRule } from './format-rule.js';
import { familyOf, type GlobalOptions } from './global-options.js';
import { type Grammar, parseSelectors, type Selectors } from './ip-arguments.js';
import { withDeviceNames, writeJsonArray } from './json.js';
import { withStore } from './open-store.js';
import type { Output } from './output.js';
import { RouteTables } from './route-tables.js';
import { formatContext } from './store-names.js';

export interface IpObject {
  /** The name `ip` gives it, and what else it accepts (its abbreviations among them). */
  name: string;
  aliases: string[];
  description: string;
  grammar: Grammar;
  /** The selectors' usage, for --help. */
  usage: string;
  /** Checks the selectors (before any store is opened) and returns what prints. */
  plan(s: Selectors, o: GlobalOptions, tables: RouteTables): Printer;
}

type Printer = (db: NetState, ctx: FormatContext, out: Output) => Promise<void>;

/** A number given as digits is a number; anything else (a name) stays as it is. */
const numberOrName = (v: string | true | undefined): string | number | undefined =>
  typeof v !== 'string' ? undefined : /^\d+$/.test(v) ? Number(v) : v;

/** `dev X` must name a link in one of the namespaces, as `ip` says "Cannot find device". */
function checkDevice(db: NetState, dev: string | true | undefined): string | undefined {
  if (typeof dev !== 'string') return undefined;
  if (db.interfaces.count({ ifname: dev }) === 0) {
    throw new LinkError(`cannot find device "${dev}" in ${db.followed.join(', ')}`);
  }
  return dev;
}

/** Text output: records one after another, under a `netns: NAME` line per namespace when there are several. */
async function printRecords(
  db: NetState,
  records: Iterable<StoreRecord>,
  format: (r: StoreRecord) => string,
  out: Output,
): Promise<void> {
  const several = db.followed.length > 1;
  let netns: unknown;
  for (const r of records) {
    if (several && r.netns !== netns) {
      netns = r.netns;
      await out.line(`\nnetns: ${String(netns)}`);
    }
    await out.line(format(r));
  }
}

async function printList(
  kind: string,
  db: NetState,
  records: Iterable<StoreRecord>,
  format: (r: StoreRecord) => string,
  o: GlobalOptions,
  ctx: FormatContext,
  out: Output,
): Promise<void> {
  if (o.json)
    return writeJsonArray(
      out,
      map(records, (r) => withDeviceNames(kind, r, ctx)),
    );
  return printRecords(db, records, format, out);
}

function* map<T, U>(xs: Iterable<T>, fn: (x: T) => U): Generator<U> {
  for (const x of xs) yield fn(x);
}

export const IP_OBJECTS: IpObject[] = [
  {
    name: 'link',
    aliases: ['l', 'li', 'lin'],
    description: 'network devices, as ip link shows them',
    grammar: { values: { dev: 'dev', master: 'master', type: 'type' }, flags: ['up'], bare: 'dev' },
    usage: '[show] [[dev] NAME] [up] [master NAME] [type KIND]',
    plan: (s, o) => async (db, ctx, out) => {
      const filter: Filter = {
        ifname: checkDevice(db, s.dev),
        state: s.up ? 'up' : undefined,
        master: s.master,
        kind: s.type,
      };
      await printList('interface', db, db.interfaces.iterate(filter), (r) => formatLink(r, ctx), o, ctx, out);
    },
  },
  {
    name: 'address',
    aliases: ['a', 'ad', 'addr', 'addre', 'addres'],
    description: 'addresses, under their devices, as ip addr shows them',
    grammar: { values: { dev: 'dev', scope: 'scope' }, flags: ['up'], bare: 'dev' },
    usage: '[show] [[dev] NAME] [up] [scope SCOPE]',
    plan: (s, o) => async (db, ctx, out) => {
      const dev = checkDevice(db, s.dev);
      const filter: Filter = { dev, family: familyOf(o), scope: s.scope };
      if (o.json) return printList('address', db, db.addresses.iterate(filter), () => '', o, ctx, out);
      // ip addr groups addresses under their link, in the kernel's order.
      const byLink = new Map<string, StoreRecord[]>();
      for (const a of db.addresses.iterate(filter)) {
        const key = `${a.netns}|${a.index}`;
        const list = byLink.get(key);
        if (list) list.push(a);
        else byLink.set(key, [a]);
      }
      const links = db.interfaces.iterate({ ifname: dev, state: s.up ? 'up' : undefined });
      // With a family or scope, only links that have such addresses are shown (as ip does).
      const narrowed = filter.family !== undefined || filter.scope !== undefined;
      const shown = narrowed ? filterIter(links, (l) => byLink.has(`${l.netns}|${l.index}`)) : links;
      await printRecords(
        db,
        shown,
        (l) =>
          [
            linkHeader(l, ctx, false),
            // ip -4/-6 addr leaves the link layer out.
            ...(filter.family === undefined ? [linkLayer(l)] : []),
            ...(byLink.get(`${l.netns}|${l.index}`) ?? []).map(formatAddress),
          ].join('\n'),
        out,
      );
    },
  },
  {
    name: 'route',
    aliases: ['r', 'ro', 'rou', 'rout'],
    description: 'routes, as ip route shows them (table main and IPv4 unless told: table all shows both families)',
    grammar: {
      values: { table: 'table', dev: 'dev', oif: 'dev', proto: 'proto', scope: 'scope', type: 'type', to: 'to', via: 'via' },
      bare: 'to',
    },
    usage: '[show] [table TABLE|all] [dev NAME] [proto PROTO] [scope SCOPE] [type TYPE] [via ADDRESS] [[to] PREFIX]',
    plan: (s, o, tables) => {
      const table = s.table === undefined ? 254 : tables.parse(String(s.table));
      // As ip: IPv4 unless -6, except `table all`, which shows both.
      const family = familyOf(o, table === 'all' ? undefined : 'inet');
      return async (db, ctx, out) => {
        const filter: Filter = {
          family,
          table,
          dev: checkDevice(db, s.dev),
          proto: numberOrName(s.proto),
          scope: numberOrName(s.scope),
          type: s.type,
          dst: s.to,
          gateway: s.via,
        };
        // What every line shares is left out of each, as ip does: the device of `dev X`, the table of `table T`...
        const omit = {
          dev: s.dev !== undefined,
          table: table !== 'all',
          via: s.via !== undefined,
          proto: s.proto !== undefined,
          scope: s.scope !== undefined,
        };
        const lineCtx: FormatContext = { ...ctx, omit };
        await printList('route', db, db.routes.iterate(filter), (r) => formatRoute(r, lineCtx), o, ctx, out);
      };
    },
  },
  {
    name: 'neighbour',
    aliases: ['n', 'ne', 'nei', 'neigh', 'neighbor'],
    description: 'neighbours (ARP and NDP entries), as ip neigh shows them',
    grammar: { values: { dev: 'dev', to: 'to', nud: 'nud' }, bare: 'to' },
    usage: '[show] [dev NAME] [nud STATE] [[to] ADDRESS]',
    plan: (s, o) => async (db, ctx, out) => {
      const filter: Filter = {
        family: familyOf(o),
        dev: checkDevice(db, s.dev),
        dst: s.to,
        state: typeof s.nud === 'string' ? s.nud.toLowerCase() : undefined,
      };
      const lineCtx: FormatContext = { ...ctx, omit: { dev: s.dev !== undefined } };
      await printList('neighbour', db, db.neighbours.iterate(filter), (r) => formatNeighbour(r, lineCtx), o, ctx, out);
    },
  },
  {
    name: 'rule',
    aliases: ['ru', 'rul'],
    description: 'routing policy rules, as ip rule shows them (IPv4 unless -6)',
    grammar: { values: { table: 'table', lookup: 'table', priority: 'priority', pref: 'priority', preference: 'priority' } },
    usage: '[show] [table TABLE] [pref NUMBER]',
    plan: (s, o, tables) => {
      const table = s.table === undefined ? undefined : tables.parse(String(s.table));
      const filter: Filter = {
        family: familyOf(o, 'inet'),
        table: table === 'all' ? undefined : table,
        priority: numberOrName(s.priority),
      };
      return (db, ctx, out) => printList('rule', db, db.rules.iterate(filter), (r) => formatRule(r, ctx), o, ctx, out);
    },
  },
];

function* filterIter<T>(xs: Iterable<T>, keep: (x: T) => boolean): Generator<T> {
  for (const x of xs) if (keep(x)) yield x;
}

/** Runs one object's show form: the words are checked before the store is opened. */
export async function showObject(object: IpObject, args: string[], o: GlobalOptions, out: Output): Promise<void> {
  const tables = RouteTables.load();
  const print = object.plan(parseSelectors(object.name, args, object.grammar), o, tables);
  familyOf(o); // -4 with -6
  await withStore(o.netns, (db) => print(db, formatContext(db, tables), out));
}
