/**
 * Applies what the kernel reported — a batch of raw notifications — to the
 * store in one SQLite transaction, with the changes the kernel made silently
 * because of them. Returns every row change, in order, for the event stream.
 */
import { FAMILIES, type FamilyName } from '../backends/netlink/codec/message.js';
import { KIND_BY_NAME, KINDS, routes } from './kinds/index.js';
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

const NLM_F_REPLACE = 0x100;
/** The route columns that make the kernel's own identity of a route: the row's key without the device. */
const ROUTE_KEY_BUT_DEV = routes.key.filter((k) => k !== 'dev');

export class Applier {
  private readonly silent: SilentChanges;
  private readonly apply: (ns: number, messages: readonly Buffer[]) => RowChange[];
  private readonly siblings;
  /** Set when a notification left the store unable to tell what the kernel did (then a resync is due). */
  ambiguous = false;

  constructor(private readonly store: Store) {
    this.silent = new SilentChanges(store);
    const cols = routes.columns.map(([n]) => n);
    this.siblings = store.db.prepare(
      `SELECT id, body FROM routes WHERE ns = ? AND ${ROUTE_KEY_BUT_DEV.map((k) => `${k} = ?`).join(' AND ')} AND dev != ?`,
    );
    const at = (name: string) => cols.indexOf(name);
    this.apply = store.db.transaction((ns: number, messages: readonly Buffer[]) => {
      const changes: RowChange[] = [];
      for (const m of messages) {
        const entry = BY_TYPE.get(m.readUInt16LE(4));
        if (!entry) continue;
        const values = entry.kind.row(m, 0, m.readUInt32LE(0));
        if (entry.kind.cascade) changes.push(...this.cascade(entry.kind, ns, m));
        if (!values) continue;
        const remove = entry.remove || entry.kind.hidden?.(m, 0, m.length) === true;
        const change = remove ? this.store.remove(entry.kind, ns, values) : this.store.put(entry.kind, ns, values);
        // A route replaced through another device: the kernel swapped the route it had under that
        // identity for this one, with no RTM_DELROUTE for the old one.
        if (!remove && entry.kind === routes && (m.readUInt16LE(6) & NLM_F_REPLACE) !== 0) {
          const replaced = this.siblings.all(ns, ...ROUTE_KEY_BUT_DEV.map((k) => values[at(k)]), values[at('dev')]) as {
            id: number;
            body: Buffer;
          }[];
          if (replaced.length === 1) changes.push(...this.store.removeRows(routes, ns, replaced));
          else if (replaced.length > 1) this.ambiguous = true; // which one went is the kernel's list order
        }
        if (!change) continue;
        changes.push(change, ...this.silent.after(change));
      }
      return changes;
    });
  }

  /** What a message takes with it that nothing else announces (see Kind.cascade). */
  private cascade(kind: Kind, ns: number, m: Buffer): RowChange[] {
    const out: RowChange[] = [];
    for (const c of kind.cascade?.(m, 0, m.readUInt32LE(0)) ?? []) {
      const other = KIND_BY_NAME[c.kind];
      const rows = this.store.sql(`SELECT id, body FROM ${other.table} WHERE ns = ? AND ${c.where}`).all(ns, ...c.params) as {
        id: number;
        body: Buffer;
      }[];
      out.push(...this.store.removeRows(other, ns, rows));
    }
    return out;
  }

  /** One batch of notifications (each a whole message, header included) for namespace `ns`. */
  applyBatch(ns: number, messages: readonly Buffer[]): RowChange[] {
    return this.apply(ns, messages);
  }
}
