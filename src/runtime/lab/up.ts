/**
 * A lab file brought up as ONE transaction, and taken down leaving nothing.
 *
 * Up: every node a namespace (`LAB.NODE`), every link a veth pair made
 * straight into its two nodes' namespaces, addresses, MTUs, MACs, shaping,
 * bridges and their ports, routes, sysctls, BMv2 switches and each node's
 * `exec` commands (in a cgroup per node, with its limits): reviewed, then
 * committed all or nothing. On a lab that runs already, only the difference
 * between the model it runs and the file is staged (diff.ts).
 *
 * What it makes is written down in the lab registry before the commit
 * (persistent: it outlives the process), so `labDown` removes exactly that,
 * also after a crash, and nothing of another lab.
 */
import { removeCgroup } from '../../backends/cgroup.js';
import { netnsExists } from '../../backends/netns.js';
import { NetStateError } from '../../errors.js';
import { DEFAULT_JOURNAL, NetState } from '../../netstate/netstate.js';
import type { CommitOptions, CommitReport } from '../../transactions/commit.js';
import type { PendingCommit } from '../../transactions/provisional.js';
import type { Review, Transaction } from '../../transactions/transaction.js';
import { type CleanupReport, cleanupLab } from '../cleanup.js';
import { LabRegistry, type MadeRecord } from '../registry.js';
import { diffLabs, isEmptyDiff, type LabDiff } from './diff.js';
import type { Impairment, LabInterface, LabLink, LabModel, LabNode, LabRoute } from './model.js';

export interface LabUpOptions {
  /** The store to work through (default: one opened for the call, following nothing else). */
  db?: NetState;
  /** The journal file (the lab's records go there too). */
  journal?: string;
  /** Stage and review only: nothing is changed. */
  dryRun?: boolean;
  /** The lab file it came from (recorded). */
  file?: string;
  /** The simple_switch_grpc executable for bmv2 nodes (default: on PATH). */
  bmv2Binary?: string;
  /** Told after each phase of the commit. */
  progress?: CommitOptions['progress'];
  /** Commit-confirmed: rolled back after this many ms unless confirmed. */
  confirm?: number;
  /** How long the store may take to show the lab (ms). */
  timeout?: number;
  /** Shown the review before anything is changed (what `lab up` prints first). */
  onReview?: (review: Review) => unknown;
}

export interface LabUpResult {
  model: LabModel;
  /** Whether the lab ran already (then only `diff` was applied). */
  running: boolean;
  diff?: LabDiff;
  review: Review;
  /** Absent with dryRun or when there was nothing to do. */
  report?: CommitReport | PendingCommit;
}

type Item = Omit<MadeRecord, 'lab' | 'seq' | 'state' | 'commit'>;

/** The cgroup of a node's processes: its namespace's name (LAB.NODE). */
function cgroupOf(node: LabNode): string {
  return node.namespace;
}

/** Brings a lab up (or, running, to what the model says); the review comes first in the result. */
export async function labUp(model: LabModel, options: LabUpOptions = {}): Promise<LabUpResult> {
  return withStore(options, async (db, registry) => {
    const stored = registry.model(model.name) as LabModel | undefined;
    const running = stored !== undefined && registry.list(model.name).length > 0;
    // A difference is staged on the running lab's objects: the store must hold them.
    if (running) for (const n of Object.values(stored.nodes)) await followIfThere(db, n.namespace);
    const tx = db.begin();
    let items: Item[];
    let diff: LabDiff | undefined;
    try {
      if (running) {
        diff = diffLabs(stored, model);
        items = stageDiff(tx, stored, model, diff, options);
      } else {
        items = stageLab(tx, model, options);
      }
    } catch (e) {
      tx.drop();
      throw e;
    }
    const review = tx.review();
    await options.onReview?.(review);
    if (options.dryRun || (diff && isEmptyDiff(diff))) {
      tx.drop();
      return { model, running, ...(diff ? { diff } : {}), review };
    }
    registry.claim(model.name, { persistent: true, ...(options.file ? { file: options.file } : {}) });
    const seqs = registry.intend(model.name, items);
    let report: CommitReport | PendingCommit;
    try {
      report = await tx.commit({
        ...(options.progress ? { progress: options.progress } : {}),
        ...(options.confirm !== undefined ? { confirm: options.confirm } : {}),
        ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      });
    } catch (e) {
      registry.forget(model.name, seqs);
      if (registry.list(model.name).length === 0) registry.drop(model.name);
      throw e;
    }
    registry.made(model.name, seqs, 'id' in report ? report.id : undefined);
    if (diff) {
      // A removed node's processes ended with its namespace; their cgroup goes now.
      for (const n of diff.removedNodes) await removeCgroup(cgroupOf(n)).catch(() => undefined);
      forgetRemoved(registry, model.name, diff);
    }
    registry.setModel(model.name, model as unknown as Record<string, unknown>);
    return { model, running, ...(diff ? { diff } : {}), review, report };
  });
}

/** Removes what lab `name` made (its namespaces with everything in them, its cgroups), and nothing else. */
export async function labDown(name: string, options: Pick<LabUpOptions, 'db' | 'journal'> = {}): Promise<CleanupReport> {
  return withStore(options, async (db, registry) => {
    if (!registry.lab(name)) throw new NetStateError(`no lab named "${name}" is up (netstate lab list shows those that are)`);
    return cleanupLab(db, registry, name);
  });
}

/** The labs in the registry: name, file, whether its process is alive does not matter (they are persistent). */
export async function labList(
  options: Pick<LabUpOptions, 'journal'> = {},
): Promise<{ name: string; file?: string; made: number }[]> {
  const registry = LabRegistry.open(journalPath(options));
  try {
    return registry
      .labs()
      .map((l) => ({ name: l.name, ...(l.file ? { file: l.file } : {}), made: registry.list(l.name).length }));
  } finally {
    registry.close();
  }
}

/** The model a running lab was brought up with. */
export function runningModel(name: string, options: Pick<LabUpOptions, 'journal'> = {}): LabModel | undefined {
  const registry = LabRegistry.open(journalPath(options));
  try {
    return registry.model(name) as LabModel | undefined;
  } finally {
    registry.close();
  }
}

function journalPath(options: Pick<LabUpOptions, 'journal' | 'db'>): string {
  return options.journal ?? options.db?.journal?.path ?? process.env.NETSTATE_JOURNAL ?? DEFAULT_JOURNAL;
}

async function withStore<T>(
  options: Pick<LabUpOptions, 'db' | 'journal'>,
  fn: (db: NetState, registry: LabRegistry) => Promise<T>,
): Promise<T> {
  const db = options.db ?? (await NetState.open({ netns: [], ...(options.journal ? { journal: options.journal } : {}) }));
  const registry = LabRegistry.open(journalPath({ ...options, db }));
  try {
    return await fn(db, registry);
  } finally {
    registry.close();
    if (!options.db) await db.close();
  }
}

async function followIfThere(db: NetState, netns: string): Promise<void> {
  if (!db.followed.includes(netns) && netnsExists(netns)) await db.follow(netns);
}

// ---------------------------------------------------------------- staging a whole lab

/** Stages the whole lab into `tx`; returns what it makes, for the registry. */
export function stageLab(tx: Transaction, model: LabModel, options: Pick<LabUpOptions, 'bmv2Binary'> = {}): Item[] {
  const items: Item[] = [];
  const nodes = Object.values(model.nodes);
  for (const node of nodes) items.push(...stageNode(tx, node));
  for (const link of Object.values(model.links)) stageLink(tx, model, link);
  for (const node of nodes) stageNodeAfterLinks(tx, node, options);
  return items;
}

/** A node's namespace, its bridge and sysctls (what needs no link). */
function stageNode(tx: Transaction, node: LabNode): Item[] {
  const ns = node.namespace;
  tx.addNamespace(ns);
  if (node.bridge) tx.create({ kind: 'bridge', ifname: node.bridge.device, netns: ns }).up();
  for (const [key, value] of Object.entries(node.sysctls)) tx.sysctl(key, value, { netns: ns });
  const items: Item[] = [{ kind: 'namespace', netns: ns, name: ns }];
  // The exec commands share the node's cgroup; a switch has one of its own, which goes with its namespace.
  if (node.exec.length) items.push({ kind: 'cgroup', netns: ns, name: cgroupOf(node) });
  return items;
}

/** A veth pair straight into its two nodes' namespaces, each end configured as its node says. */
function stageLink(tx: Transaction, model: LabModel, link: LabLink): void {
  const [a, b] = link.endpoints;
  const na = model.nodes[a.node] as LabNode;
  const nb = model.nodes[b.node] as LabNode;
  const ia = na.interfaces[a.interface] as LabInterface;
  const ib = nb.interfaces[b.interface] as LabInterface;
  const attrs = (i: LabInterface) => ({
    ...((i.mtu ?? link.mtu) ? { mtu: i.mtu ?? link.mtu } : {}),
    ...(i.mac ? { address: i.mac } : {}),
  });
  tx.create({
    kind: 'veth',
    ifname: ia.name,
    netns: na.namespace,
    peer: { ifname: ib.name, netns: nb.namespace, ...attrs(ib) },
    ...attrs(ia),
  });
  stageEnd(tx, na, ia);
  stageEnd(tx, nb, ib);
}

function stageEnd(tx: Transaction, node: LabNode, i: LabInterface): void {
  const h = tx.interface(i.name, { netns: node.namespace });
  for (const address of i.addresses) h.addIp(address);
  if (i.impair) h.shape(shapeOf(i.impair));
  h.up();
  if (node.bridge) tx.interface(node.bridge.device, { netns: node.namespace }).addPort(i.name);
}

/** tc terms of an impairment (rate in bit/s, times in ms, loss in percent). */
function shapeOf(i: Impairment): Record<string, number> {
  return {
    ...(i.rateBitPerSec !== undefined ? { rate: i.rateBitPerSec } : {}),
    ...(i.delayUs !== undefined ? { delay: i.delayUs / 1000 } : {}),
    ...(i.jitterUs !== undefined ? { jitter: i.jitterUs / 1000 } : {}),
    ...(i.lossPercent !== undefined ? { loss: i.lossPercent } : {}),
  };
}

/** Routes, the switch and the exec commands: once the links are there. */
function stageNodeAfterLinks(tx: Transaction, node: LabNode, options: Pick<LabUpOptions, 'bmv2Binary'>): void {
  for (const r of node.routes) stageRoute(tx, node, r);
  if (node.switch) stageSwitch(tx, node, options);
  stageExec(tx, node, node.exec);
}

function stageRoute(tx: Transaction, node: LabNode, r: LabRoute): void {
  tx.addRoute({
    dst: r.dst === '0.0.0.0/0' || r.dst === '::/0' ? 'default' : r.dst,
    ...(r.family === 6 ? { family: 'inet6' } : {}),
    ...(r.via ? { gateway: r.via } : {}),
    ...(r.dev ? { dev: r.dev } : {}),
    ...(r.metric !== undefined ? { priority: r.metric } : {}),
    netns: node.namespace,
  } as Parameters<Transaction['addRoute']>[0]);
}

function stageExec(tx: Transaction, node: LabNode, commands: readonly string[]): void {
  commands.forEach((cmd, i) => {
    tx.run(node.namespace, ['/bin/sh', '-c', cmd], {
      name: `${node.name}-exec${i + 1}`,
      cgroup: cgroupOf(node),
      shared: true,
      ...(limitsOf(node) ? { limits: limitsOf(node) } : {}),
    });
  });
}

function limitsOf(node: LabNode): { cpu?: number; memory?: number } | undefined {
  const { cpu, memoryBytes } = node.limits;
  if (cpu === undefined && memoryBytes === undefined) return undefined;
  return { ...(cpu !== undefined ? { cpu } : {}), ...(memoryBytes !== undefined ? { memory: memoryBytes } : {}) };
}

function stageSwitch(tx: Transaction, node: LabNode, options: Pick<LabUpOptions, 'bmv2Binary'>): void {
  const s = node.switch;
  if (!s) return;
  tx.addSwitch({
    name: node.name,
    netns: node.namespace,
    ports: s.ports,
    deviceId: s.deviceId,
    thriftPort: s.thriftPort,
    grpcAddress: `0.0.0.0:${s.grpcPort}`,
    ...(s.program ? { program: s.program } : { noP4: true }),
    ...(s.cpuPort !== undefined ? { cpuPort: s.cpuPort } : {}),
    ...(s.log ? { log: s.log } : {}),
    ...(s.pcap ? { pcap: s.pcap } : {}),
    ...(options.bmv2Binary ? { binary: options.bmv2Binary } : {}),
    ...(limitsOf(node) ? { limits: limitsOf(node) } : {}),
  });
}

// ---------------------------------------------------------------- staging a difference

/** Stages what turns the running lab into the desired one; returns what it makes. */
export function stageDiff(
  tx: Transaction,
  running: LabModel,
  desired: LabModel,
  diff: LabDiff,
  options: Pick<LabUpOptions, 'bmv2Binary'> = {},
): Item[] {
  const items: Item[] = [];
  const removedNodes = new Set(diff.removedNodes.map((n) => n.name));
  const nsOf = (model: LabModel, node: string) => (model.nodes[node] as LabNode).namespace;
  // Removals: routes, addresses, links between kept nodes, switches to restart, nodes.
  for (const { node, route } of diff.removedRoutes) {
    tx.route({
      dst: route.dst === '0.0.0.0/0' || route.dst === '::/0' ? 'default' : route.dst,
      netns: nsOf(running, node),
      ...(route.family === 6 ? { family: 'inet6' } : {}),
    } as Parameters<Transaction['route']>[0]).remove();
  }
  for (const a of diff.removedAddresses) tx.interface(a.interface, { netns: nsOf(running, a.node) }).delIp(a.address);
  for (const l of diff.removedLinks) {
    const [e] = l.endpoints;
    if (removedNodes.has(e.node) || removedNodes.has(l.endpoints[1].node)) continue; // goes with the node
    tx.interface(e.interface, { netns: nsOf(running, e.node) }).remove();
  }
  for (const c of diff.changedNodes) if (c.switch) tx.switch(c.node).remove();
  for (const n of diff.removedNodes) tx.removeNamespace(n.namespace);
  // Additions: nodes, links, addresses, routes, settings.
  for (const n of diff.addedNodes) items.push(...stageNode(tx, n));
  for (const l of diff.addedLinks) stageLink(tx, desired, l);
  for (const a of diff.addedAddresses) tx.interface(a.interface, { netns: nsOf(desired, a.node) }).addIp(a.address);
  for (const { node, route } of diff.addedRoutes) stageRoute(tx, desired.nodes[node] as LabNode, route);
  for (const n of diff.addedNodes) {
    if (n.switch) stageSwitch(tx, n, options);
    stageExec(tx, n, n.exec);
    for (const r of n.routes) if (!diff.addedRoutes.some((x) => x.node === n.name && x.route === r)) stageRoute(tx, n, r);
  }
  for (const c of diff.changedNodes) {
    const node = desired.nodes[c.node] as LabNode;
    for (const s of c.sysctls ?? []) if (s.after !== undefined) tx.sysctl(s.key, s.after, { netns: node.namespace });
    if (c.switch) stageSwitch(tx, node, options);
    // Commands not run before are run now; those that were are not run again.
    if (c.exec)
      stageExec(
        tx,
        node,
        c.exec.after.filter((cmd) => !c.exec?.before.includes(cmd)),
      );
  }
  for (const l of diff.changedLinks) {
    for (const e of (desired.links[l.link] as LabLink).endpoints) {
      const h = tx.interface(e.interface, { netns: nsOf(desired, e.node) });
      if (l.mtu?.after !== undefined) h.set({ mtu: l.mtu.after });
      const mac = l.macs?.find((m) => m.node === e.node && m.interface === e.interface)?.after;
      if (mac) h.set({ address: mac });
    }
  }
  for (const i of diff.impairments) {
    const h = tx.interface(i.interface, { netns: nsOf(desired, i.node) });
    if (i.after) h.shape(shapeOf(i.after));
    else h.clearShape();
  }
  return items;
}

/** Nodes the diff removed leave the registry with their namespaces. */
function forgetRemoved(registry: LabRegistry, lab: string, diff: LabDiff): void {
  const gone = new Set(diff.removedNodes.flatMap((n) => [n.namespace, cgroupOf(n)]));
  registry.forget(
    lab,
    registry
      .list(lab)
      .filter((r) => (r.kind === 'namespace' || r.kind === 'cgroup') && gone.has(r.name))
      .map((r) => r.seq),
  );
}
