/**
 * Everything iproute2 reports about a namespace's settable state, as one
 * comparable value: `ip -j -d` links, addresses, IPv4 and IPv6 routes of
 * every table, rules and neighbours, and `tc -j` qdiscs, read by one shell
 * (about 17 ms). What the kernel changes on its own over time is left out
 * (counters, timers, lifetimes, carrier and operational state, STP's
 * results, the default qdiscs it attaches when carrier comes, neighbours
 * that are not permanent: the kernel ages and collects those, and makes
 * NOARP ones for multicast), so two snapshots differ only when something
 * changed the namespace.
 */
import { execFileSync } from 'node:child_process';

export interface KernelSnapshot {
  links: unknown[];
  addresses: unknown[];
  routes4: unknown[];
  routes6: unknown[];
  rules4: unknown[];
  rules6: unknown[];
  neighbours: unknown[];
  qdiscs: unknown[];
}

const PARTS: [keyof KernelSnapshot, string][] = [
  ['links', '-d link show'],
  ['addresses', 'addr show'],
  ['routes4', '-4 route show table all'],
  ['routes6', '-6 route show table all'],
  ['rules4', '-4 rule show'],
  ['rules6', '-6 rule show'],
  ['neighbours', 'neigh show nud permanent'],
];

/** Keys whose values the kernel changes by itself. */
const VOLATILE =
  /timer$|^stats|_life_time$|^(used|confirmed|updated|probes|operstate|carrier|carrier_changes|carrier_up_count|carrier_down_count|topology_change|topology_change_detected|root_id|root_port|root_path_cost|designated_root|designated_bridge|designated_port|designated_cost|tentative|mcast_querier_state)$/;
/** Flags that follow carrier (linkwatch runs up to a second later). */
const CARRIER_FLAGS = new Set(['LOWER_UP', 'NO-CARRIER', 'M-DOWN', 'DORMANT', 'linkdown']);

function strip(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) {
    const items = value.map((v) => strip(v));
    return key === 'flags' ? items.filter((f) => !CARRIER_FLAGS.has(f as string)) : items;
  }
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (VOLATILE.test(k)) continue;
    // A bridge port's STP state moves with carrier and timers.
    if (k === 'info_slave_data' && v && typeof v === 'object') {
      const { state: _state, ...rest } = v as Record<string, unknown>;
      out[k] = strip(rest, k);
      continue;
    }
    out[k] = strip(v, k);
  }
  return out;
}

export function kernelSnapshot(ns: string): KernelSnapshot {
  const script = [
    ...PARTS.map(([, cmd]) => `ip -n ${ns} -j ${cmd}; echo '\x1e'`),
    `ip netns exec ${ns} tc -j qdisc show; echo '\x1e'`,
  ].join('\n');
  const out = execFileSync('sh', ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const parts = out.split('\x1e\n');
  const snap = {} as KernelSnapshot;
  PARTS.forEach(([name], i) => {
    snap[name] = parseJson(parts[i]);
  });
  // A qdisc with handle 0: is the default one the kernel attaches (and may attach late).
  snap.qdiscs = parseJson(parts[PARTS.length]).filter((q) => (q as { handle?: string }).handle !== '0:');
  return strip(snap) as KernelSnapshot;
}

function parseJson(text: string | undefined): unknown[] {
  const t = (text ?? '').trim();
  return t ? (JSON.parse(t) as unknown[]) : [];
}

/** The first lines where two snapshots differ, for a failure message. */
export function snapshotDiff(a: KernelSnapshot, b: KernelSnapshot): string[] {
  const out: string[] = [];
  for (const key of Object.keys(a) as (keyof KernelSnapshot)[]) {
    const before = a[key].map((x) => JSON.stringify(x));
    const after = b[key].map((x) => JSON.stringify(x));
    for (const line of before) if (!after.includes(line)) out.push(`- ${key}: ${line}`);
    for (const line of after) if (!before.includes(line)) out.push(`+ ${key}: ${line}`);
  }
  return out.slice(0, 10);
}
