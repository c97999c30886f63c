/**
 * `tx.load(state)`: stage whatever turns the current state into a given one,
 * the state being what `db.dump()` returns (possibly saved as JSON and read
 * back). Together they close the loop: dump, change things, load the dump,
 * review, commit.
 *
 * What is compared, per namespace of the state:
 * - interfaces by name: moved back from another followed namespace (same
 *   name, kind and MAC), created, removed, and their state, mtu, MAC (not a
 *   bridge's MAC the kernel chose: it follows the ports), alias, txqlen,
 *   master and addresses (the kernel's link-local ones excepted);
 * - routes by key, the kernel's own (proto kernel) excepted: they follow
 *   addresses;
 * - rules by their whole match set;
 * - permanent neighbours (the rest is the kernel's cache).
 */
import { parseSpec, spec, z } from '../backends/schema.js';
import type { StoreRecord } from '../db/records.js';
import { ValidationError } from '../errors.js';
import { dumpLinks, interfaceOf, isLinkLocal, type Links, neighbourOf, routeOf, ruleOf } from './current.js';
import { canonical } from './diff.js';
import { InterfaceHandle } from './interface-handle.js';
import { routeKey, ruleKey } from './names.js';
import type { CreateSpec } from './specs.js';
import type { InterfaceTarget, RouteTarget } from './staged.js';
import type { Transaction } from './transaction.js';

export interface DumpedState {
  namespaces: Record<string, Record<string, readonly StoreRecord[]>>;
}

const ATTRIBUTES = ['mtu', 'address', 'ifalias', 'txqlen'] as const;
const ZERO_MAC = '00:00:00:00:00:00';

/**
 * A state as db.dump() gives it, checked as far as staging reads it before
 * the staging calls check the rest: records are plain data (read back from
 * JSON, or passed as they are), with the fields that name and key objects
 * of the right types.
 */
const record = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.looseObject(shape).superRefine((r, ctx) => {
    const wrong = notPlain(r, [], new Set());
    if (wrong)
      ctx.addIssue({ code: 'custom', path: wrong, message: 'not data a record holds (a function, a symbol, a Map, a cycle...)' });
  });
const StateSpec = spec({
  namespaces: z.record(
    z.string(),
    z.looseObject({
      interfaces: z
        .array(
          record({ ifname: z.string(), index: z.number(), kind: z.string().optional(), ipaddr: z.array(z.string()).optional() }),
        )
        .optional(),
      routes: z
        .array(record({ family: z.string(), dst: z.string(), table: z.number(), multipath: z.array(record({})).optional() }))
        .optional(),
      rules: z.array(record({ family: z.string() })).optional(),
      neighbours: z.array(record({ dst: z.string(), ifindex: z.number() })).optional(),
      addresses: z.array(record({})).optional(),
    }),
  ),
});

/** Where a record stops being what db.dump() makes (JSON-like data, buffers), or undefined. */
function notPlain(value: unknown, path: (string | number)[], seen: Set<unknown>): (string | number)[] | undefined {
  if (typeof value === 'function' || typeof value === 'symbol') return path;
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined;
  // Anything else (a Map, an object without a prototype) is not a record's, and may not even turn into text.
  if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return path;
  if (seen.has(value)) return path;
  seen.add(value);
  for (const [k, v] of Object.entries(value)) {
    const wrong = notPlain(v, [...path, k], seen);
    if (wrong) return wrong;
  }
  seen.delete(value);
  return undefined;
}

function checkState(state: unknown): asserts state is DumpedState {
  // A sparse array's holes are skipped by zod (as by every()), and would be read as undefined records.
  const lists = (s: unknown) => Object.values((s as DumpedState)?.namespaces ?? {}).flatMap((k) => Object.values(k ?? {}));
  if (lists(state).some((l) => Array.isArray(l) && Array.from(l).some((r) => r === undefined)))
    throw new ValidationError('load: a list of the state has holes', 'state');
  parseSpec(StateSpec, state, 'load: the state (as db.dump() gives it)', 'state');
}

export function stageState(tx: Transaction, state: DumpedState): void {
  checkState(state);
  for (const netns of Object.keys(state.namespaces)) {
    if (!tx.db.followed.includes(netns)) {
      throw new ValidationError(`load: the state has namespace "${netns}", which this store does not follow`, 'netns');
    }
  }
  const given = dumpLinks(state);
  for (const netns of Object.keys(state.namespaces)) stageMovesBack(tx, netns, given);
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

/**
 * A link the state has here that is now in another followed namespace (same
 * name, kind and MAC) and not in that namespace's state: it moved, and moves
 * back (rather than being removed there and made anew here).
 */
function stageMovesBack(tx: Transaction, netns: string, given: Links): void {
  const here = new Set(tx.db.interfaces.list({ netns }).map((r) => r.ifname as string));
  for (const want of given.all(netns)) {
    const name = want.ifname as string;
    if (here.has(name)) continue;
    for (const other of tx.db.followed) {
      if (other === netns) continue;
      const there = tx.db.interfaces.get({ netns: other, ifname: name });
      const expected = given.all(other).some((r) => r.ifname === name);
      if (!there || expected || there.kind !== want.kind || there.address !== want.address) continue;
      tx.interface(name, { netns: other }).set({ netns });
      break;
    }
  }
}

/** A bridge's MAC the kernel chose: its lowest port's, or zeros without ports. Not ours to set. */
function kernelsMac(t: InterfaceTarget, given: Links, netns: string): boolean {
  if (t.kind !== 'bridge' || !t.address) return false;
  if (t.address === ZERO_MAC) return true;
  const ports = given.all(netns).filter((r) => t.ports.includes(r.ifname as string));
  const lowest = ports.map((p) => p.address as string).sort()[0];
  return lowest === undefined || lowest === t.address;
}

/** The staged interface that will be `name` in `netns` (one moving in from elsewhere included). */
function stagedAs(tx: Transaction, netns: string, name: string): { key: string; target?: InterfaceTarget } | undefined {
  const direct = tx.interfaces.get(tx.ifKey(name, netns));
  if (direct) return { key: tx.ifKey(name, netns), target: direct.target };
  for (const [key, s] of tx.interfaces)
    if (s.target?.netns === netns && s.target.ifname === name) return { key, target: s.target };
  return undefined;
}

function stageInterfaces(tx: Transaction, netns: string, given: Links): void {
  const want = new Map(given.all(netns).map((r) => [r.ifname as string, interfaceOf(given, r)]));
  const have = new Map(tx.db.interfaces.list({ netns }).map((r) => [r.ifname as string, r]));
  const staged = (name: string) => stagedAs(tx, netns, name);
  for (const name of have.keys()) {
    if (want.has(name) || (staged(name) && !staged(name)?.target)) continue;
    if (tx.interfaces.get(tx.ifKey(name, netns))?.target?.netns !== netns && tx.interfaces.has(tx.ifKey(name, netns))) continue; // moving away
    tx.interface(name, { netns }).remove();
  }
  for (const [name, t] of want) {
    if (have.has(name) || staged(name)?.target) continue;
    create(tx, t, given);
  }
  // Attributes, addresses and masters once every interface exists (in the staging).
  for (const [name, t] of want) {
    const found = staged(name);
    const handle = found ? new InterfaceHandle(tx, found.key) : tx.interface(name, { netns });
    const cur = tx.interfaces.get(handle.key)?.target as InterfaceTarget;
    if (!cur) {
      throw new ValidationError(
        `load: the state has ${name}, which this transaction removes; load a state into a transaction of its own`,
        'state',
      );
    }
    const changes: Record<string, unknown> = {};
    const made = !have.has(name) && !tx.interfaces.get(handle.key)?.base;
    for (const a of ATTRIBUTES) {
      // A bridge's MAC the kernel chose follows its ports: set it only on a bridge made anew.
      if (a === 'address' && (made ? t.address === ZERO_MAC : kernelsMac(t, given, netns))) continue;
      if (t[a] !== undefined && t[a] !== cur[a]) changes[a] = t[a];
    }
    if (t.master !== cur.master) changes.master = t.master ?? null;
    if (t.state !== cur.state) changes.state = t.state;
    if (Object.keys(changes).length) handle.set(changes);
    if (t.brport && t.master !== undefined) {
      const port: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(t.brport)) if (cur.brport?.[k] !== v) port[`brport_${k}`] = v;
      if (Object.keys(port).length) handle.set(port);
    }
    for (const a of cur.ipaddr.filter(own)) if (!t.ipaddr.includes(a)) handle.delIp(a);
    for (const a of t.ipaddr.filter(own)) if (!cur.ipaddr.includes(a)) handle.addIp(a);
  }
}

function create(tx: Transaction, t: InterfaceTarget, given: Links): void {
  if (t.peerOf !== undefined) return;
  if (!t.kind) throw new ValidationError(`load: interface ${t.ifname} has no kind, so it cannot be created`, 'kind');
  const spec: Record<string, unknown> = { kind: t.tuntap ? 'tuntap' : t.kind, ifname: t.ifname, netns: t.netns, index: t.index };
  if (t.tuntap) Object.assign(spec, t.tuntap);
  if (t.data) spec.data = t.data;
  if (t.link) spec.link = t.link;
  if (t.kind === 'veth') {
    if (!t.peer) throw new ValidationError(`load: veth ${t.ifname} has no peer in the state`, 'peer');
    // The pair is created once, from the end that comes first.
    if (tx.interfaces.get(tx.ifKey(t.peer.ifname, t.peer.netns ?? t.netns))?.target) return;
    const peerRecord = given.all(t.peer.netns ?? t.netns).find((r) => r.ifname === t.peer?.ifname);
    const peer = peerRecord ? interfaceOf(given, peerRecord) : undefined;
    spec.peer = {
      ...t.peer,
      ...(peer?.index !== undefined ? { index: peer.index } : {}),
      ...(peer?.address !== undefined ? { address: peer.address } : {}),
      ...(peer?.mtu !== undefined ? { mtu: peer.mtu } : {}),
      ...(peer?.txqlen !== undefined ? { txqlen: peer.txqlen } : {}),
      ...(peer?.ifalias ? { ifalias: peer.ifalias } : {}),
    };
  }
  tx.create(spec as CreateSpec);
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
  const spec = (r: RouteTarget) => {
    const { multipath, ...rest } = r;
    return { ...rest, ...(multipath.length ? { multipath } : {}) } as never;
  };
  for (const [key, r] of have) {
    if (!want.has(key)) tx.route({ netns, family: r.family, dst: r.dst, table: r.table, priority: r.priority }).remove();
  }
  for (const [key, r] of want) {
    const cur = have.get(key);
    if (!cur) tx.addRoute(spec(r));
    else if (canonical({ ...cur, proto: undefined }) !== canonical({ ...r, proto: undefined }))
      tx.route({ netns, family: r.family, dst: r.dst, table: r.table, priority: r.priority }).set(spec(r));
  }
}

function stageRules(tx: Transaction, netns: string, wanted: readonly StoreRecord[]): void {
  const mine = (r: StoreRecord) => (r.family === 'inet' || r.family === 'inet6') && r.proto !== 'kernel';
  const want = new Map(
    wanted
      .filter(mine)
      .map((r) => ruleOf(r))
      .map((r) => [ruleKey({ ...r, netns }), r]),
  );
  const have = new Map(
    tx.db.rules
      .list({ netns })
      .filter(mine)
      .map((r) => [ruleKey(ruleOf(r)), ruleOf(r)]),
  );
  for (const [k, r] of have) if (!want.has(k)) tx.removeRule(r as never);
  for (const [k, r] of want) if (!have.has(k)) tx.addRule({ ...r, netns } as never);
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
