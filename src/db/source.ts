/**
 * One followed namespace: its event socket, its initial load and its
 * resyncs. The event socket is opened before the first dump so nothing is
 * missed; events that arrive while a dump runs wait in a queue and are
 * applied after it, in order, which converges on the kernel's state.
 */

import type { Body } from '../backends/netlink/codec/attributes.js';
import { encodeToBuffer, FAMILIES, type FamilyName } from '../backends/netlink/codec/message.js';
import { DEFAULT_GROUPS } from '../backends/netlink/constants.js';
import type { BuildContext, Family } from '../backends/netlink/families/family.js';
import { filterDumpQuery } from '../backends/netlink/families/filter.js';
import { rootQdiscQuery } from '../backends/netlink/families/qdisc.js';
import { Rtnl } from '../backends/netlink/rtnl.js';
import { NetlinkSocket } from '../backends/netlink/socket.js';
import type { Applier } from './apply.js';
import { KINDS } from './kinds/index.js';
import type { Kind } from './kinds/kind.js';
import type { BulkWriter, RowChange, Store } from './store.js';
import { filtersToAsk, replacedFilters, rootsToAsk } from './tc-refresh.js';

/** The source name of the namespace the process runs in (as pyroute2 NDB calls it). */
export const ROOT = 'localhost';

export interface LoadProgress {
  netns: string;
  /** 'interfaces', 'routes', ... */
  table: string;
  rows: number;
  done: boolean;
}

const PROGRESS_EVERY = 10_000;
const NLM_F_ACK = 4;

/** Refreshes name objects by index, never by name: nothing to resolve. */
const NO_NAMES: BuildContext = {
  index: async (nameOrIndex) => {
    if (typeof nameOrIndex === 'number') return nameOrIndex;
    throw new Error(`a refresh names links by index, not "${nameOrIndex}"`);
  },
  netnsFd: () => {
    throw new Error('a refresh opens no namespace');
  },
};

export type SourceState = 'loading' | 'live' | 'resyncing' | 'gone';

export interface SourceOptions {
  eventBuffer?: number;
  dumpRetries?: number;
  /** Called with each applied batch's changes, and with resync markers. */
  onChanges(source: Source, changes: RowChange[], reason?: 'resync'): void;
  /** Called when a resync or event application fails. */
  onError(source: Source, error: Error): void;
  /** Called every 10 000 rows of a load, and when a kind is done. */
  onProgress?: (progress: LoadProgress) => void;
}

export class Source {
  state: SourceState = 'loading';
  private events?: NetlinkSocket;
  private rtnl?: Rtnl;
  private queue: Buffer[][] = [];
  private resyncWanted = false;
  private busy?: Promise<void>;
  /** Questions to the kernel about what it changed silently, still unanswered. */
  private readonly asking = new Set<Promise<void>>();
  /** Resyncs after lost events, and dumps the kernel marked interrupted (then taken again). */
  resyncs = 0;
  interruptedDumps = 0;

  private constructor(
    readonly name: string,
    readonly netns: string | undefined,
    readonly id: number,
    private readonly store: Store,
    private readonly applier: Applier,
    private readonly options: SourceOptions,
  ) {}

  static async open(netns: string | undefined, store: Store, applier: Applier, options: SourceOptions): Promise<Source> {
    const rtnl = await Rtnl.open({ netns });
    const name = netns ?? ROOT;
    const source = new Source(name, netns, store.addNamespace(name), store, applier, options);
    source.rtnl = rtnl;
    try {
      source.events = new NetlinkSocket({ netns, rcvbuf: options.eventBuffer, groups: DEFAULT_GROUPS });
      source.events.onEventBytes = (batch) => source.onEvents(batch);
      source.events.onOverrun = () => source.onOverrun();
      await source.load();
    } catch (e) {
      source.close();
      store.dropNamespace(source.id);
      throw e;
    }
    return source;
  }

  private onEvents(batch: Buffer[]): void {
    if (this.state === 'gone') return;
    if (this.state !== 'live') {
      this.queue.push(batch);
      return;
    }
    try {
      const changes = this.applier.applyBatch(this.id, batch);
      if (changes.length) this.options.onChanges(this, changes);
      for (const index of rootsToAsk(this.store, this.id, changes)) this.ask(rootQdiscQuery(index), false);
      const blocks = [...replacedFilters(batch), ...filtersToAsk(this.store, this.id, changes)];
      for (const f of new Map(blocks.map((b) => [`${b.index}|${b.parent}`, b])).values()) {
        this.ask(filterDumpQuery(f.index, f.parent), true);
      }
      if (this.applier.ambiguous) {
        // The store cannot tell which of several routes the kernel replaced: it asks again.
        this.applier.ambiguous = false;
        void this.requestResync().catch((e: Error) => this.options.onError(this, e));
      }
    } catch (e) {
      this.options.onError(this, e as Error);
    }
  }

  /** Events were lost: the store cannot say what they were, so it asks the kernel again. */
  private onOverrun(): void {
    if (this.state === 'gone') return;
    this.resyncWanted = true;
    // Events queued so far are older than the coming dump, and some after them are lost.
    this.queue = [];
    if (this.state === 'live') {
      this.state = 'resyncing';
      void this.resync();
    }
  }

  /** The initial load: every kind, dumped straight into the tables. */
  private async load(): Promise<void> {
    for (const kind of KINDS) {
      await this.dumpInto(kind, () => {
        this.store.clear(kind, this.id);
        return this.store.bulk(kind, this.id);
      });
    }
    this.store.setNamespaceState(this.id, 'live');
    this.goLive();
  }

  /** Dumps everything again and applies the difference, as after lost events. */
  requestResync(): Promise<void> {
    this.resyncWanted = true;
    return this.resync();
  }

  /**
   * Resync after lost events: each kind is dumped into a shadow table, and
   * only the difference is applied and reported (as silent changes), then a
   * `resync` marker.
   */
  async resync(): Promise<void> {
    // One at a time; a request that comes while one finishes gets a run of its own.
    if (this.busy) return this.busy.then(() => (this.resyncWanted ? this.resync() : undefined));
    this.busy = (async () => {
      while (this.resyncWanted && this.state !== 'gone') {
        this.resyncWanted = false;
        this.state = 'resyncing';
        this.store.setNamespaceState(this.id, 'resyncing');
        const changes: RowChange[] = [];
        try {
          for (const kind of KINDS) {
            const shadow = this.store.shadow(kind);
            try {
              await this.dumpInto(kind, () => shadow.writer(this.id));
              const diff = shadow.diff(this.id);
              const db = this.store.db;
              db.transaction(() => {
                changes.push(...this.store.removeRows(kind, this.id, diff.gone));
                for (const values of diff.fresh) {
                  const c = this.store.put(kind, this.id, values);
                  if (c) changes.push({ ...c, silent: true });
                }
              })();
            } finally {
              shadow.drop();
            }
          }
        } catch (e) {
          if ((this.state as SourceState) === 'gone') return;
          this.options.onError(this, e as Error);
        }
        this.resyncs++;
        this.store.setNamespaceState(this.id, 'live');
        this.options.onChanges(this, changes, 'resync');
        this.goLive();
      }
    })().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  /** Applies what queued up during a dump; resyncs again if events were lost meanwhile. */
  private goLive(): void {
    this.state = 'live';
    const queued = this.queue;
    this.queue = [];
    for (const batch of queued) this.onEvents(batch);
    if (this.resyncWanted) void this.resync();
  }

  /** The dumps that load a kind: one of everything, or what the kind asks for (filters: per ingress qdisc). */
  private dumpSpecs(kind: Kind): Record<string, unknown>[] {
    if (!kind.dumpSpecs) return [{}];
    return kind.dumpSpecs((sql, ...params) => this.store.sql(sql).all(...params) as Record<string, unknown>[], this.id);
  }

  /**
   * Streams one kind's dump into a writer inside one SQLite transaction.
   * An interrupted dump (NLM_F_DUMP_INTR) is thrown away and taken again; after
   * `dumpRetries` it is kept, and a resync follows.
   */
  private async dumpInto(kind: Kind, writerFor: () => BulkWriter): Promise<void> {
    const retries = this.options.dumpRetries ?? 10;
    const rtnl = this.rtnl as Rtnl;
    const db = this.store.db;
    for (let attempt = 1; ; attempt++) {
      const ownTx = !db.inTransaction;
      if (ownTx) db.exec('BEGIN');
      let committed = false;
      try {
        const writer = writerFor();
        const progress = this.options.onProgress;
        const sink = (buf: Buffer, off: number, len: number) => {
          const values = kind.row(buf, off, len);
          if (values && !kind.hidden?.(buf, off, len)) {
            writer.add(values);
            if (progress && writer.count % PROGRESS_EVERY === 0) {
              progress({ netns: this.name, table: kind.table, rows: writer.count, done: false });
            }
          }
        };
        let interrupted = false;
        for (const spec of this.dumpSpecs(kind)) {
          if ((await rtnl.dumpStream(kind.family, spec, sink)).interrupted) interrupted = true;
        }
        writer.flush();
        progress?.({ netns: this.name, table: kind.table, rows: writer.count, done: true });
        if (interrupted) this.interruptedDumps++;
        if (interrupted && attempt < retries) {
          if (ownTx && db.inTransaction) db.exec('ROLLBACK');
          committed = true;
          continue;
        }
        // Still changing under us: keep this dump (events queued meanwhile apply on top) and
        // take everything again once live, until a dump comes back consistent.
        if (interrupted) this.resyncWanted = true;
        if (ownTx && db.inTransaction) db.exec('COMMIT');
        committed = true;
        return;
      } finally {
        if (!committed && ownTx && db.inTransaction) db.exec('ROLLBACK');
      }
    }
  }

  /**
   * Resolves once the store holds every change the kernel announced before
   * the call: a no-op request goes through the event socket, whose ack comes
   * after every notification queued before it. A resync in progress (or one
   * an overrun starts meanwhile) is waited for: it covers those changes too.
   *
   * With `complete`, also what the kernel made before the call but announces
   * later: an IPv6 address is announced by a work item that runs after the
   * request that added it returned (even a nodad one), so its addresses are
   * asked for, through the same socket, and taken in as if announced.
   */
  async sync(complete = false): Promise<void> {
    for (let attempt = 0; this.state !== 'gone'; attempt++) {
      try {
        if (complete) await this.refresh('address', 'dump', { family: 'inet6' });
        else await (this.events as NetlinkSocket).barrier();
      } catch (e) {
        // An overrun threw the ack away with the events; the resync it started is the barrier.
        if ((this.state as SourceState) === 'gone' || attempt > 3) throw e;
        await this.settled();
        continue;
      }
      await this.settled();
      return;
    }
  }

  /**
   * Asks the kernel for objects (a `get` or a filtered `dump` spec of a
   * family) through the event socket and applies the answer as if it had
   * been announced, in order with the notifications around it: the store
   * learns what the kernel changed without saying so. Rows the answer does
   * not mention are left as they are.
   */
  async refresh(family: FamilyName, cmd: 'get' | 'dump', spec: Record<string, unknown>): Promise<void> {
    const events = this.events as NetlinkSocket;
    const fam = FAMILIES[family] as unknown as Family<Record<string, unknown>>;
    const req = await fam.build(cmd, spec, NO_NAMES);
    const seq = events.nextSeq();
    const bytes = encodeToBuffer({ type: req.type, flags: req.flags | (cmd === 'get' ? NLM_F_ACK : 0), seq, body: req.body });
    // A refresh of something gone (ENODEV) answers with an error: there is nothing to take in.
    await events.refresh(bytes, seq, cmd === 'dump');
  }

  /**
   * Asks the kernel for something it changed silently (see tc-refresh.ts);
   * the answer is applied as if announced, and sync() waits for it.
   */
  private ask(req: { type: number; flags: number; body: Body }, dump: boolean): void {
    const events = this.events as NetlinkSocket;
    const seq = events.nextSeq();
    const p: Promise<void> = events
      .refresh(encodeToBuffer({ ...req, seq }), seq, dump)
      .catch(() => undefined)
      .finally(() => this.asking.delete(p));
    this.asking.add(p);
  }

  /** Waits for the resyncs in progress (and any they lead to). */
  private async settled(): Promise<void> {
    while (this.busy || this.asking.size) {
      if (this.busy) await this.busy;
      else await Promise.all([...this.asking]);
    }
  }

  /** The namespace went away (or the store closes): stop listening. */
  close(): void {
    this.state = 'gone';
    this.events?.close();
    this.rtnl?.close();
  }
}
