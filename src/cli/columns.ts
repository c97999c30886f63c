/**
 * How each kind prints, as data: the columns of `netstate show` (and the
 * words of a `monitor` line), in iproute2's vocabulary.
 */
import type { KindName, StoreRecord } from '../index.js';

/** Resolves an interface index to its name within the record's namespace. */
export type NameOf = (netns: string, index: unknown) => string;

export interface Column {
  header: string;
  value: (r: StoreRecord, nameOf: NameOf) => unknown;
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(' ') : String(v));

const ROUTE_FLAGS: [number, string][] = [
  [1, 'dead'],
  [16, 'linkdown'],
  [4, 'onlink'],
];
const routeFlags = (bits: unknown): string =>
  ROUTE_FLAGS.filter(([b]) => ((bits as number) & b) !== 0)
    .map(([, n]) => n)
    .join(',');

export const COLUMNS: Record<KindName, Column[]> = {
  interface: [
    { header: 'index', value: (r) => r.index },
    { header: 'ifname', value: (r) => r.ifname },
    { header: 'kind', value: (r) => r.kind },
    { header: 'state', value: (r) => r.state },
    { header: 'oper', value: (r) => r.operstate },
    { header: 'mtu', value: (r) => r.mtu },
    { header: 'address', value: (r) => r.address },
    { header: 'master', value: (r, nameOf) => (r.master ? nameOf(r.netns as string, r.master) : '') },
    { header: 'ipaddr', value: (r) => r.ipaddr },
  ],
  address: [
    { header: 'dev', value: (r, nameOf) => nameOf(r.netns as string, r.index) },
    { header: 'family', value: (r) => r.family },
    { header: 'address', value: (r) => `${r.local ?? r.address}/${r.prefixlen}` },
    { header: 'scope', value: (r) => r.scope },
    { header: 'label', value: (r) => r.label },
  ],
  route: [
    { header: 'table', value: (r) => r.table },
    { header: 'type', value: (r) => (r.type === 'unicast' ? '' : r.type) },
    { header: 'dst', value: (r) => r.dst },
    {
      header: 'gateway',
      value: (r) => r.gateway ?? (r.multipath as { gateway?: string }[] | undefined)?.map((h) => h.gateway).join(','),
    },
    { header: 'dev', value: (r, nameOf) => (r.oif ? nameOf(r.netns as string, r.oif) : '') },
    { header: 'proto', value: (r) => r.proto },
    { header: 'scope', value: (r) => (r.scope === 'global' ? '' : r.scope) },
    { header: 'metric', value: (r) => r.priority },
    { header: 'src', value: (r) => r.prefsrc },
    { header: 'flags', value: (r) => routeFlags(r.flags) },
  ],
  rule: [
    { header: 'priority', value: (r) => r.priority ?? 0 },
    { header: 'family', value: (r) => r.family },
    { header: 'from', value: (r) => r.src ?? 'all' },
    { header: 'to', value: (r) => r.dst },
    { header: 'iif', value: (r) => r.iifname },
    { header: 'oif', value: (r) => r.oifname },
    { header: 'fwmark', value: (r) => (r.fwmark === undefined ? '' : `0x${(r.fwmark as number).toString(16)}`) },
    { header: 'action', value: (r) => (r.action === 'to_tbl' ? `lookup ${r.table}` : r.action) },
  ],
  neighbour: [
    { header: 'dev', value: (r, nameOf) => nameOf(r.netns as string, r.ifindex) },
    { header: 'dst', value: (r) => r.dst },
    { header: 'lladdr', value: (r) => r.lladdr },
    { header: 'state', value: (r) => r.state },
  ],
  qdisc: [
    { header: 'dev', value: (r) => r.ifname },
    { header: 'kind', value: (r) => r.kind },
    { header: 'handle', value: (r) => r.handle },
    { header: 'parent', value: (r) => r.parent },
    { header: 'rate', value: (r) => r.rate },
    { header: 'delay', value: (r) => r.delay },
    { header: 'limit', value: (r) => r.limit },
    { header: 'forward', value: (r) => r.forward },
  ],
  filter: [
    { header: 'dev', value: (r) => r.ifname },
    { header: 'parent', value: (r) => r.parent },
    { header: 'protocol', value: (r) => r.protocol },
    { header: 'pref', value: (r) => r.priority },
    { header: 'kind', value: (r) => r.kind },
    { header: 'handle', value: (r) => r.handle },
    { header: 'forward', value: (r) => r.forward },
  ],
};

/** One record as the cells of its row. */
export function cells(kind: KindName, r: StoreRecord, nameOf: NameOf): string[] {
  return COLUMNS[kind].map((c) => text(c.value(r, nameOf)));
}

/** One record on one line, `ip monitor` style: only the non-empty columns, named. */
export function oneLine(kind: KindName, r: StoreRecord, nameOf: NameOf): string {
  return COLUMNS[kind]
    .map((c) => [c.header, text(c.value(r, nameOf))] as const)
    .filter(([, v]) => v !== '')
    .map(([h, v]) => (h === 'dst' || h === 'ifname' ? v : `${h} ${v}`))
    .join(' ');
}
