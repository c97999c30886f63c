/**
 * Records as JSON: a plain array, written record by record (100 000 routes
 * never become one string), and records with the names of the devices they
 * point at by index (`dev` beside `oif`, `index` or `ifindex`, as
 * `db.routes` already gives routes).
 */
import type { KindName, StoreRecord } from '../index.js';
import type { FormatContext } from './format-context.js';
import type { Output } from './output.js';

/** `[`, each record indented as JSON.stringify(array, null, 2) would, `]`. */
export async function writeJsonArray(out: Output, records: Iterable<unknown>): Promise<void> {
  let held: string | undefined;
  for (const r of records) {
    if (held === undefined) await out.line('[');
    else await out.line(`${held},`);
    held = `  ${JSON.stringify(r, null, 2).replace(/\n/g, '\n  ')}`;
  }
  if (held === undefined) return out.line('[]');
  await out.line(held);
  await out.line(']');
}

/** The record with its device's name (`dev`), when it names one by index and lacks it. */
export function withDeviceNames(kind: KindName | string, r: StoreRecord, ctx: FormatContext): StoreRecord {
  const netns = String(r.netns);
  switch (kind) {
    case 'address':
      return r.dev === undefined ? { ...r, dev: ctx.ifname(netns, r.index) } : r;
    case 'neighbour':
      return r.dev === undefined ? { ...r, dev: ctx.ifname(netns, r.ifindex) } : r;
    case 'route': {
      if (r.dev !== undefined || (r.oif === undefined && !Array.isArray(r.multipath))) return r;
      const out: Record<string, unknown> = { ...r };
      if (r.oif !== undefined) out.dev = ctx.ifname(netns, r.oif);
      if (Array.isArray(r.multipath)) {
        out.multipath = (r.multipath as Record<string, unknown>[]).map((h) =>
          h.oif === undefined || h.dev !== undefined ? h : { ...h, dev: ctx.ifname(netns, h.oif) },
        );
      }
      return out;
    }
    default:
      return r;
  }
}
