/**
 * Applies what the kernel reported — a batch of raw notifications — to the
 * store in one SQLite transaction, with the changes the kernel made silently
 * because of them. Returns every row change, in order, for the event stream.
 */
import { FAMILIES, type FamilyName } from '../backends/netlink/codec/message.js';
import { KINDS } from './kinds/index.js';
import type { Kind } from './kinds/kind.js';
import { SilentChanges } from './silent-changes.js';
import type { RowChange, Store } from './store.js';

interface TypeEntry {
  kind: Kind;
  remove: boolean;
}

const BY_TYPE = new Map<number, TypeEntry>();
for (const kind of KINDS) {
  const fam = FAMILIES[kind.family as FamilyName];
  BY_TYPE.set(fam.types.new, { kind, remove: false });
  BY_TYPE.set(fam.types.del, { kind, remove: true });
}

export class Applier {
  private readonly silent: SilentChanges;
  private readonly apply: (ns: number, messages: readonly Buffer[]) => RowChange[];

  constructor(private readonly store: Store) {
    this.silent = new SilentChanges(store);
    this.apply = store.db.transaction((ns: number, messages: readonly Buffer[]) => {
      const changes: RowChange[] = [];
      for (const m of messages) {
        const entry = BY_TYPE.get(m.readUInt16LE(4));
        if (!entry) continue;
        const values = entry.kind.row(m, 0, m.readUInt32LE(0));
        if (!values) continue;
        const remove = entry.remove || entry.kind.hidden?.(m, 0, m.length) === true;
        const change = remove ? this.store.remove(entry.kind, ns, values) : this.store.put(entry.kind, ns, values);
        if (!change) continue;
        changes.push(change, ...this.silent.after(change));
      }
      return changes;
    });
  }

  /** One batch of notifications (each a whole message, header included) for namespace `ns`. */
  applyBatch(ns: number, messages: readonly Buffer[]): RowChange[] {
    return this.apply(ns, messages);
  }
}
