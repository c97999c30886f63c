/**
 * NetState: the state of one or several namespaces, as SQLite rows kept
 * equal to the kernel by its event stream.
 *
 *   const db = await NetState.open({ netns: ['lab', 'lab2'] });
 *   db.routes.list({ table: 100 });
 *   await db.waitFor('interface', { ifname: 'v0', state: 'up' }, { timeout: 2000 });
 *   await db.close();
 */
import { type FSWatcher, watch } from 'node:fs';
import { filter, type Observable, Subject } from 'rxjs';
import type { FamilyName } from '../backends/netlink/codec/message.js';
import { readLink } from '../backends/netlink/families/link-bytes.js';
import { NETNS_RUN_DIR, netnsExists } from '../backends/netns.js';
import { ifname as ifnameSpec, int, parseSpec, shown, spec, z } from '../backends/schema.js';
import { NamespaceError, NetStateError, TimeoutError, ValidationError } from '../errors.js';
// The one upward import: transactions are opened from the store they read.
import { Frozen, routeFilter, ruleFilter } from '../transactions/freeze.js';
import type { CreateSpec } from '../transactions/specs.js';
import { type InterfaceHandle, Transaction } from '../transactions/transaction.js';
import { Applier } from './apply.js';
import { Collection, type Filter, FreezableCollection, InterfaceCollection } from './collection.js';
import type { StoreEvent } from './events.js';
import { addresses, interfaces, KIND_BY_NAME, KINDS, neighbours, routes, rules } from './kinds/index.js';
import type { KindName } from './kinds/kind.js';
import { ANY_FAMILY } from './kinds/values.js';
import { ReadOnlyNetState } from './readonly.js';
import { type StoreRecord, toRecord } from './records.js';
import { RouteCollection } from './route-collection.js';
import { type LoadProgress, ROOT, Source } from './source.js';
import { type RowChange, Store } from './store.js';

export interface NetStateOptions {
  /**
   * 'implicit' (default): a change outside a transaction (`db.create`,
   * `db.interfaces.edit`) opens one; 'explicit': such a change throws, and
   * every change goes through `db.begin()`.
   */
  mode?: 'implicit' | 'explicit';
  /** Named namespace(s) to follow; the root namespace when omitted ('localhost' in records). */
  netns?: string | readonly string[];
  /** SQLite file for the store; in memory when omitted or ':memory:'. */
  store?: string;
  /** Receive buffer of each event socket, bytes (default 8 MiB). */
  eventBuffer?: number;
  /** Told how a load goes: every 10 000 rows, and when each kind is done. */
  onLoadProgress?: (progress: LoadProgress) => void;
}

export interface WaitOptions {
  /** Milliseconds (default 5000). */
  timeout?: number;
  /** Resolve when no matching record exists. */
  absent?: boolean;
}

export type WaitKind = KindName;

/** What open() takes, checked before anything is opened. */
const OpenOptions = spec({
  mode: z.enum(['implicit', 'explicit'], { error: (i) => `expected 'implicit' or 'explicit', got ${shown(i.input)}` }).optional(),
  netns: z
    .union([z.string(), z.array(z.string())], {
      error: (i) => `expected a namespace name or a list of them, got ${shown(i.input)}`,
    })
    .optional(),
  store: z.string({ error: (i) => `expected a file name or ':memory:', got ${shown(i.input)}` }).optional(),
  eventBuffer: int(1, 0x7fffffff).optional(),
  onLoadProgress: z
    .custom<(p: LoadProgress) => void>((v) => typeof v === 'function', {
      error: (i) => `expected a function, got ${shown(i.input)}`,
    })
    .optional(),
});

const WaitOptionsSpec = spec({
  timeout: int(0, 0x7fffffff).optional(),
  absent: z.boolean({ error: (i) => `expected true or false, got ${shown(i.input)}` }).optional(),
});

export class NetState {
  readonly interfaces: InterfaceCollection;
  readonly addresses: Collection;
  readonly routes: RouteCollection;
  readonly rules: FreezableCollection<number | Filter>;
  readonly neighbours: Collection;
  /** Typed change events: `{ kind, action, netns, before, after }`. */
  readonly events$: Observable<StoreEvent>;
  /** Once per batch the store applied (events and silent changes), with the kinds it touched. */
  readonly applied$: Observable<ReadonlySet<string>>;
  /** Errors while following the kernel (a failed resync); the store keeps going. */
  readonly errors$: Observable<Error>;

  private readonly subject = new Subject<StoreEvent>();
  private readonly errorSubject = new Subject<Error>();
  /** Kinds touched by each applied batch: what waitFor re-checks on. */
  private readonly batches = new Subject<ReadonlySet<string>>();
  private readonly sources = new Map<number, Source>();
  private watcher?: FSWatcher;
  private closed = false;

  private constructor(
    readonly store: Store,
    readonly mode: 'implicit' | 'explicit' = 'implicit',
  ) {
    const addressesOf = store.db.prepare(
      `SELECT family, address, prefixlen, body, id FROM addresses WHERE ns = ? AND ${ANY_FAMILY} AND idx = ? ORDER BY family, id`,
    );
    const nameOf = store.db.prepare('SELECT ifname FROM interfaces WHERE ns = ? AND idx = ?').pluck();
    /** An interface's name by index, remembered for one listing. */
    const name = (ns: number, index: unknown, memo: Map<string, unknown>): string | undefined => {
      if (typeof index !== 'number' || index === 0) return undefined;
      const key = `${ns}|${index}`;
      if (!memo.has(key)) memo.set(key, nameOf.get(ns, index));
      return memo.get(key) as string | undefined;
    };
    const ns = (netns?: string): string => {
      if (netns !== undefined && !this.namespaces.includes(netns))
        throw new ValidationError(`netns: ${shown(netns)} is not followed by this store`, 'netns');
      return netns ?? (this.namespaces[0] as string);
    };
    this.interfaces = new InterfaceCollection(
      () => this.implicit(),
      {
        freeze: (ifname, netns) => Frozen.interface(this, ifname, ns(netns)),
        unfreeze: (ifname, netns) =>
          Frozen.release(this, `interface ${ns(netns)}:${parseSpec(ifnameSpec, ifname, 'unfreeze', 'ifname')}`),
      },
      store,
      interfaces,
      (s) => (typeof s === 'number' ? { index: s } : { ifname: s }),
      (ns, body) => ({
        ipaddr: inKernelOrder(addressesOf.all(ns, body.readInt32LE(4)) as StoredAddress[]).map(
          (a) => `${a.address}/${a.prefixlen}`,
        ),
      }),
    );
    this.addresses = new Collection(store, addresses, (s) => ({ address: String(s) }));
    this.routes = new RouteCollection(
      {
        freeze: (spec, netns) => Frozen.route(this, spec, ns(netns)),
        unfreeze: (spec, netns) => Frozen.releaseMatching(this, 'routes', ns(netns), routeFilter(spec)),
      },
      store,
      routes,
      (s) => ({ dst: String(s), table: 254 }),
      // The names users filter by: `dev` beside `oif`, on the route and on each nexthop.
      (ns, _body, rec, memo) => {
        if (Array.isArray(rec.multipath)) {
          rec.multipath = rec.multipath.map((h: Record<string, unknown>) => ({ ...h, dev: name(ns, h.oif, memo) }));
        }
        return { dev: name(ns, rec.oif, memo) };
      },
    );
    this.rules = new FreezableCollection<number | Filter>(
      {
        freeze: (spec, netns) => Frozen.rule(this, spec, ns(netns)),
        unfreeze: (spec, netns) => Frozen.releaseMatching(this, 'rules', ns(netns), ruleFilter(spec)),
      },
      store,
      rules,
      (s) => ({ priority: Number(s) }),
    );
    this.neighbours = new Collection(store, neighbours, (s) => ({ dst: String(s) }));
    this.events$ = this.subject.asObservable();
    this.errors$ = this.errorSubject.asObservable();
    this.applied$ = this.batches.asObservable();
  }

  /** Loads the namespaces' state and follows it from then on. */
  static async open(options: NetStateOptions = {}): Promise<NetState> {
    parseSpec(OpenOptions, options, 'NetState.open');
    const names: (string | undefined)[] =
      options.netns === undefined ? [undefined] : typeof options.netns === 'string' ? [options.netns] : [...options.netns];
    if (names.length === 0)
      throw new ValidationError('netns: name at least one namespace, or omit it for the root namespace', 'netns');
    if (new Set(names).size !== names.length) throw new ValidationError('netns: a namespace is named twice', 'netns');
    if ((names as (string | undefined)[]).includes(ROOT))
      throw new ValidationError(`netns: "${ROOT}" is the name records give the root namespace; it cannot name another`, 'netns');
    for (const n of names) if (n !== undefined && !netnsExists(n)) throw new NamespaceError(`no network namespace named "${n}"`);
    const store = new Store(options.store ?? ':memory:');
    const db = new NetState(store, options.mode);
    const applier = new Applier(store);
    try {
      for (const n of names) {
        const source = await Source.open(n, store, applier, {
          eventBuffer: options.eventBuffer,
          onProgress: options.onLoadProgress,
          onChanges: (src, changes, reason) => db.publish(src, changes, reason),
          onError: (_src, error) => db.errorSubject.next(error),
        });
        db.sources.set(source.id, source);
      }
      if (names.some((n) => n !== undefined)) db.watchNamespaces();
    } catch (e) {
      await db.close();
      throw e;
    }
    return db;
  }

  /** Names of the followed namespaces. */
  get namespaces(): string[] {
    return [...this.sources.values()].map((s) => s.name);
  }

  /**
   * Opens a transaction: changes are staged (nothing touches the kernel) and
   * reviewed as a diff. Several may be open at once, each with its own id.
   * Specs without `netns` mean the first followed namespace.
   */
  begin(): Transaction {
    if (this.closed) throw new NetStateError('the store is closed');
    return new Transaction(this, this.namespaces[0] as string);
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

  /** Resolves with the record once one matches (or, with `absent`, once none does). */
  async waitFor(kind: WaitKind, spec: string | number | Filter, options: WaitOptions = {}): Promise<StoreRecord | undefined> {
    const collection = this.collection(kind);
    parseSpec(WaitOptionsSpec, options, 'waitFor options');
    const timeout = options.timeout ?? 5000;
    const check = (): { done: boolean; value?: StoreRecord } => {
      const found = collection.get(spec);
      return options.absent ? { done: found === undefined } : { done: found !== undefined, value: found };
    };
    return new Promise((resolve, reject) => {
      const sub = this.batches.pipe(filter((kinds) => kinds.has(kind))).subscribe(() => {
        const r = check();
        if (r.done) finish(() => resolve(r.value));
      });
      const timer = setTimeout(() => {
        const what = typeof spec === 'object' ? JSON.stringify(spec) : String(spec);
        finish(() =>
          reject(
            new TimeoutError(`waitFor: no ${kind} ${what} ${options.absent ? 'went away' : 'appeared'} within ${timeout} ms`),
          ),
        );
      }, timeout);
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        sub.unsubscribe();
        fn();
      };
      try {
        const r = check();
        if (r.done) finish(() => resolve(r.value));
      } catch (e) {
        finish(() => reject(e));
      }
    });
  }

  /** The whole state, JSON-serialisable: `{ namespaces: { name: { interfaces, addresses, ... } } }`. */
  dump(): { namespaces: Record<string, Record<string, StoreRecord[]>> } {
    const out: Record<string, Record<string, StoreRecord[]>> = {};
    for (const s of this.sources.values()) {
      out[s.name] = {};
      for (const kind of KINDS) out[s.name][kind.table] = this.collection(kind.name).list({ netns: s.name });
    }
    return { namespaces: out };
  }

  /**
   * Resolves once the store holds every change the kernel made before the
   * call, in every followed namespace (or one): the barrier to put after a
   * change made by other software (an `ip` command that just returned)
   * before reading the store.
   *
   *   execFileSync('ip', ['-n', 'lab', 'link', 'del', 'v0']);
   *   await db.sync();
   *   db.interfaces.get('v0'); // undefined
   */
  async sync(netns?: string): Promise<void> {
    await Promise.all(this.sourcesOf(netns).map((s) => s.sync(true)));
  }

  /**
   * The cheap half of `sync()`: every change the kernel announced before the
   * call is in the store (what it announces later, like IPv6 addresses, may
   * not be). What a big commit paces itself with.
   */
  async barrier(netns?: string): Promise<void> {
    await Promise.all(this.sourcesOf(netns).map((s) => s.sync(false)));
  }

  /**
   * Asks the kernel for objects of one namespace and takes its answer into
   * the store as if it had been announced: for what the kernel changes
   * without an event (an alias, a group or bridge port options set on a link
   * that is down). `spec` names objects by index: `refresh(ns, 'link', 'get',
   * { index: 3 })`.
   */
  async refresh(netns: string, family: FamilyName, cmd: 'get' | 'dump', spec: Record<string, unknown>): Promise<void> {
    const [source] = this.sourcesOf(netns);
    await source?.refresh(family, cmd, spec);
  }

  private sourcesOf(netns?: string): Source[] {
    if (this.closed) throw new NetStateError('the store is closed');
    if (netns === undefined) return [...this.sources.values()];
    const source = this.source(netns);
    if (!source) throw new NamespaceError(`namespace ${shown(netns)} is not followed by this store`);
    return [source];
  }

  /** Asks the kernel again for everything in one namespace (what an overrun does by itself). */
  async resync(netns?: string): Promise<void> {
    const source = this.source(netns);
    if (!source) throw new NamespaceError(`namespace ${shown(netns ?? ROOT)} is not followed by this store`);
    await source.requestResync();
  }

  /** How many resyncs a namespace went through (lost events recovered). */
  resyncCount(netns?: string): number {
    return this.source(netns)?.resyncs ?? 0;
  }

  /** Per namespace: its state, resyncs, and dumps the kernel marked interrupted (and were taken again). */
  stats(): { netns: string; state: string; resyncs: number; interruptedDumps: number }[] {
    return [...this.sources.values()].map((s) => ({
      netns: s.name,
      state: s.state,
      resyncs: s.resyncs,
      interruptedDumps: s.interruptedDumps,
    }));
  }

  private source(netns?: string): Source | undefined {
    return [...this.sources.values()].find((s) => s.netns === netns || s.name === netns);
  }

  private collection(kind: WaitKind): Collection {
    const k = typeof kind === 'string' && Object.hasOwn(KIND_BY_NAME, kind) ? KIND_BY_NAME[kind] : undefined;
    if (!k) throw new ValidationError(`unknown kind ${shown(kind)} (one of ${Object.keys(KIND_BY_NAME).join(', ')})`, 'kind');
    return (this as unknown as Record<string, Collection>)[k.table] as Collection;
  }

  private publish(source: Source, changes: RowChange[], reason?: 'resync'): void {
    if (this.closed) return;
    if (this.subject.observed) {
      for (const c of changes) {
        const kind = KIND_BY_NAME[c.kind];
        const event: StoreEvent = { kind: c.kind, action: c.action, netns: source.name };
        if (c.before) event.before = toRecord(kind, source.name, c.before);
        if (c.after) event.after = toRecord(kind, source.name, c.after);
        if (c.silent) event.silent = true;
        this.subject.next(event);
      }
      if (reason === 'resync') this.subject.next({ kind: 'netns', action: 'resync', netns: source.name });
    }
    const kinds = new Set(changes.map((c) => c.kind));
    if (kinds.has('route')) this.routes.generation++;
    if (kinds.has('interface')) this.learnPeers(source, changes);
    this.batches.next(kinds);
  }

  /**
   * A veth end points at its peer (IFLA_LINK, and IFLA_LINK_NETNSID when the
   * peer is in another namespace), and the kernel does not always say when
   * that changes: a pair made across two namespaces announces its first end
   * pointing nowhere, and an end moved to another namespace changes what
   * its peer points at without an event for the peer. After each batch, a
   * veth that came or went has its peer checked, and a peer that points
   * wrongly is asked for again.
   */
  private learnPeers(source: Source, changes: RowChange[]): void {
    const ask = (from: Source, index: number) => void from.refresh('link', 'get', { index }).catch(() => undefined);
    for (const c of changes) {
      if (c.kind !== 'interface' || c.action === 'change') continue;
      const link = readLink((c.after ?? c.before) as Buffer);
      if (link.kind !== 'veth') continue;
      if (!link.link) {
        // Pointing nowhere: its peer is found by pointing at it (a pair made across namespaces).
        for (const other of this.sources.values()) {
          if (other === source || c.action === 'remove') continue;
          const elsewhere = this.interfaces.list({ netns: other.name, link: link.index });
          if (elsewhere.some((p) => p.kind === 'veth' && p.link_netnsid !== undefined)) ask(source, link.index);
        }
        continue;
      }
      const here = link.linkNetnsid === undefined;
      for (const other of here ? [source] : [...this.sources.values()].filter((o) => o !== source)) {
        const peer = this.interfaces.get({ netns: other.name, index: link.link });
        if (peer?.kind !== 'veth') continue;
        const right = c.action === 'add' && peer.link === link.index && (peer.link_netnsid === undefined) === here;
        if (!right) ask(other, link.link);
      }
    }
  }

  private watchNamespaces(): void {
    try {
      this.watcher = watch(NETNS_RUN_DIR, () => this.checkNamespaces());
      this.watcher.on('error', () => undefined);
    } catch {
      // No /run/netns: nothing named can disappear.
    }
  }

  /** A followed namespace whose name went away: forget it, and say so. */
  private checkNamespaces(): void {
    for (const [id, s] of this.sources) {
      if (s.netns === undefined || netnsExists(s.netns)) continue;
      s.close();
      this.sources.delete(id);
      this.store.dropNamespace(id);
      this.subject.next({ kind: 'netns', action: 'remove', netns: s.name });
      this.routes.generation++;
      this.batches.next(new Set(KINDS.map((k) => k.name)));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    for (const s of this.sources.values()) s.close();
    this.sources.clear();
    this.store.close();
    this.subject.complete();
    this.errorSubject.complete();
    this.batches.complete();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** An address row as the interface records read it. */
interface StoredAddress {
  family: number;
  address: string;
  prefixlen: number;
  body: Buffer;
  id: number;
}

const IFA_F_SECONDARY = 0x01;

/**
 * A link's addresses in the order the kernel lists them (`ip addr`): IPv4
 * primaries first (host, then link, then global scope, each in the order
 * added), then secondaries in the order added; IPv6 global before link scope,
 * each newest first. The store learns them in another order (an address
 * added later is a later row), and the order matters: the first primary is
 * the source the kernel picks.
 */
function inKernelOrder(rows: StoredAddress[]): StoredAddress[] {
  const flags = (r: StoredAddress) => r.body[2] as number;
  const scope = (r: StoredAddress) => r.body[3] as number;
  return [...rows].sort((a, b) => {
    if (a.family !== b.family) return a.family - b.family;
    if (a.family === 2) {
      const sec = (flags(a) & IFA_F_SECONDARY) - (flags(b) & IFA_F_SECONDARY);
      if (sec) return sec;
      if (!(flags(a) & IFA_F_SECONDARY) && scope(a) !== scope(b)) return scope(b) - scope(a);
      return a.id - b.id;
    }
    if (scope(a) !== scope(b)) return scope(a) - scope(b);
    return b.id - a.id;
  });
}
