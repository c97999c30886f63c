/**
 * Interface names by namespace and index, for records that name a link by
 * its index (addresses, neighbours, routes' devices, a link's master).
 *
 * Read once from the store, then kept by the event stream. A removed link
 * keeps its name here: the events that follow its removal (its addresses
 * and routes going with it) are published after the store dropped the link,
 * and their records carry only the index, so asking the store would give
 * `dev 2` where `ip monitor` says `dev v0`.
 */
import type { NetState, StoreEvent, StoreRecord } from '../index.js';

export class InterfaceNames {
  private readonly names = new Map<string, Map<number, string>>();

  constructor(db: NetState) {
    for (const i of db.interfaces.iterate()) this.set(i.netns, i.index, i.ifname);
  }

  /** Learns a name from an interface event (added, renamed or removed: the name is kept). */
  learn(e: StoreEvent): void {
    if (e.kind !== 'interface') return;
    const r = (e.after ?? e.before) as StoreRecord;
    this.set(String(r.netns), r.index, r.ifname);
  }

  /** The name, or `if<index>` (what iproute2 prints for an index it cannot name). */
  of(netns: string, index: unknown): string {
    return this.names.get(netns)?.get(index as number) ?? `if${String(index)}`;
  }

  private set(netns: string, index: unknown, ifname: unknown): void {
    if (typeof index !== 'number' || typeof ifname !== 'string') return;
    let inNs = this.names.get(netns);
    if (!inNs) this.names.set(netns, (inNs = new Map()));
    inNs.set(index, ifname);
  }
}
