/**
 * A namespace as iproute2 shows it, with everything a rollback must put
 * back: every link attribute `ip -j -d link` prints (index, MAC, MTU,
 * alias, master, lower link, kind options, port options...), addresses in
 * the kernel's order with their flags (a secondary that came back as a
 * primary is a difference), routes of every table with every attribute,
 * rules of both families, and permanent neighbours. Only counters and
 * timers that change by themselves are left out. Used where a test claims
 * "exactly as before".
 */
import { ipJson } from './netns.js';

type Json = Record<string, unknown>;

/**
 * Fields that change with time or traffic, not with configuration; and a
 * bridge's TSO limits, which it takes from its ports and keeps when they
 * leave (no request sets them back).
 */
const VOLATILE = new Set([
  'tso_max_size',
  'tso_max_segs',
  'stats',
  'stats64',
  'operstate',
  'linkmode',
  'carrier_changes',
  'carrier_up_count',
  'carrier_down_count',
  'valid_life_time',
  'preferred_life_time',
  'expires',
  'cache',
  'used',
  'confirmed',
  'updated',
  'probes',
  'flags_ext',
  // An IPv6 address is tentative while duplicate address detection runs: a timing, not a state.
  'tentative',
]);

/** Per-port bridge state that the bridge's timers move (not configuration). */
const BRIDGE_TIMERS = new Set([
  'hello_timer',
  'tcn_timer',
  'topology_change_timer',
  'gc_timer',
  'message_age_timer',
  'forward_delay_timer',
  'hold_timer',
  'state',
  'root_port',
  'root_path_cost',
  'topology_change',
  'topology_change_detected',
  'designated_root',
  'designated_bridge',
  'designated_port',
  'designated_cost',
  'root_id',
  'bridge_id',
  'mcast_querier_state',
  'config_pending',
  'topology_change_ack',
  'no',
  'id',
]);

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      if (VOLATILE.has(k) || BRIDGE_TIMERS.has(k)) continue;
      out[k] = strip(v);
    }
    return out;
  }
  return value;
}

export interface ExactView {
  links: unknown[];
  addresses: unknown[];
  routes: unknown[];
  rules: unknown[];
  neighbours: unknown[];
}

/** Flags of a link that the kernel sets as carrier comes and goes (state, not configuration). */
function linkFlags(flags: unknown): unknown {
  return ((flags as string[]) ?? []).filter((f) => f !== 'LOWER_UP' && f !== 'NO-CARRIER' && f !== 'M-DOWN');
}

/** The kernel's own default qdiscs: a link that never was up has noop, and keeps noqueue once it was. */
const DEFAULT_QDISCS = new Set(['noop', 'noqueue']);

export function exactView(ns: string): ExactView {
  const links = ipJson<Json[]>(ns, '-d', 'link', 'show').map((l) => {
    const s = strip(l) as Json;
    s.flags = linkFlags(l.flags);
    if (DEFAULT_QDISCS.has(s.qdisc as string)) delete s.qdisc;
    return s;
  });
  const addresses = ipJson<Json[]>(ns, 'addr', 'show').map((l) => ({
    ifname: l.ifname,
    addr_info: strip(l.addr_info),
  }));
  const routes: unknown[] = [];
  for (const family of ['-4', '-6']) {
    for (const r of ipJson<Json[]>(ns, family, '-d', 'route', 'show', 'table', 'all')) {
      if (r.type === 'multicast' || (family === '-6' && r.dst === 'ff00::/8')) continue;
      routes.push(strip(r));
    }
  }
  const rules = ['-4', '-6'].flatMap((f) => ipJson<Json[]>(ns, f, 'rule', 'show').map(strip));
  const neighbours = ipJson<Json[]>(ns, 'neigh', 'show', 'nud', 'permanent').map(strip);
  const key = (x: unknown) => JSON.stringify(x);
  return {
    links,
    addresses,
    routes: routes.sort((a, b) => (key(a) < key(b) ? -1 : 1)),
    rules,
    neighbours: neighbours.sort((a, b) => (key(a) < key(b) ? -1 : 1)),
  };
}

/**
 * Waits until what the kernel does by itself after links come up has been
 * done (carrier and operstate updated by its delayed link update, link-local
 * addresses made): two reads in a row the same, and no link up with carrier
 * but not yet operationally up. Bounded (3 s); for the "before" of a test
 * that compares before and after.
 */
export async function settledView(ns: string[], db: { sync(): Promise<void> }): Promise<ExactView[]> {
  const deadline = Date.now() + 3000;
  let last = '';
  for (;;) {
    await db.sync();
    const views = ns.map((n) => exactView(n));
    const pending = ns.some((n) =>
      ipJson<Json[]>(n, 'link', 'show').some((l) => {
        const f = (l.flags as string[]) ?? [];
        return f.includes('UP') && f.includes('LOWER_UP') && l.operstate !== 'UP' && l.operstate !== 'UNKNOWN';
      }),
    );
    const now = JSON.stringify(views);
    if ((!pending && now === last) || Date.now() > deadline) return views;
    last = now;
  }
}
