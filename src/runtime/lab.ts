/**
 * Lab: DummyNet's surface (netns_add, link_veth_add, bridge_add, addr_add,
 * tc, forward, add_cgroup, run, netns_kill_all, cleanup, ...) in
 * TypeScript spelling, the netstate way: each call is one transaction on
 * the store (or joins the one `lab.batch()` holds open), and what a call
 * makes is written down (registry.ts) before its commit, so `cleanup()`
 * removes exactly what the lab made, in reverse order, and nothing else:
 * on `await using`, on SIGINT/SIGTERM, and, after a crash, on the next
 * `Lab.open`.
 *
 *   await using lab = await Lab.open();
 *   const h1 = await lab.netnsAdd('h1');
 *   await lab.linkVethAdd('v1', 'v1p');
 *   await lab.linkSet('h1', 'v1');
 *   await h1.addrAdd('10.0.0.1/24', 'v1');
 *   await h1.up('v1');
 *   await h1.run('ip addr');
 *
 * A lab scoped to a namespace (`netnsAdd` returns one) speaks of that
 * namespace's links; the lab it came from speaks of the root namespace's
 * (or of the namespace named by `Lab.open({ netns })`).
 */
import { cgroupList, createCgroup } from '../backends/cgroup.js';
import { listNetns } from '../backends/netns.js';
import { type KilledProcess, killAll, killProcess, type ProcessInfo, processes } from '../backends/process/members.js';
import type { ExecResult, NsProcess } from '../backends/process/spawn.js';
import { exec } from '../backends/process/spawn.js';
import type { InterfaceRecord } from '../db/records.js';
import { ROOT } from '../db/source.js';
import { NamespaceError, ValidationError } from '../errors.js';
import { DEFAULT_JOURNAL, NetState } from '../netstate/netstate.js';
import type { CommitReport } from '../transactions/commit.js';
import type { Transaction } from '../transactions/transaction.js';
import { type CleanupReport, cleanupLab } from './cleanup.js';
import { LabRegistry, type MadeRecord } from './registry.js';

export interface LabOptions {
  /** The lab's name in the registry (default `lab-<pid>-<n>`): what `cleanup` and a later sweep go by. */
  name?: string;
  /** A store to work through (default: one opened for the lab, following only what the lab makes). */
  db?: NetState;
  /** The journal file the lab's records go into (default: the store's, else $NETSTATE_JOURNAL or /var/lib/netstate/journal.sqlite). */
  journal?: string;
  /** The namespace the lab's own calls speak of (default: the root namespace). */
  netns?: string;
  /** Outlives this process (no sweep, no cleanup on signals); default false. */
  persistent?: boolean;
  /** Clean up on SIGINT and SIGTERM, then die of the signal as usual (default true unless persistent). */
  handleSignals?: boolean;
}

export interface ShapeOptions {
  /** '10mbit' or bits per second. */
  rate?: string | number;
  /** '20ms' or ms. */
  delay?: string | number;
  jitter?: string | number;
  /** '1%' or percent. */
  loss?: string | number;
  /** Packets in the queue. */
  limit?: number;
}

type Item = Omit<MadeRecord, 'lab' | 'seq' | 'state' | 'commit'>;

let labs = 0;
/** Labs of this process to clean up on a signal. */
const open = new Set<LabCore>();
let handlersInstalled = false;

/** What a lab and its scoped views share: the store, the registry, the batch in progress. */
class LabCore {
  batch?: { tx: Transaction; items: Item[] };
  closed = false;

  constructor(
    readonly name: string,
    readonly db: NetState,
    readonly registry: LabRegistry,
    readonly ownsDb: boolean,
    readonly persistent: boolean,
  ) {}

  /** Runs `stage` in a transaction of its own (or the open batch); what it makes is recorded first. */
  async change(stage: (tx: Transaction) => Item[] | undefined): Promise<CommitReport | undefined> {
    if (this.closed) throw new ValidationError(`lab ${this.name} was cleaned up`, 'lab');
    if (this.batch) {
      this.batch.items.push(...(stage(this.batch.tx) ?? []));
      return undefined;
    }
    const tx = this.db.begin();
    let items: Item[];
    try {
      items = stage(tx) ?? [];
    } catch (e) {
      tx.drop();
      throw e;
    }
    return this.commit(tx, items);
  }

  async commit(tx: Transaction, items: Item[]): Promise<CommitReport> {
    const seqs = this.registry.intend(this.name, items);
    try {
      const report = (await tx.commit()) as CommitReport;
      this.registry.made(this.name, seqs, report.id);
      return report;
    } catch (e) {
      this.registry.forget(this.name, seqs);
      throw e;
    }
  }

  /** Whether the lab made this link (so what is put on it needs no record of its own). */
  made(kind: MadeRecord['kind'], netns: string, name: string): MadeRecord | undefined {
    return this.registry
      .list(this.name)
      .find((r) => r.kind === kind && r.name === name && (kind === 'namespace' || r.netns === netns));
  }
}

export class Lab implements AsyncDisposable {
  private constructor(
    private readonly core: LabCore,
    /** The namespace this lab (view) speaks of. */
    readonly netns: string,
  ) {}

  /**
   * A new lab. Leftovers of ephemeral labs whose process died (kill -9, a
   * crash) are removed first, as their records say.
   */
  static async open(options: LabOptions = {}): Promise<Lab> {
    const db = options.db ?? (await NetState.open({ netns: [], ...(options.journal ? { journal: options.journal } : {}) }));
    const path = options.journal ?? db.journal?.path ?? process.env.NETSTATE_JOURNAL ?? DEFAULT_JOURNAL;
    const registry = LabRegistry.open(path);
    try {
      await sweep(db, registry);
      const name = options.name ?? `lab-${process.pid}-${++labs}`;
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
        throw new ValidationError(`lab name ${JSON.stringify(name)}: 1..64 letters, digits, '_', '.', '-'`, 'name');
      }
      const persistent = options.persistent ?? false;
      registry.claim(name, { persistent });
      const core = new LabCore(name, db, registry, options.db === undefined, persistent);
      const netns = options.netns ?? ROOT;
      if (netns !== ROOT) await follow(db, netns);
      else if (!db.followed.includes(ROOT)) await db.follow(undefined);
      if (options.handleSignals ?? !persistent) watchSignals(core);
      return new Lab(core, netns);
    } catch (e) {
      registry.close();
      if (options.db === undefined) await db.close();
      throw e;
    }
  }

  /** The lab's name in the registry. */
  get name(): string {
    return this.core.name;
  }

  /** The store the lab works through. */
  get db(): NetState {
    return this.core.db;
  }

  /** What the lab made so far, in order. */
  made(): MadeRecord[] {
    return this.core.registry.list(this.core.name);
  }

  /**
   * Stages every call `fn` makes into one transaction, committed when it
   * returns (all or nothing); dropped if it throws.
   */
  async batch(fn: () => Promise<unknown> | unknown): Promise<CommitReport | undefined> {
    if (this.core.batch) throw new ValidationError('a batch is open already', 'batch');
    const batch = { tx: this.core.db.begin(), items: [] as Item[] };
    this.core.batch = batch;
    try {
      await fn();
    } catch (e) {
      batch.tx.drop();
      throw e;
    } finally {
      this.core.batch = undefined;
    }
    return this.core.commit(batch.tx, batch.items);
  }

  // ---- namespaces

  /** `ip netns add NAME`: returns the lab scoped to it. */
  async netnsAdd(name: string): Promise<Lab> {
    await this.core.change((tx) => {
      tx.addNamespace(name);
      return [{ kind: 'namespace', netns: name, name }];
    });
    return new Lab(this.core, name);
  }

  /** This lab, speaking of another namespace (one it made, or any other). */
  async scope(netns: string): Promise<Lab> {
    await follow(this.core.db, netns);
    return new Lab(this.core, netns);
  }

  /** `ip netns del NAME`, its processes ended first. */
  async netnsDelete(name: string): Promise<void> {
    await this.core.change((tx) => {
      tx.removeNamespace(name);
      return [];
    });
    const rec = this.core.made('namespace', name, name);
    if (rec) this.core.registry.forget(this.core.name, [rec.seq]);
  }

  /** `ip netns list`. */
  netnsList(): string[] {
    return listNetns();
  }

  // ---- links

  /** `ip link add P1 type veth peer name P2`, both ends in this lab's namespace. */
  async linkVethAdd(p1: string, p2: string): Promise<[string, string]> {
    await this.core.change((tx) => {
      tx.create({ kind: 'veth', ifname: p1, peer: p2, netns: this.netns });
      return [{ kind: 'link', netns: this.netns, name: p1 }];
    });
    return [p1, p2];
  }

  /** `ip link set IFACE netns NAMESPACE`. */
  async linkSet(namespace: string, iface: string): Promise<void> {
    await follow(this.core.db, namespace);
    await this.core.change((tx) => {
      tx.interface(iface, { netns: this.netns }).set({ netns: namespace });
      return [];
    });
    const rec = this.core.made('link', this.netns, iface);
    if (rec) this.core.registry.moved(this.core.name, rec.seq, namespace);
  }

  /** `ip link del IFACE`. */
  async linkDelete(iface: string): Promise<void> {
    await this.core.change((tx) => {
      tx.interface(iface, { netns: this.netns }).remove();
      return [];
    });
    const rec = this.core.made('link', this.netns, iface);
    if (rec) this.core.registry.forget(this.core.name, [rec.seq]);
  }

  /** `ip link list [type T]`: the names. */
  linkList(type?: string): string[] {
    const all = this.core.db.interfaces.list({ netns: this.netns }) as InterfaceRecord[];
    return all.filter((i) => type === undefined || i.kind === type).map((i) => String(i.ifname));
  }

  /** `ip link add NAME type bridge`. */
  async bridgeAdd(name: string): Promise<string> {
    await this.core.change((tx) => {
      tx.create({ kind: 'bridge', ifname: name, netns: this.netns });
      return [{ kind: 'link', netns: this.netns, name }];
    });
    return name;
  }

  /** `ip link set IFACE master BRIDGE`. */
  async bridgeSet(bridge: string, iface: string): Promise<void> {
    await this.core.change((tx) => {
      tx.interface(bridge, { netns: this.netns }).addPort(iface);
      return [];
    });
  }

  /** The bridges of this namespace. */
  bridgeList(): string[] {
    return this.linkList('bridge');
  }

  // ---- addresses, state, routes

  /** `ip addr add IP dev IFACE`. */
  async addrAdd(ip: string, iface: string): Promise<void> {
    await this.core.change((tx) => {
      tx.interface(iface, { netns: this.netns }).addIp(ip);
      return this.onForeign(iface, { kind: 'address', netns: this.netns, name: ip, detail: iface });
    });
  }

  /** `ip addr del IP dev IFACE`. */
  async addrDel(ip: string, iface: string): Promise<void> {
    await this.core.change((tx) => {
      tx.interface(iface, { netns: this.netns }).delIp(ip);
      return [];
    });
  }

  /** `ip link set IFACE up`. */
  async up(iface: string): Promise<void> {
    await this.core.change((tx) => {
      tx.interface(iface, { netns: this.netns }).up();
      return [];
    });
  }

  /** `ip link set IFACE down`. */
  async down(iface: string): Promise<void> {
    await this.core.change((tx) => {
      tx.interface(iface, { netns: this.netns }).down();
      return [];
    });
  }

  /** `ip route add default via IP` (DummyNet's route). */
  async route(ip: string): Promise<void> {
    await this.core.change((tx) => {
      tx.addRoute({ dst: 'default', gateway: ip, netns: this.netns });
      return this.core.made('namespace', this.netns, this.netns) ? [] : [{ kind: 'route', netns: this.netns, name: 'default' }];
    });
  }

  // ---- traffic control

  /** DummyNet's tc: delay, loss, rate, limit on IFACE's root qdisc (netem; tbf for rate alone where netem is missing). */
  async tc(iface: string, shape: ShapeOptions): Promise<void> {
    await this.core.change((tx) => {
      tx.interface(iface, { netns: this.netns }).shape(shape);
      return this.onForeign(iface, { kind: 'qdisc', netns: this.netns, name: 'root', detail: iface });
    });
  }

  /** DummyNet's tc_show: IFACE's qdiscs as records. */
  tcShow(iface: string): Record<string, unknown>[] {
    return this.core.db.qdiscs.list({ netns: this.netns, ifname: iface }) as Record<string, unknown>[];
  }

  /** All traffic arriving on FROM sent out of TO (ingress qdisc, u32 match-all, mirred redirect). */
  async forward(from: string, to: string): Promise<void> {
    await this.core.change((tx) => {
      tx.interface(from, { netns: this.netns }).forwardTo(to);
      return this.onForeign(from, { kind: 'forward', netns: this.netns, name: to, detail: from });
    });
  }

  // ---- cgroups and processes

  /** DummyNet's add_cgroup: `netstate/NAME` with a cpu fraction and a memory limit (bytes or '256M'). */
  addCgroup(name: string, limits: { cpu?: number; memory?: number | string } = {}): string {
    const [seq] = this.core.registry.intend(this.core.name, [{ kind: 'cgroup', netns: this.netns, name }]) as [number];
    try {
      createCgroup(name, limits);
    } catch (e) {
      this.core.registry.forget(this.core.name, [seq]);
      throw e;
    }
    this.core.registry.made(this.core.name, [seq]);
    return name;
  }

  /** The cgroups under netstate/, with their processes. */
  cgroupList(): ReturnType<typeof cgroupList> {
    return cgroupList();
  }

  /** DummyNet's run: a shell command inside this lab's namespace, to its end (a non-zero exit throws). */
  async run(cmd: string, options: { cwd?: string; timeout?: number; check?: boolean } = {}): Promise<ExecResult> {
    return exec(this.netns === ROOT ? undefined : this.netns, ['/bin/sh', '-c', cmd], options);
  }

  /** DummyNet's run_async: a shell command left running in this lab's namespace, in a cgroup the lab removes. */
  async runAsync(
    cmd: string,
    options: { cwd?: string; limits?: { cpu?: number; memory?: number | string }; log?: string } = {},
  ): Promise<NsProcess> {
    let name = '';
    const report = await this.core.change((tx) => {
      name = tx.spawn(this.netns, ['/bin/sh', '-c', cmd], { ...options, name: `sh-${Date.now().toString(36)}` });
      const cgroup = tx.host.processes.get(name)?.target?.cgroup as string;
      return [{ kind: 'process', netns: this.netns, name: cgroup }];
    });
    const p = report?.processes?.[name];
    if (!p) throw new ValidationError('runAsync inside a batch: the process starts when the batch commits', 'batch');
    return p;
  }

  /** DummyNet's netns_process_list: every process in the namespace. */
  netnsProcessList(namespace: string = this.netns): ProcessInfo[] {
    return processes(namespace === ROOT ? undefined : namespace);
  }

  /** DummyNet's netns_kill_process: refused for a process outside the namespace. */
  netnsKillProcess(namespace: string, pid: number): KilledProcess {
    return killProcess(namespace === ROOT ? undefined : namespace, pid);
  }

  /** DummyNet's netns_kill_all: ends every process in the namespace (SIGTERM, then SIGKILL). */
  async netnsKillAll(namespace: string = this.netns): Promise<KilledProcess[]> {
    if (namespace === ROOT) throw new NamespaceError('netnsKillAll: not in the root namespace');
    return killAll(namespace);
  }

  // ---- the end

  /** Removes what the lab made, in reverse order, and nothing else; the lab cannot be used afterwards. */
  async cleanup(): Promise<CleanupReport> {
    const core = this.core;
    if (core.closed) return { removed: [] };
    core.closed = true;
    open.delete(core);
    try {
      return await cleanupLab(core.db, core.registry, core.name);
    } finally {
      core.registry.close();
      if (core.ownsDb) await core.db.close();
    }
  }

  /** Leaves what the lab made in place (a persistent lab), and lets go of the store. */
  async detach(): Promise<void> {
    const core = this.core;
    if (core.closed) return;
    core.closed = true;
    open.delete(core);
    core.registry.close();
    if (core.ownsDb) await core.db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.core.persistent) await this.detach();
    else await this.cleanup();
  }

  /** A record for something put on a link the lab did not make (what is on its own links goes with them). */
  private onForeign(iface: string, item: Item): Item[] {
    if (this.core.made('namespace', this.netns, this.netns) || this.core.made('link', this.netns, iface)) return [];
    return [item];
  }
}

async function follow(db: NetState, netns: string): Promise<void> {
  if (db.followed.includes(netns)) return;
  await db.follow(netns === ROOT ? undefined : netns);
}

/** Removes what ephemeral labs of dead processes left behind. */
export async function sweep(db: NetState, registry: LabRegistry): Promise<string[]> {
  const swept: string[] = [];
  for (const lab of registry.orphans()) {
    await cleanupLab(db, registry, lab.name);
    swept.push(lab.name);
  }
  return swept;
}

/**
 * On SIGINT or SIGTERM: every open ephemeral lab of this process cleans up,
 * then the process dies of the signal as it would have (the handlers are
 * removed and the signal sent again), so a shell sees the usual status.
 */
function watchSignals(core: LabCore): void {
  open.add(core);
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const handler = async () => {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
      handlersInstalled = false;
      for (const c of [...open]) {
        open.delete(c);
        c.closed = true;
        await cleanupLab(c.db, c.registry, c.name).catch(() => undefined);
      }
      process.kill(process.pid, signal);
    };
    if (signal === 'SIGINT') onInt = handler;
    else onTerm = handler;
    process.once(signal, handler);
  }
}
let onInt: () => void = () => undefined;
let onTerm: () => void = () => undefined;
