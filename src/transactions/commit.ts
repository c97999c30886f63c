/**
 * Commit: apply the plan phase by phase (each phase one batch per
 * namespace), wait until the store shows the target, run the checks; on any
 * failure undo every applied step in reverse order, put back what the
 * kernel removed on its own (routes and neighbours through the touched
 * links), wait until the store shows the starting state again, and reject
 * with a TransactionError that says all of it.
 */
import { type BatchResult, Rtnl } from '../backends/netlink/rtnl.js';
import { decodeBody } from '../db/kinds/kind.js';
import type { NetState } from '../db/netstate.js';
import { ROOT } from '../db/source.js';
import { NetlinkError, NetStateError, TransactionError } from '../errors.js';
import { indexCache, interfaceShown, neighbourShown, routeShown, ruleShown, waitUntil } from './confirm.js';
import { neighbourOf, uppersOf } from './current.js';
import { plan, type Request, type Staging, type Step } from './plan.js';
import type { InterfaceTarget, NeighbourTarget, Staged } from './staged.js';

export interface CommitReport {
  /** Steps applied, as the plan named them. */
  applied: string[];
  steps: number;
  ms: number;
}

export type Check = (() => Promise<unknown>) | { name: string; fn: () => Promise<unknown> };

export interface CommitOptions {
  /** How long the store may take to show the target (ms, default 5000). */
  timeout?: number;
  /** Predicates that must hold before the commit is final (a named one fails under its name). */
  checks?: Check[];
}

/** One Rtnl per namespace for the duration of a commit. */
class Sockets {
  private readonly open = new Map<string, Rtnl>();
  async of(netns: string): Promise<Rtnl> {
    let nl = this.open.get(netns);
    if (!nl) {
      nl = await Rtnl.open({ netns: netns === ROOT ? undefined : netns });
      this.open.set(netns, nl);
    }
    return nl;
  }
  close(): void {
    for (const nl of this.open.values()) nl.close();
  }
}

export async function commitStaging(db: NetState, staging: Staging, options: CommitOptions = {}): Promise<CommitReport> {
  const started = performance.now();
  const steps = plan(staging);
  const timeout = options.timeout ?? 5000;
  const sockets = new Sockets();
  const applied: Step[] = [];
  const sideEffects = snapshotSideEffects(db, staging);
  keepAddressFlags(db, steps);
  try {
    for (const group of phases(steps)) {
      const failure = await applyGroup(db, sockets, group, applied);
      if (failure) throw failure;
    }
    try {
      await waitUntil(db, confirmer(db, staging), timeout);
    } catch (e) {
      throw new StepFailure('confirm', e as Error);
    }
    for (const [i, check] of (options.checks ?? []).entries()) {
      const { name, fn } = typeof check === 'function' ? { name: `check ${i + 1}`, fn: check } : check;
      let ok: unknown;
      try {
        ok = await fn();
      } catch (e) {
        throw new StepFailure(name, e as Error);
      }
      if (ok === false) throw new StepFailure(name, new NetStateError(`${name} failed`));
    }
    return { applied: applied.map((s) => s.what), steps: steps.length, ms: performance.now() - started };
  } catch (e) {
    if (!(e instanceof StepFailure)) throw e;
    const { rolledBack, notRolledBack } = await rollback(db, sockets, applied, sideEffects, staging, timeout);
    const cause = e.cause;
    const kernel =
      cause instanceof NetlinkError ? ` ${cause.code}${cause.extack ? ` "${cause.extack}"` : ''}` : ` ${cause.message}`;
    const loud = notRolledBack.length ? `; NOT rolled back: ${notRolledBack.join('; ')}` : '';
    throw new TransactionError(
      `commit failed at "${e.step}":${kernel}; rolled back ${rolledBack.length} step(s)${loud}`,
      e.step,
      cause,
      rolledBack,
      notRolledBack,
    );
  } finally {
    sockets.close();
  }
}

class StepFailure extends Error {
  constructor(
    readonly step: string,
    override readonly cause: Error,
  ) {
    super(step);
  }
}

function phases(steps: Step[]): Step[][] {
  const out: Step[][] = [];
  for (const s of steps) {
    const last = out[out.length - 1];
    if (last && last[0]?.phase === s.phase && last[0]?.order === s.order) last.push(s);
    else out.push([s]);
  }
  return out;
}

/**
 * Requests per batch of a phase. A phase of 100 000 routes would otherwise
 * pile up 100 000 notifications in the store's event socket faster than
 * anything reads them, overrun it and cost a resync. So the store takes in
 * the notifications of one batch (a barrier on its event socket) before the
 * batch after next goes out: the kernel works on the next batch while the
 * store reads this one.
 */
const SLICE = 2048;

/** One phase: a batch per namespace; the steps that went through are recorded as applied. */
async function applyGroup(db: NetState, sockets: Sockets, group: Step[], applied: Step[]): Promise<StepFailure | undefined> {
  const byNs = new Map<string, Step[]>();
  for (const s of group) {
    const list = byNs.get(s.request.netns);
    if (list) list.push(s);
    else byNs.set(s.request.netns, [s]);
  }
  let failure: StepFailure | undefined;
  for (const [netns, list] of byNs) {
    const nl = await sockets.of(netns);
    let stored: Promise<void> | undefined;
    for (let at = 0; at < list.length && !failure; at += SLICE) {
      const slice = list.slice(at, at + SLICE);
      let results: BatchResult[];
      try {
        results = await nl.batch(slice.map((s) => s.request));
      } catch (e) {
        // Not a refusal (the socket failed): what this batch did is unknown, so all of it is undone.
        applied.push(...slice);
        failure = new StepFailure((slice[0] as Step).what, e as Error);
        break;
      }
      results.forEach((r, i) => {
        const step = slice[i] as Step;
        if (r.ok) applied.push(step);
        else failure ??= new StepFailure(step.what, r.error);
      });
      if (list.length <= SLICE) continue;
      const previous = stored;
      // Pacing only: a store that cannot catch up shows up in the confirmation that follows.
      stored = db.sync(netns).catch(() => undefined);
      await previous;
    }
    await stored;
  }
  return failure;
}

async function send(sockets: Sockets, r: Request): Promise<void> {
  const nl = await sockets.of(r.netns);
  await nl.call(r.op, r.cmd, r.spec);
}

/** What a removal answers when the thing is gone already: the undo wanted exactly that. */
const GONE_ALREADY = new Set(['ESRCH', 'ENOENT', 'EADDRNOTAVAIL']);

/**
 * An undo request. A removal of something the kernel took away meanwhile
 * counts as done (an IPv6 address goes when its link goes down, and the undo
 * of "set up" may run before the undo of "add address").
 */
async function sendUndo(sockets: Sockets, r: Request): Promise<void> {
  try {
    await send(sockets, r);
  } catch (e) {
    if (r.cmd === 'del' && e instanceof NetlinkError && GONE_ALREADY.has(e.code)) return;
    throw e;
  }
}

/** IFA_F_* bits a request can set (nodad, homeaddress, mngtmpaddr, noprefixroute, autojoin). */
const SETTABLE_ADDRESS_FLAGS = 0x02 | 0x10 | 0x100 | 0x200 | 0x400;

const IFA_F_SECONDARY = 0x01;

/** IFA_F_* of an address as the store holds it (0 when it holds none). */
function addressFlags(db: NetState, netns: string, ifname: unknown, cidr: string): number {
  const [address, plen] = cidr.split('/');
  const rec = db.addresses.get({ netns, ifname, address, prefixlen: Number(plen) });
  return (rec?.flags as number | undefined) ?? 0;
}

/** An address put back by an undo keeps the flags it had (a nodad IPv6 address must not go through DAD). */
function keepAddressFlags(db: NetState, steps: Step[]): void {
  for (const step of steps) {
    for (const r of step.undo) {
      if (r.op !== 'address' || r.cmd !== 'add') continue;
      const flags = addressFlags(db, r.netns, r.spec.ifname, String(r.spec.address)) & SETTABLE_ADDRESS_FLAGS;
      if (flags) r.spec.flags = flags;
    }
  }
}

/**
 * Changes after which the kernel removes every route and neighbour through
 * a link: the link removed, moved, set down, or changing master (a VRF takes
 * its ports' routes).
 */
function takesLinkState({ base, target }: Staged<InterfaceTarget>): boolean {
  if (!base) return false;
  if (!target) return true;
  if (base.netns !== target.netns) return true;
  if (base.state === 'up' && target.state === 'down') return true;
  return base.master !== target.master;
}

const isIpv4 = (cidr: string): boolean => !cidr.includes(':');

/**
 * What the kernel may remove on its own when these links change, kept as
 * stored rows (decoded only if a rollback needs them). Only what is at risk:
 * a link can carry a million routes, and removing one of its addresses
 * takes only the routes using it as source, unless it was the last IPv4
 * one (then every IPv4 route through the link goes).
 */
function snapshotSideEffects(db: NetState, staging: Staging): SideEffects {
  const routes: SideEffects['routes'] = [];
  const neighbours: NeighbourTarget[] = [];
  const names: SideEffects['names'] = new Map();
  const uppers: SideEffects['uppers'] = [];
  const addresses: SideEffects['addresses'] = [];
  for (const s of staging.interfaces) {
    if (!s.base) continue;
    const { netns, ifname } = s.base;
    // A lower link's new MTU caps the MTU of the links stacked on it, with no request of theirs.
    if (s.base.index !== undefined && (!s.target || s.target.mtu !== s.base.mtu || s.target.netns !== netns)) {
      for (const up of uppersOf(db, netns, s.base.index))
        uppers.push({ netns, ifname: up.ifname as string, mtu: up.mtu as number });
    }
    const linkState = takesLinkState(s);
    const removed = s.target ? s.base.ipaddr.filter((a) => !s.target?.ipaddr.includes(a)) : [];
    if (!linkState && removed.length === 0) continue;
    // Removing a primary IPv4 address also removes its secondaries (promote_secondaries is off by
    // default): counted as the last one whenever a secondary would stay.
    const secondary = (cidr: string) => (addressFlags(db, netns, ifname, cidr) & IFA_F_SECONDARY) !== 0;
    const lastIpv4 =
      removed.some(isIpv4) &&
      (!s.target?.ipaddr.some(isIpv4) ||
        (removed.some((a) => isIpv4(a) && !secondary(a)) && !!s.target?.ipaddr.some((a) => isIpv4(a) && secondary(a))));
    // The secondaries a removed primary takes along come back with it on a rollback.
    if (removed.some((a) => isIpv4(a) && !secondary(a))) {
      for (const cidr of s.base.ipaddr)
        if (isIpv4(cidr) && !removed.includes(cidr) && secondary(cidr)) addresses.push({ netns, ifname, cidr });
    }
    if (linkState || lastIpv4) {
      for (const row of db.routes.rows({ netns, dev: ifname, table: 'all' })) routes.push({ netns, body: row });
    }
    for (const cidr of removed) {
      const prefsrc = cidr.split('/')[0];
      for (const row of db.routes.rows({ netns, prefsrc, table: 'all' })) routes.push({ netns, body: row });
    }
    if (linkState) for (const n of db.neighbours.list({ netns, ifname })) neighbours.push(neighbourOf(db, n));
    if (!names.has(netns)) {
      names.set(netns, new Map(db.interfaces.list({ netns }).map((i) => [i.index as number, i.ifname as string])));
    }
  }
  return { routes, neighbours, names, uppers, addresses };
}

interface SideEffects {
  routes: { netns: string; body: Buffer }[];
  /** Secondary IPv4 addresses that go with a removed primary. */
  addresses: { netns: string; ifname: string; cidr: string }[];
  neighbours: NeighbourTarget[];
  /** MTUs of the links stacked on a changed one. */
  uppers: { netns: string; ifname: string; mtu: number }[];
  /** Interface names by index as they were: a link put back by a rollback has a new index. */
  names: Map<string, Map<number, string>>;
}

/** A stored route as a request spec that puts it back, naming its links as they were named. */
function restoreSpec(body: Buffer, names: ReadonlyMap<number, string> = new Map()): Record<string, unknown> | undefined {
  const r = decodeBody('route', body);
  if (r.proto === 'kernel') return undefined; // the kernel's own routes come back with their address
  const spec: Record<string, unknown> = { family: r.family, dst: r.dst, table: r.table };
  for (const k of ['priority', 'type', 'scope', 'proto', 'gateway', 'prefsrc', 'metrics', 'src'])
    if (r[k] !== undefined) spec[k] = r[k];
  const dev = (oif: unknown) => (typeof oif === 'number' ? (names.get(oif) ?? oif) : undefined);
  if (r.oif !== undefined) spec.dev = dev(r.oif);
  if (r.multipath) {
    spec.multipath = (r.multipath as Record<string, unknown>[]).map((h) => ({
      gateway: h.gateway,
      dev: dev(h.oif),
      hops: h.hops,
    }));
  }
  return spec;
}

async function rollback(
  db: NetState,
  sockets: Sockets,
  applied: Step[],
  side: SideEffects,
  staging: Staging,
  timeout: number,
): Promise<{ rolledBack: string[]; notRolledBack: string[] }> {
  const rolledBack: string[] = [];
  const notRolledBack: string[] = [];
  for (const step of [...applied].reverse()) {
    try {
      for (const r of step.undo) await sendUndo(sockets, r);
      rolledBack.push(step.what);
    } catch (e) {
      notRolledBack.push(`${step.what} (${(e as Error).message})`);
    }
  }
  // What the kernel took away by itself (secondary addresses with their primary, routes through a
  // link set down or removed) comes back too; what it kept is left as it is.
  for (const a of side.addresses) {
    try {
      await send(sockets, { netns: a.netns, op: 'address', cmd: 'replace', spec: { ifname: a.ifname, address: a.cidr } });
    } catch (e) {
      notRolledBack.push(`address ${a.cidr} (${(e as Error).message})`);
    }
  }
  for (const r of side.routes) {
    const spec = restoreSpec(r.body, side.names.get(r.netns));
    if (!spec) continue;
    try {
      await send(sockets, { netns: r.netns, op: 'route', cmd: 'replace', spec });
    } catch (e) {
      notRolledBack.push(`route ${spec.dst} (${(e as Error).message})`);
    }
  }
  for (const u of side.uppers) {
    try {
      await send(sockets, { netns: u.netns, op: 'link', cmd: 'set', spec: { ifname: u.ifname, mtu: u.mtu } });
    } catch (e) {
      notRolledBack.push(`mtu of ${u.ifname} (${(e as Error).message})`);
    }
  }
  for (const n of side.neighbours) {
    try {
      await send(sockets, {
        netns: n.netns,
        op: 'neighbour',
        cmd: 'replace',
        spec: { ifname: n.dev, dst: n.dst, lladdr: n.lladdr, state: n.state },
      });
    } catch (e) {
      notRolledBack.push(`neighbour ${n.dst} (${(e as Error).message})`);
    }
  }
  // The store must show the starting point again before the failure is reported.
  // Only what the commit changed must be back: other software may have changed the rest of an
  // object meanwhile (replaced the bridge a port was to join), and that is not ours to undo.
  const undone = <T>(list: Iterable<Staged<T>>, expected: (s: Staged<T>) => T | undefined = (s) => s.base) =>
    [...list].filter((s) => s.base !== s.target).map((s) => ({ base: s.base, target: expected(s) }));
  const back: Staging = {
    interfaces: undone(staging.interfaces, changedOnly),
    routes: undone(staging.routes),
    rules: undone(staging.rules),
    neighbours: undone(staging.neighbours),
  };
  try {
    await waitUntil(db, confirmer(db, back, true), timeout);
  } catch (e) {
    notRolledBack.push(`the store never showed the starting state again: ${(e as Error).message}`);
  }
  return { rolledBack, notRolledBack };
}

/** The base of an interface without the optional attributes the commit did not change (not ours to confirm). */
function changedOnly({ base, target }: Staged<InterfaceTarget>): InterfaceTarget | undefined {
  if (!base || !target) return base;
  const out = { ...base };
  for (const k of ['mtu', 'address', 'ifalias', 'txqlen'] as const) if (base[k] === target[k]) delete out[k];
  return out;
}

interface Confirmer {
  /** How many targets the store does not show yet (cheap: called after every batch). */
  left(): number;
  /** Their names (for the error). */
  names(): string[];
}

/** How to name and check one kind of target: shared by all targets of that kind. */
interface Expectation<T> {
  name: (t: T) => string;
  shown: (s: Staged<T>) => boolean;
}

/**
 * Names of the targets the store does not show yet. Each call checks only
 * what was still missing the time before: a commit of 100 000 routes is
 * confirmed batch by batch, not re-read whole after every event. Objects
 * named but not changed are not asked about, unless `all` (a rollback states
 * what it expects explicitly). Two parallel lists, no object per target:
 * a 100 000-route commit allocates enough already.
 */
function confirmer(db: NetState, staging: Staging, all = false): Confirmer {
  const targets: Staged<unknown>[] = [];
  const kinds: Expectation<unknown>[] = [];
  const expect = <T>(list: Iterable<Staged<T>>, kind: Expectation<T>) => {
    for (const s of list) {
      if (!s.base && !s.target) continue;
      // Named but not changed (a master a port joins): nothing to confirm.
      if (s.base === s.target && !all) continue;
      targets.push(s);
      kinds.push(kind as Expectation<unknown>);
    }
  };
  let indexOf = indexCache(db);
  expect(staging.interfaces, {
    name: (t) => `interface ${t.ifname}`,
    shown: (s) => interfaceShown(db, s, indexOf),
  });
  expect(staging.routes, { name: (t) => `route ${t.dst}`, shown: (s) => routeShown(db, s, indexOf) });
  expect(staging.rules, { name: (t) => `rule ${t.priority ?? ''}`, shown: (s) => ruleShown(db, s) });
  expect(staging.neighbours, { name: (t) => `neighbour ${t.dst}`, shown: (s) => neighbourShown(db, s) });
  const shown = (i: number) => (kinds[i] as Expectation<unknown>).shown(targets[i] as Staged<unknown>);
  const name = (i: number) => {
    const s = targets[i] as Staged<unknown>;
    return (kinds[i] as Expectation<unknown>).name(s.target ?? s.base);
  };
  // Objects show up in the order they were sent: check from the oldest and stop at the first
  // still missing. Only the final error message checks them all.
  let head = 0;
  return {
    left: () => {
      indexOf = indexCache(db); // names may have changed since the last round
      while (head < targets.length && shown(head)) head++;
      return targets.length - head;
    },
    names: () => {
      const out: string[] = [];
      for (let i = head; i < targets.length; i++) if (!shown(i)) out.push(name(i));
      return out;
    },
  };
}
