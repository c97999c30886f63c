/**
 * What the kernel does to root qdiscs without an event (kernel 6.18, seen
 * with `tc monitor`): a link that comes up with no root of its own gets the
 * default one (noqueue for a veth or a bridge, pfifo_fast or mq for a device
 * with a queue), and a root deleted from a link that is up is replaced by the
 * default, both silently. The kernel cannot be imitated here (which default a
 * device gets depends on flags the store does not see), so those links' roots
 * are asked for again (see Source).
 */
import { readLink } from '../backends/netlink/families/link-bytes.js';
import { TC_H_ROOT } from '../backends/netlink/families/qdisc.js';
import type { RowChange, Store } from './store.js';

const IFF_UP = 0x1;

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
