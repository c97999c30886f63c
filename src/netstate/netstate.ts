/**
 * NetState, the facade: a store (src/db) that changes the kernel through
 * transactions (src/transactions), with the commit journal that makes a
 * commit all-or-nothing even when this process dies.
 *
 *   const db = await NetState.open({ netns: ['lab', 'lab2'] });
 *   db.routes.list({ table: 100 });
 *   const tx = db.begin();  tx.interface('v0').up();  await tx.commit();
 *   await db.close();
 *
 * An open NetState never keeps the process alive by itself; what it is
 * asked to await (sync, waitFor, a commit) does, until it settles.
 */
import { netnsInode } from '../backends/host.js';
import { ifname as ifnameSpec, parseSpec, shown, spec, z } from '../backends/schema.js';
import { Collection } from '../db/collection.js';
import {
  type CollectionParts,
  type Collections,
  Database,
  type DatabaseOptions,
  namespacesOf,
  openOptionFields,
  tcCollections,
} from '../db/database.js';
import type { StoreEvent } from '../db/events.js';
import { addresses, interfaces, neighbours, routes, rules } from '../db/kinds/index.js';
import type { StoredAddress, StoredNeighbour } from '../db/records.js';
import { ROOT } from '../db/source.js';
import { Store } from '../db/store.js';
import { ClosedError, NetStateError, PendingCommitError, ValidationError } from '../errors.js';
import type { Journaling } from '../transactions/commit.js';
import { Frozen, routeFilter, ruleFilter } from '../transactions/freeze.js';
import { Journal, type JournalEntry } from '../transactions/journal.js';
import { startWatchdog, stopWatchdog } from '../transactions/provisional.js';
import { me, type Recovered, recover, undoFromJournal } from '../transactions/recovery.js';
import type { RollbackReport } from '../transactions/rollback.js';
import type { CreateSpec } from '../transactions/specs.js';
import { type InterfaceHandle, Transaction } from '../transactions/transaction.js';
import { Interfaces, Routes, Rules } from './collections.js';
import { ReadOnlyNetState } from './readonly.js';
import { Switches } from './switches.js';

export type { WaitKind, WaitOptions } from '../db/database.js';

export interface NetStateOptions extends DatabaseOptions {
  /**
   * 'implicit' (default): a change outside a transaction (`db.create`,
   * `db.interfaces.edit`) opens one; 'explicit': such a change throws, and
   * every change goes through `db.begin()`.
   */
  mode?: 'implicit' | 'explicit';
  /**
   * The commit journal (a SQLite file): what makes a commit all-or-nothing
   * even when this process dies, and what commit-confirmed needs. Default
   * $NETSTATE_JOURNAL or /var/lib/netstate/journal.sqlite; false: none (then
   * a commit cut short by the process's death stays half-applied).
   */
  journal?: string | false;
}

/** What open() takes, checked before anything is opened (a typo would otherwise open the root namespace). */
const OpenOptions = spec({
  ...openOptionFields,
  mode: z.enum(['implicit', 'explicit'], { error: (i) => `expected 'implicit' or 'explicit', got ${shown(i.input)}` }).optional(),
  journal: z
    .union([z.string().min(1), z.literal(false)], { error: (i) => `expected a file name or false, got ${shown(i.input)}` })
    .optional(),
});

/** Where the journal is when nobody says. */
export const DEFAULT_JOURNAL = '/var/lib/netstate/journal.sqlite';

export class NetState extends Database {
  declare readonly interfaces: Interfaces;
  declare readonly routes: Routes;
  declare readonly rules: Rules;
  declare readonly switches: Switches;
  /** The commit journal, unless opened with `journal: false`. */
  journal?: Journal;
  /** What opening the store undid from the journal (commits of processes that died half-way). */
  recovered: Recovered[] = [];

  private constructor(
    store: Store,
    readonly mode: 'implicit' | 'explicit' = 'implicit',
  ) {
    super(store);
  }

  protected override makeCollections(p: CollectionParts): Collections {
    const ns = (netns?: string): string => {
      if (netns !== undefined && !this.followed.includes(netns))
        throw new ValidationError(`netns: ${shown(netns)} is not followed by this store`, 'netns');
      return netns ?? (this.followed[0] as string);
    };
    return {
      interfaces: new Interfaces(
        {
          freeze: (ifname, netns) => Frozen.interface(this, ifname, ns(netns)),
          unfreeze: (ifname, netns) =>
            Frozen.release(this, `interface ${ns(netns)}:${parseSpec(ifnameSpec, ifname, 'unfreeze', 'ifname')}`),
        },
        () => this.implicit(),
        p.store,
        interfaces,
        (s) => (typeof s === 'number' ? { index: s } : { ifname: s }),
        p.interfaceExtras,
      ),
      addresses: new Collection<StoredAddress>(p.store, addresses, (s) => ({ address: String(s) })),
      routes: new Routes(
        {
          freeze: (spec, netns) => Frozen.route(this, spec, ns(netns)),
          unfreeze: (spec, netns) => Frozen.releaseMatching(this, 'routes', ns(netns), routeFilter(spec)),
        },
        p.store,
        routes,
        (s) => ({ dst: String(s), table: 254 }),
        p.routeExtras,
      ),
      rules: new Rules(
        {
          freeze: (spec, netns) => Frozen.rule(this, spec, ns(netns)),
          unfreeze: (spec, netns) => Frozen.releaseMatching(this, 'rules', ns(netns), ruleFilter(spec)),
        },
        p.store,
        rules,
        (s) => ({ priority: Number(s) }),
      ),
      neighbours: new Collection<StoredNeighbour>(p.store, neighbours, (s) => ({ dst: String(s) })),
      ...tcCollections(p),
    };
  }

  /** Switch records, which can also be frozen (restarted when they end on their own). */
  protected override makeSwitches(store: Store, publish: (event: StoreEvent) => void): Switches {
    return new Switches(
      () => this,
      () => this.followed[0] as string,
      store,
      publish,
    );
  }

  /** Loads the namespaces' state, follows it from then on, and undoes what dead processes left half-applied. */
  static override async open(options: NetStateOptions = {}): Promise<NetState> {
    parseSpec(OpenOptions, options, 'NetState.open');
    const names = namespacesOf(options);
    const db = new NetState(new Store(options.store ?? ':memory:'), options.mode);
    await db.load(names, options);
    try {
      const path = options.journal ?? process.env.NETSTATE_JOURNAL ?? DEFAULT_JOURNAL;
      if (path !== false) {
        db.journal = Journal.open(path);
        db.recovered = await db.recover();
      }
    } catch (e) {
      await db.close();
      throw e;
    }
    return db;
  }

  /**
   * Undoes the unfinished commits of the followed namespaces whose process
   * died (what open does by itself), voids those of another boot, and
   * restarts the watchdog of a provisional commit that lost it. Each is
   * reported on `events$` too (`{ kind: 'journal', action: 'recovered', id,
   * steps }`), just after the call resolves.
   */
  async recover(): Promise<Recovered[]> {
    const journal = this.journal;
    if (!journal) return [];
    const done = await recover(this, journal, (e) => startWatchdog(journal, e));
    // After the caller had a chance to subscribe (open resolves first).
    setImmediate(() => {
      for (const r of done) {
        this.subject.next({ kind: 'journal', action: r.outcome, netns: this.followed.join(','), id: r.id, steps: r.steps });
      }
    });
    return done;
  }

  /**
   * Confirms a provisional commit by its journal id (the only pending one of
   * the followed namespaces when omitted), from any process: what `netstate
   * confirm ID` does. A PendingCommitError if it is not pending any more.
   */
  async confirm(id?: string): Promise<JournalEntry> {
    const { journal, entry } = this.pendingEntry(id);
    if (!journal.transition(entry.id, ['pending'], 'confirmed', 'confirmed')) {
      throw new PendingCommitError(`cannot confirm commit ${entry.id}: it is ${journal.get(entry.id)?.state}`, entry.id);
    }
    stopWatchdog(entry);
    return journal.get(entry.id) as JournalEntry;
  }

  /** Rolls a provisional commit back now, by its journal id (as `confirm`): what `netstate rollback ID` does. */
  async rollback(id?: string): Promise<RollbackReport> {
    const { journal, entry } = this.pendingEntry(id);
    if (!journal.claim(entry.id, ['pending'], 'rolling_back', me())) {
      throw new PendingCommitError(`cannot roll back commit ${entry.id}: it is ${journal.get(entry.id)?.state}`, entry.id);
    }
    stopWatchdog(entry);
    return undoFromJournal(this, journal, entry, 'rolled_back');
  }

  /** The provisional commits of the followed namespaces, waiting for a confirm. */
  pending(): JournalEntry[] {
    const followed = new Set(this.followed);
    return (this.journal?.list(['pending']) ?? []).filter((e) => e.namespaces.every((n) => followed.has(n.name)));
  }

  private pendingEntry(id?: string): { journal: Journal; entry: JournalEntry } {
    const journal = this.journal;
    if (!journal) throw new NetStateError('this store was opened without a journal (journal: false): no commit is pending');
    if (id !== undefined) {
      const entry = journal.get(id);
      if (!entry) throw new ValidationError(`no commit ${JSON.stringify(id)} in the journal ${journal.path}`, 'id');
      return { journal, entry };
    }
    const pending = this.pending();
    if (pending.length !== 1) {
      throw new ValidationError(
        pending.length
          ? `${pending.length} commits are pending (${pending.map((e) => e.id).join(', ')}): name one`
          : 'no commit is pending',
        'id',
      );
    }
    return { journal, entry: pending[0] as JournalEntry };
  }

  /** What a commit writes its journal entry with (none without a journal). */
  get journaling(): Journaling | undefined {
    if (!this.journal) return undefined;
    return {
      journal: this.journal,
      namespaces: this.followed.map((name) => ({ name, inode: netnsInode(name === ROOT ? undefined : name) })),
    };
  }

  /**
   * Opens a transaction: changes are staged (nothing touches the kernel) and
   * reviewed as a diff. Several may be open at once, each with its own id.
   * Specs without `netns` mean the first followed namespace.
   */
  begin(): Transaction {
    if (this.closed) throw new ClosedError('the store is closed');
    return new Transaction(this, this.followed[0] ?? '');
  }

  /** Stages a new interface in a transaction of its own: `await db.create(spec).up().commit()`. */
  create(spec: CreateSpec): InterfaceHandle {
    return this.implicit().create(spec);
  }

  /** The same reading API; every attempt to change something throws. */
  readonly(): ReadOnlyNetState {
    return new ReadOnlyNetState(this);
  }

  /** A transaction opened on behalf of a change made outside one; refused in explicit mode. */
  private implicit(): Transaction {
    if (this.mode === 'explicit') {
      throw new NetStateError('this store is in explicit mode: open a transaction with db.begin() first');
    }
    return this.begin();
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.journal?.close();
    await super.close();
  }
}
