/**
 * `tx.load(state)`: stage whatever turns the current state into a given one,
 * the state being what `db.dump()` returns (possibly saved as JSON and read
 * back). Together they close the loop: dump, change things, load the dump,
 * review, commit.
 *
 * What is compared, per namespace of the state:
 * - interfaces by name: created, removed, and their state, mtu, MAC, alias,
 *   txqlen, master and addresses (the kernel's link-local ones excepted);
 * - routes by key, the kernel's own (proto kernel) excepted: they follow
 *   addresses;
 * - rules by their whole match set;
 * - permanent neighbours (the rest is the kernel's cache).
 */
import type { StoreRecord } from '../db/records.js';
import { ValidationError } from '../errors.js';
import { dumpLinks, interfaceOf, isLinkLocal, type Links, neighbourOf, routeOf, ruleOf } from './current.js';
import { canonical } from './diff.js';
import type { InterfaceTarget, RouteTarget } from './staged.js';
import { routeKey, type Transaction } from './transaction.js';

export interface DumpedState {
  namespaces: Record<string, Record<string, readonly StoreRecord[]>>;
}

const ATTRIBUTES = ['mtu', 'address', 'ifalias', 'txqlen'] as const;

export function stageState(tx: Transaction, state: DumpedState): void {
  if (!state || typeof state !== 'object' || !state.namespaces || typeof state.namespaces !== 'object') {
    throw new ValidationError('load: expected a state as db.dump() returns it: { namespaces: { name: { interfaces, ... } } }');
  }
  for (const netns of Object.keys(state.namespaces)) {
    if (!tx.db.namespaces.includes(netns)) {
      throw new ValidationError(`load: the state has namespace "${netns}", which this store does not follow`, 'netns');
    }
  }
  const given = dumpLinks(state);
  for (const netns of Object.keys(state.namespaces)) stageInterfaces(tx, netns, given);
  for (const [netns, kinds] of Object.entries(state.namespaces)) {
    stageRoutes(
      tx,
      netns,
      (kinds.routes ?? []).map((r) => routeOf(given, r)),
    );
    stageRules(tx, netns, kinds.rules ?? []);
    stageNeighbours(tx, netns, kinds.neighbours ?? [], given);
  }
}

const own = (a: string) => !isLinkLocal(a);

function stageInterfaces(tx: Transaction, netns: string, given: Links): void {
  const want = new Map(given.all(netns).map((r) => [r.ifname as string, interfaceOf(given, r)]));
  const have = new Map(tx.db.interfaces.list({ netns }).map((r) => [r.ifname as string, r]));
  const staged = (name: string) => tx.interfaces.get(tx.ifKey(name, netns));
  for (const name of have.keys()) {
    if (want.has(name) || (staged(name) && !staged(name)?.target)) continue;
    tx.interface(name, { netns }).remove();
  }
  for (const [name, t] of want) {
    if (have.has(name) || staged(name)?.target) continue;
    create(tx, t, given);
  }
  // Attributes, addresses and masters once every interface exists (in the staging).
  for (const [name, t] of want) {
    const handle = tx.interface(name, { netns });
    const cur = tx.interfaces.get(tx.ifKey(name, netns))?.target as InterfaceTarget;
    const changes: Record<string, unknown> = {};
    for (const a of ATTRIBUTES) if (t[a] !== undefined && t[a] !== cur[a]) changes[a] = t[a];
    if (t.master !== cur.master) changes.master = t.master ?? null;
    if (t.state !== cur.state) changes.state = t.state;
    if (Object.keys(changes).length) handle.set(changes);
    for (const a of cur.ipaddr.filter(own)) if (!t.ipaddr.includes(a)) handle.delIp(a);
    for (const a of t.ipaddr.filter(own)) if (!cur.ipaddr.includes(a)) handle.addIp(a);
  }
}

function create(tx: Transaction, t: InterfaceTarget, given: Links): void {
  if (t.peerOf !== undefined) return;
  if (!t.kind) throw new ValidationError(`load: interface ${t.ifname} has no kind, so it cannot be created`, 'kind');
  const spec: Record<string, unknown> = { kind: t.kind, ifname: t.ifname, netns: t.netns, index: t.index };
  if (t.data) spec.data = t.data;
  if (t.link) spec.link = t.link;
  if (t.kind === 'veth') {
    if (!t.peer) throw new ValidationError(`load: veth ${t.ifname} has no peer in the state`, 'peer');
    // The pair is created once, from the end that comes first.
    if (tx.interfaces.get(tx.ifKey(t.peer.ifname, t.peer.netns ?? t.netns))?.target) return;
    const peer = given.all(t.peer.netns ?? t.netns).find((r) => r.ifname === t.peer?.ifname);
    spec.peer = { ...t.peer, ...(peer?.index !== undefined ? { index: peer.index } : {}) };
  }
  tx.create(spec);
}

function stageRoutes(tx: Transaction, netns: string, wanted: RouteTarget[]): void {
  const mine = (r: RouteTarget) => r.proto !== 'kernel';
  const want = new Map(wanted.filter(mine).map((r) => [routeKey(r), r]));
  const have = new Map(
    tx.db.routes
      .list({ netns, table: 'all' })
      .map((r) => routeOf(tx.db, r))
      .filter(mine)
      .map((r) => [routeKey(r), r]),
  );
  for (const [key, r] of have) {
    if (!want.has(key)) tx.route({ ...r }).remove();
  }
  for (const [key, r] of want) {
    const cur = have.get(key);
    if (!cur) tx.addRoute({ ...r });
    else if (canonical({ ...cur, proto: undefined }) !== canonical({ ...r, proto: undefined })) tx.route({ ...r }).set({ ...r });
  }
}

function stageRules(tx: Transaction, netns: string, wanted: readonly StoreRecord[]): void {
  const key = (r: Record<string, unknown>) => canonical(r);
  const want = new Map(wanted.map((r) => ruleOf(r)).map((r) => [key(r), r]));
  const have = new Map(tx.db.rules.list({ netns }).map((r) => [key(ruleOf(r)), ruleOf(r)]));
  for (const [k, r] of have) if (!want.has(k)) tx.removeRule(r);
  for (const [k, r] of want) if (!have.has(k)) tx.addRule(r);
}

function stageNeighbours(tx: Transaction, netns: string, wanted: readonly StoreRecord[], given: Links): void {
  const permanent = (n: { state?: string }) => n.state === 'permanent';
  const want = wanted.map((n) => neighbourOf(given, n)).filter(permanent);
  const have = tx.db.neighbours
    .list({ netns })
    .map((n) => neighbourOf(tx.db, n))
    .filter(permanent);
  const id = (n: { dev: string; dst: string }) => `${n.dev}|${n.dst}`;
  const wantIds = new Set(want.map(id));
  for (const n of have) if (!wantIds.has(id(n))) tx.removeNeighbour({ netns, ifname: n.dev, dst: n.dst });
  const haveBy = new Map(have.map((n) => [id(n), n]));
  for (const n of want) {
    const cur = haveBy.get(id(n));
    if (!cur || cur.lladdr !== n.lladdr) tx.addNeighbour({ netns, ifname: n.dev, dst: n.dst, lladdr: n.lladdr, state: n.state });
  }
}
