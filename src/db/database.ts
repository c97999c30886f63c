/**
 * The store alone: the state of one or several namespaces as SQLite rows,
 * kept equal to the kernel by its event stream. Reading, waiting, following
 * namespaces; no changes (those are transactions, opened by the NetState
 * facade above this layer).
 *
 *   const db = await Database.open({ netns: ['lab', 'lab2'] });
 *   db.routes.list({ table: 100 });
 *   await db.waitFor('interface', { ifname: 'v0', state: 'up' }, { timeout: 2000 });
 *   await db.close();
 *
 * An open store never keeps the process alive by itself (the poller watches
 * its sockets without holding the event loop, its /run/netns watcher is
 * unref'd); what it is asked to await (sync, waitFor) does, until it settles.
 */
import { type FSWatcher, watch } from 'node:fs';
import { filter, type Observable, Subject } from 'rxjs';
import { netnsInode } from '../backends/host.js';
import type { FamilyName } from '../backends/netlink/codec/message.js';
import { readLink } from '../backends/netlink/families/link-bytes.js';
import { listNetns, NETNS_RUN_DIR, netnsExists, validateNetnsName } from '../backends/netns.js';
import { int, parseSpec, shown, spec, z } from '../backends/schema.js';
import { ClosedError, NamespaceError, TimeoutError, ValidationError } from '../errors.js';
import { Applier } from './apply.js';
import { Collection, type Filter } from './collection.js';
import type { StoreEvent } from './events.js';
import { InterfaceCollection } from './interface-collection.js';
import { addresses, interfaces, KIND_BY_NAME, KINDS, neighbours, routes, rules } from './kinds/index.js';
import type { KindName } from './kinds/kind.js';
import { ANY_FAMILY } from './kinds/values.js';
import type { StoredAddress, StoredNeighbour, StoredRule, StoreRecord } from './records.js';
import { toRecord } from './records.js';
import { RouteCollection } from './route-collection.js';
import { type LoadProgress, ROOT, Source } from './source.js';
import { type RowChange, Store } from './store.js';
import { SwitchCollection } from './switches.js';

export interface DatabaseOptions {
  /** Named namespace(s) to follow; the root namespace when omitted ('localhost' in records); none for [] (follow some later: `db.follow`, `tx.addNamespace`). */
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

/** What waitFor waits for: a kernel object's kind, or 'switch' (a BMv2 switch's record). */
export type WaitKind = KindName | 'switch';

/** A namespace as `db.namespaces.list()` shows it. */
export interface NamespaceRecord {
  /** The name under /run/netns, or 'localhost' for the root namespace. */
  name: string;
  /** The namespace's inode (what tells two namespaces of one name apart over time). */
  inode: number | undefined;
  /** Whether this store follows it (its objects are records). */
  followed: boolean;
  /** Whether a commit of this process made it (a lab's namespaces, `tx.addNamespace`). */
  made: boolean;
}

/** What open() takes, checked before anything is opened (a typo would otherwise open the root namespace). */
export const openOptionFields = {
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
};
const OpenOptions = spec(openOptionFields);

const WaitOptionsSpec = spec({
  timeout: int(0, 0x7fffffff).optional(),
  absent: z.boolean({ error: (i) => `expected true or false, got ${shown(i.input)}` }).optional(),
});

/** The collections of a store, as its constructor builds them (the facade builds richer ones). */
export interface Collections {
  interfaces: InterfaceCollection;
  addresses: Collection<StoredAddress>;
  routes: RouteCollection;
  rules: Collection<StoredRule>;
  neighbours: Collection<StoredNeighbour>;
}

/** What a collection needs to be built: the store and the reading helpers the database shares. */
export interface CollectionParts {
  store: Store;
  /** An interface record's extra fields: its addresses ('a/len', kernel order). */
  interfaceExtras: ConstructorParameters<typeof InterfaceCollection>[3];
  /** A route record's extra fields: `dev` beside `oif`, on the route and each nexthop. */
  routeExtras: ConstructorParameters<typeof RouteCollection>[3];
}

export class Database {
  readonly interfaces: InterfaceCollection;
  readonly addresses: Collection<StoredAddress>;
  readonly routes: RouteCollection;
  readonly rules: Collection<StoredRule>;
  readonly neighbours: Collection<StoredNeighbour>;
  /** Typed change events: `{ kind, action, netns, before, after }`; completes on close(). */
  readonly events$: Observable<StoreEvent>;
  /** Once per batch the store applied (events and silent changes), with the kinds it touched; completes on close(). */
  readonly applied$: Observable<ReadonlySet<string>>;
  /** Errors while following the kernel (a failed resync); the store keeps going. Completes on close(). */
  readonly errors$: Observable<Error>;
  /** The namespaces of the machine, followed or not: `db.namespaces.list()`. */
  readonly namespaces: Namespaces;
  /** BMv2 switches as records (written by the layers that run them): `db.switches.get('s1')`. */
  readonly switches: SwitchCollection;

  protected readonly subject = new Subject<StoreEvent>();
  private readonly errorSubject = new Subject<Error>();
  /** Kinds touched by each applied batch: what waitFor re-checks on. */
  private readonly batches = new Subject<ReadonlySet<string>>();
  private readonly sources = new Map<number, Source>();
  private readonly applier: Applier;
  private options: DatabaseOptions = {};
  /** Namespaces made by commits of this process (see NamespaceRecord.made). */
  readonly made = new Set<string>();
  private watcher?: FSWatcher;
  protected closed = false;

  protected constructor(readonly store: Store) {
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
    const c = this.makeCollections({
      store,
      interfaceExtras: (ns, body) => ({
        ipaddr: inKernelOrder(addressesOf.all(ns, body.readInt32LE(4)) as AddressRow[]).map((a) => `${a.address}/${a.prefixlen}`),
      }),
      // The names users filter by: `dev` beside `oif`, on the route and on each nexthop.
      routeExtras: (ns, _body, rec, memo) => {
        if (Array.isArray(rec.multipath)) {
          rec.multipath = rec.multipath.map((h: Record<string, unknown>) => ({ ...h, dev: name(ns, h.oif, memo) }));
        }
        return { dev: name(ns, rec.oif, memo) };
      },
    });
    this.interfaces = c.interfaces;
    this.addresses = c.addresses;
    this.routes = c.routes;
    this.rules = c.rules;
    this.neighbours = c.neighbours;
    this.namespaces = new Namespaces(this);
    this.switches = this.makeSwitches(store, (e) => this.publishSwitch(e));
    this.applier = new Applier(store);
    this.events$ = this.subject.asObservable();
    this.errors$ = this.errorSubject.asObservable();
    this.applied$ = this.batches.asObservable();
  }

  /**
   * The collections this store reads through; the facade overrides this to
   * give them their ways of changing things (edit, freeze).
   */
  protected makeCollections(p: CollectionParts): Collections {
    return {
      interfaces: new InterfaceCollection(
        p.store,
        interfaces,
        (s) => (typeof s === 'number' ? { index: s } : { ifname: s }),
        p.interfaceExtras,
      ),
      addresses: new Collection<StoredAddress>(p.store, addresses, (s) => ({ address: String(s) })),
      routes: new RouteCollection(p.store, routes, (s) => ({ dst: String(s), table: 254 }), p.routeExtras),
      rules: new Collection<StoredRule>(p.store, rules, (s) => ({ priority: Number(s) })),
      neighbours: new Collection<StoredNeighbour>(p.store, neighbours, (s) => ({ dst: String(s) })),
    };
  }

  /** The switches' collection (the facade gives it ways of changing things). */
  protected makeSwitches(store: Store, publish: (event: StoreEvent) => void): SwitchCollection {
    return new SwitchCollection(store, publish);
  }

  /** A switch record changed: said on events$, and to waitFor. */
  private publishSwitch(event: StoreEvent): void {
    if (this.closed) return;
    this.subject.next(event);
    this.batches.next(new Set(['switch']));
  }

  /** Loads the namespaces' state and follows it from then on: a store without transactions. */
  static async open(options: DatabaseOptions = {}): Promise<Database> {
    parseSpec(OpenOptions, options, 'Database.open');
    const names = namespacesOf(options);
    const db = new Database(new Store(options.store ?? ':memory:'));
    await db.load(names, options);
    return db;
  }

  /** Follows the named namespaces (the root one for undefined); closes the store if one fails. */
  protected async load(names: (string | undefined)[], options: DatabaseOptions): Promise<void> {
    this.options = options;
    try {
      for (const n of names) await this.followOne(n);
      this.watchNamespaces();
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /**
   * Starts following a namespace at run time: its objects are loaded and
   * kept as records from then on (`ip netns` name, or undefined for the root
   * namespace). Following one already followed does nothing.
   */
  async follow(netns: string | undefined): Promise<void> {
    if (this.closed) throw new ClosedError('follow: the store is closed');
    if (netns !== undefined) validateNetnsName(netns);
    if (netns === ROOT) throw new ValidationError(`netns: "${ROOT}" is the name records give the root namespace`, 'netns');
    if (this.source(netns)) return;
    if (netns !== undefined && !netnsExists(netns)) throw new NamespaceError(`no network namespace named "${netns}"`);
    await this.followOne(netns);
    this.subject.next({ kind: 'netns', action: 'add', netns: netns ?? ROOT });
    this.batches.next(new Set(KINDS.map((k) => k.name)));
  }

  /** Stops following a namespace: its records go (the namespace itself stays). */
  async unfollow(netns: string): Promise<void> {
    const source = this.source(netns);
    if (!source) throw new NamespaceError(`namespace "${netns}" is not followed by this store`);
    this.forget(source);
  }

  private async followOne(n: string | undefined): Promise<void> {
    const source = await Source.open(n, this.store, this.applier, {
      eventBuffer: this.options.eventBuffer,
      onProgress: this.options.onLoadProgress,
      onChanges: (src, changes, reason) => this.publish(src, changes, reason),
      onError: (_src, error) => this.errorSubject.next(error),
    });
    this.sources.set(source.id, source);
  }

  /** Names of the followed namespaces ('localhost' for the root one), in the order they were followed. */
  get followed(): string[] {
    return [...this.sources.values()].map((s) => s.name);
  }

  /**
   * Resolves with the record once one matches (or, with `absent`, once none
   * does); a TimeoutError after `timeout`, a ClosedError if the store closes first.
   */
  async waitFor(kind: WaitKind, spec: string | number | Filter, options: WaitOptions = {}): Promise<StoreRecord | undefined> {
    const collection: { get(spec: string | number | Filter): StoreRecord | undefined } =
      kind === 'switch' ? (this.switches as never) : this.collection(kind);
    if (this.closed) throw new ClosedError('waitFor: the store is closed');
    parseSpec(WaitOptionsSpec, options, 'waitFor options');
    const timeout = options.timeout ?? 5000;
    const check = (): { done: boolean; value?: StoreRecord } => {
      const found = collection.get(spec);
      return options.absent ? { done: found === undefined } : { done: found !== undefined, value: found };
    };
    return new Promise((resolve, reject) => {
      const sub = this.batches.pipe(filter((kinds) => kinds.has(kind))).subscribe({
        next: () => {
          const r = check();
          if (r.done) finish(() => resolve(r.value));
        },
        complete: () => {
          const what = typeof spec === 'object' ? JSON.stringify(spec) : String(spec);
          finish(() => reject(new ClosedError(`waitFor: the store was closed while waiting for ${kind} ${what}`)));
        },
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
    await this.untilClosed(
      'sync',
      this.sourcesOf(netns).map((s) => s.sync(true)),
    );
  }

  /**
   * The cheap half of `sync()`: every change the kernel announced before the
   * call is in the store (what it announces later, like IPv6 addresses, may
   * not be). What a big commit paces itself with.
   */
  async barrier(netns?: string): Promise<void> {
    await this.untilClosed(
      'barrier',
      this.sourcesOf(netns).map((s) => s.sync(false)),
    );
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
    if (source) await this.untilClosed('refresh', [source.refresh(family, cmd, spec)]);
  }

  /** Waits for the kernel's answers; a close() meanwhile is a ClosedError, whatever the sockets said. */
  private async untilClosed(what: string, waits: Promise<unknown>[]): Promise<void> {
    try {
      await Promise.all(waits);
    } catch (e) {
      if (!this.closed) throw e;
    }
    if (this.closed) throw new ClosedError(`${what}: the store was closed before the kernel answered`);
  }

  private sourcesOf(netns?: string): Source[] {
    if (this.closed) throw new ClosedError('the store is closed');
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

  private collection(kind: KindName): Collection {
    const k = typeof kind === 'string' && Object.hasOwn(KIND_BY_NAME, kind) ? KIND_BY_NAME[kind] : undefined;
    if (!k) {
      const kinds = [...Object.keys(KIND_BY_NAME), 'switch'].join(', ');
      throw new ValidationError(`unknown kind ${shown(kind)} (one of ${kinds})`, 'kind');
    }
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
      this.watcher.unref(); // following namespaces is no reason to stay alive
    } catch {
      // No /run/netns: nothing named can disappear.
    }
  }

  /** A followed namespace whose name went away: forget it, and say so. */
  private checkNamespaces(): void {
    for (const s of [...this.sources.values()]) {
      if (s.netns !== undefined && !netnsExists(s.netns)) this.forget(s);
    }
  }

  /** Stops following a namespace and drops its records, and says so. */
  private forget(s: Source): void {
    s.close();
    this.sources.delete(s.id);
    this.store.dropNamespace(s.id);
    this.subject.next({ kind: 'netns', action: 'remove', netns: s.name });
    this.routes.generation++;
    this.batches.next(new Set(KINDS.map((k) => k.name)));
  }

  /**
   * Stops following the kernel and closes the store: every `events$`,
   * `applied$` and `errors$` subscriber completes, and a pending `waitFor` or
   * `sync()` rejects with a ClosedError.
   */
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

/** The machine's namespaces as this store sees them. */
export class Namespaces {
  constructor(private readonly db: Database) {}

  /** The root namespace and every named one (/run/netns), followed or not. */
  list(): NamespaceRecord[] {
    const followed = new Set(this.db.followed);
    const named = listNetns();
    return [undefined, ...named].map((n) => this.recordOf(n, followed));
  }

  /** One namespace by name ('localhost' for the root one), undefined when there is none. */
  get(name: string): NamespaceRecord | undefined {
    if (name === ROOT) return this.recordOf(undefined, new Set(this.db.followed));
    return netnsExists(name) ? this.recordOf(name, new Set(this.db.followed)) : undefined;
  }

  private recordOf(n: string | undefined, followed: Set<string>): NamespaceRecord {
    const name = n ?? ROOT;
    return { name, inode: netnsInode(n), followed: followed.has(name), made: this.db.made.has(name) };
  }
}

/** The namespaces an open call names: checked, the root one as undefined. */
export function namespacesOf(options: { netns?: string | readonly string[] }): (string | undefined)[] {
  const names: (string | undefined)[] =
    options.netns === undefined ? [undefined] : typeof options.netns === 'string' ? [options.netns] : [...options.netns];
  if (names.length === 0)
    throw new ValidationError('netns: name at least one namespace, or omit it for the root namespace', 'netns');
  if (new Set(names).size !== names.length) throw new ValidationError('netns: a namespace is named twice', 'netns');
  if (names.includes(ROOT)) {
    throw new ValidationError(`netns: "${ROOT}" is the name records give the root namespace; it cannot name another`, 'netns');
  }
  for (const n of names) if (n !== undefined && !netnsExists(n)) throw new NamespaceError(`no network namespace named "${n}"`);
  return names;
}

/** An address row as the interface records read it. */
interface AddressRow {
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
function inKernelOrder(rows: AddressRow[]): AddressRow[] {
  const flags = (r: AddressRow) => r.body[2] as number;
  const scope = (r: AddressRow) => r.body[3] as number;
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
