/**
 * A route as `ip route` prints it (iproute2's print_route): what is the
 * default is left out (type unicast, table main, proto boot, scope global),
 * a whole-address destination has no /32, and a multipath route lists its
 * nexthops on lines of their own:
 *
 *   10.7.0.0/16 proto static
 *   	nexthop via 10.0.0.2 dev d0 weight 1
 *   	nexthop via 10.0.0.3 dev d1 weight 3
 */
import type { StoreRecord } from '../index.js';
import { type FormatContext, hostOrPrefix, words } from './format-context.js';

/** RTNH_F_* and RTM_F_* bits, in the order iproute2 prints them. */
const FLAGS: [number, string][] = [
  [0x1, 'dead'],
  [0x4, 'onlink'],
  [0x2, 'pervasive'],
  [0x8, 'offload'],
  [0x40, 'trap'],
  [0x100, 'notify'],
  [0x10, 'linkdown'],
  [0x20, 'unresolved'],
  [0x4000, 'rt_offload'],
  [0x8000, 'rt_trap'],
  [0x20000000, 'rt_offload_failed'],
];

/** RTA_PREF (IPv6 router preference). */
const PREF: Record<number, string> = { 0: 'medium', 1: 'high', 3: 'low' };

export function routeFlags(bits: unknown): string {
  const n = typeof bits === 'number' ? bits : 0;
  return words(...FLAGS.filter(([b]) => (n & b) !== 0).map(([, name]) => name));
}

interface Hop {
  gateway?: string;
  oif?: number;
  weight?: number;
  flags?: number;
}

/** One line, or one per nexthop after the first for a multipath route. */
export function formatRoute(r: StoreRecord, ctx: FormatContext): string {
  const type = r.type === 'unicast' ? undefined : String(r.type);
  const table = r.table as number;
  const metrics = r.metrics as Record<string, unknown> | undefined;
  const line = words(
    type,
    r.dst === 'default' ? 'default' : hostOrPrefix(String(r.dst)),
    r.src !== undefined && `from ${hostOrPrefix(String(r.src))}`,
    r.tos ? `tos 0x${(r.tos as number).toString(16).padStart(2, '0')}` : undefined,
    r.gateway !== undefined && !ctx.omit?.via && `via ${r.gateway}`,
    r.oif !== undefined && !ctx.omit?.dev && `dev ${ctx.ifname(String(r.netns), r.oif)}`,
    table !== 254 && !ctx.omit?.table && `table ${ctx.table(table)}`,
    r.proto !== 'boot' && !ctx.omit?.proto && `proto ${r.proto}`,
    r.scope !== 'global' && r.scope !== 'universe' && !ctx.omit?.scope && `scope ${r.scope}`,
    r.prefsrc !== undefined && `src ${r.prefsrc}`,
    r.priority !== undefined && `metric ${r.priority}`,
    routeFlags(r.flags),
    ...Object.entries(metrics ?? {}).map(([k, v]) => `${k} ${String(v)}`),
    r.pref !== undefined && `pref ${PREF[r.pref as number] ?? String(r.pref)}`,
    r.nh_id !== undefined && `nhid ${r.nh_id}`,
  );
  const hops = r.multipath as Hop[] | undefined;
  if (!hops) return line;
  const hopLines = hops.map(
    (h) =>
      `\t${words(
        'nexthop',
        h.gateway !== undefined && `via ${h.gateway}`,
        h.oif !== undefined && `dev ${ctx.ifname(String(r.netns), h.oif)}`,
        `weight ${h.weight ?? 1}`,
        routeFlags(h.flags),
      )}`,
  );
  return [line, ...hopLines].join('\n');
}
