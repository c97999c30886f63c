/**
 * How each kind prints in `netstate show`: its columns, as data, in
 * iproute2's vocabulary (names for tables, devices, protocols and scopes).
 * A multipath route takes one row, then one row per nexthop with its
 * gateway, device and weight.
 */
import type { KindName, StoreRecord } from '../index.js';
import type { FormatContext } from './format-context.js';
import { linkFlags } from './format-link.js';
import { neighbourState } from './format-neighbour.js';
import { routeFlags } from './format-route.js';

export interface Column {
  header: string;
  value: (r: StoreRecord, ctx: FormatContext) => unknown;
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(' ') : String(v));
const ns = (r: StoreRecord): string => String(r.netns);

export const COLUMNS: Record<KindName, Column[]> = {
  interface: [
    { header: 'index', value: (r) => r.index },
    { header: 'ifname', value: (r) => r.ifname },
    { header: 'kind', value: (r) => r.kind },
    { header: 'state', value: (r) => r.state },
    { header: 'oper', value: (r) => r.operstate },
    { header: 'mtu', value: (r) => r.mtu },
    { header: 'address', value: (r) => r.address },
    { header: 'master', value: (r, c) => (r.master ? c.ifname(ns(r), r.master) : '') },
    { header: 'flags', value: (r) => linkFlags(r.flags) },
    { header: 'ipaddr', value: (r) => r.ipaddr },
  ],
  address: [
    { header: 'dev', value: (r, c) => c.ifname(ns(r), r.index) },
    { header: 'family', value: (r) => r.family },
    { header: 'address', value: (r) => `${r.local ?? r.address}/${r.prefixlen}` },
    { header: 'brd', value: (r) => r.broadcast },
    { header: 'scope', value: (r) => r.scope },
    { header: 'label', value: (r) => r.label },
  ],
  route: [
    { header: 'table', value: (r, c) => c.table(r.table as number) },
    { header: 'type', value: (r) => (r.type === 'unicast' ? '' : r.type) },
    { header: 'dst', value: (r) => r.dst },
    { header: 'gateway', value: (r) => r.gateway },
    { header: 'dev', value: (r, c) => (r.oif ? c.ifname(ns(r), r.oif) : '') },
    { header: 'weight', value: () => '' },
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
    {
      header: 'action',
      value: (r, c) => (r.action === 'to_tbl' ? `lookup ${c.table(r.table as number)}` : r.action),
    },
  ],
  neighbour: [
    { header: 'dev', value: (r, c) => c.ifname(ns(r), r.ifindex) },
    { header: 'dst', value: (r) => r.dst },
    { header: 'lladdr', value: (r) => r.lladdr },
    { header: 'state', value: (r) => neighbourState(r.state) },
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

interface Hop {
  gateway?: string;
  oif?: number;
  weight?: number;
  flags?: number;
}

/** One record as the cells of its rows: one row, and one more per nexthop of a multipath route. */
export function rowsOf(kind: KindName, r: StoreRecord, ctx: FormatContext): string[][] {
  const columns = COLUMNS[kind];
  const rows = [columns.map((c) => text(c.value(r, ctx)))];
  if (kind === 'route' && Array.isArray(r.multipath)) {
    for (const h of r.multipath as Hop[]) {
      const hop: Record<string, string> = {
        gateway: text(h.gateway),
        dev: h.oif ? ctx.ifname(ns(r), h.oif) : '',
        weight: String(h.weight ?? 1),
        flags: routeFlags(h.flags),
      };
      rows.push(columns.map((c) => hop[c.header] ?? ''));
    }
  }
  return rows;
}
