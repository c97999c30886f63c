/**
 * What the kernel does to root qdiscs without an event (kernel 6.18, seen
 * with `tc monitor`): a link that comes up with no root of its own gets the
 * default one (noqueue for a veth or a bridge, pfifo_fast or mq for a device
 * with a queue), and a root deleted from a link that is up is replaced by the
 * default, both silently. The kernel cannot be imitated here (which default a
 * device gets depends on flags the store does not see), so those links' roots
 * are asked for again (see Source).
 *
 * A u32 filter changed in place (`tc filter replace|change ... handle
 * 800::800`: RTM_NEWTFILTER without NLM_F_EXCL) is announced with its OLD
 * content: u32_change() swaps in a new key node but leaves the handle the
 * notification is built from on the old one, about to be freed. The
 * announcement carries the request's own flags (tc monitor says "replaced"
 * for CREATE without EXCL). So after any RTM_NEWTFILTER that was not an
 * exclusive add, that device's filters under that parent are asked for
 * again; the answer (NLM_F_MULTI) does not ask again.
 *
 * A mirred action whose target link goes away (deleted, or moved to another
 * namespace) stays, and from then on the kernel reports its target as
 * ifindex 0 (`tc` shows `to device *`), without a word: the blocks holding
 * such an action are asked for again when a link goes.
 */
import { readLink } from '../backends/netlink/families/link-bytes.js';
import { TC_H_ROOT } from '../backends/netlink/families/qdisc.js';
import { filterParentOf } from './kinds/filter.js';
import { decodeBody } from './kinds/kind.js';
import type { RowChange, Store } from './store.js';

const IFF_UP = 0x1;
const RTM_NEWTFILTER = 44;
const NLM_F_MULTI = 0x2;
const NLM_F_EXCL = 0x200;

/** The (device, block) of each filter announced as changed in place in a batch of raw notifications. */
export function replacedFilters(batch: readonly Buffer[]): { index: number; parent: number }[] {
  const out = new Map<string, { index: number; parent: number }>();
  for (const m of batch) {
    if (m.length < 36 || m.readUInt16LE(4) !== RTM_NEWTFILTER || m.readUInt16LE(6) & (NLM_F_EXCL | NLM_F_MULTI)) continue;
    const index = m.readInt32LE(20);
    // The requester's spelling (ffff: or ffff:fff2) as the block the store keys by.
    const parent = filterParentOf(m.readUInt32LE(28));
    if (parent === undefined) continue;
    out.set(`${index}|${parent}`, { index, parent });
  }
  return [...out.values()];
}

/** The links of one applied batch whose root qdisc may have changed unannounced: up, and without a root row. */
export function rootsToAsk(store: Store, ns: number, changes: readonly RowChange[]): number[] {
  const candidates = new Set<number>();
  for (const c of changes) {
    if (c.kind === 'interface' && c.after) {
      const after = readLink(c.after);
      const before = c.before ? readLink(c.before) : undefined;
      if (after.flags & IFF_UP && !(before && before.flags & IFF_UP)) candidates.add(after.index);
    } else if (c.kind === 'qdisc' && c.action === 'remove' && !c.silent && c.before) {
      if (c.before.readUInt32LE(12) === TC_H_ROOT) candidates.add(c.before.readInt32LE(4));
    }
  }
  if (candidates.size === 0) return [];
  const up = store.sql('SELECT flags FROM interfaces WHERE ns = ? AND idx = ?').pluck();
  const root = store.sql('SELECT 1 FROM qdiscs WHERE ns = ? AND idx = ? AND parent = ?').pluck();
  return [...candidates].filter(
    (index) => ((up.get(ns, index) as number | undefined) ?? 0) & IFF_UP && root.get(ns, index, TC_H_ROOT) === undefined,
  );
}

/** The (device, block) of each filter with an action sending traffic to a link this batch removed. */
export function filtersToAsk(store: Store, ns: number, changes: readonly RowChange[]): { index: number; parent: number }[] {
  const gone = new Set<number>();
  for (const c of changes) if (c.kind === 'interface' && c.action === 'remove' && c.before) gone.add(readLink(c.before).index);
  if (gone.size === 0) return [];
  const out = new Map<string, { index: number; parent: number }>();
  const rows = store.sql('SELECT idx, parent, body FROM filters WHERE ns = ?').all(ns) as {
    idx: number;
    parent: number;
    body: Buffer;
  }[];
  for (const r of rows) {
    if (gone.has(r.idx) || out.has(`${r.idx}|${r.parent}`)) continue;
    const actions = (decodeBody('filter', r.body).actions as { ifindex?: number }[] | undefined) ?? [];
    if (actions.some((a) => a.ifindex !== undefined && gone.has(a.ifindex))) {
      out.set(`${r.idx}|${r.parent}`, { index: r.idx, parent: r.parent });
    }
  }
  return [...out.values()];
}
