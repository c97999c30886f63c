/**
 * Rollback: every applied step undone in reverse order, then what the
 * kernel took on its own put back (secondaries, routes, neighbours, the
 * MTUs it capped), and each restoration proven against the store. Whatever
 * cannot be undone or proven is named in `notRolledBack`: a rollback is
 * exact or it says where it is not, never silent.
 */
import type { BatchResult } from '../backends/netlink/rtnl.js';
import type { Database } from '../db/database.js';
import { NetlinkError } from '../errors.js';
import { restoreAddressOrder } from './address-order.js';
import {
  Confirmer,
  type InterfaceExpectation,
  interfaceShown,
  neighbourShown,
  type ProofKind,
  routeShown,
  ruleShown,
  waitUntil,
} from './confirm.js';
import { ruleOf } from './current.js';
import type { Executor } from './execute.js';
import type { AddressAtRisk, AddressBook, SideEffects } from './kernel-model.js';
import { type Request, routeRestoreSpec, type Step } from './plan.js';
import type { NeighbourTarget, RouteTarget, RuleTarget, Staged } from './staged.js';
import { describeExpectation, type TcExpectation, tcShown } from './tc-targets.js';

export interface RollbackReport {
  rolledBack: string[];
  notRolledBack: string[];
}

/** What an undo finds done already: a removal of something gone, an addition of something there. */
const DONE_ALREADY: Record<string, ReadonlySet<string>> = {
  del: new Set(['ESRCH', 'ENOENT', 'EADDRNOTAVAIL', 'ENODEV']),
  add: new Set(['EEXIST']),
};

function doneAlready(r: Request, result: BatchResult): boolean {
  if (result.ok) return true;
  return result.error instanceof NetlinkError && (DONE_ALREADY[r.cmd]?.has(result.error.code) ?? false) && r.op !== 'link';
}

/** A step that made a namespace: undoing it removes everything the commit did inside. */
function isNamespaceMade(s: Step): boolean {
  return s.request.op === 'netns' && s.request.cmd === 'add';
}

/** Simple undos (one request, no link made or changed) of one namespace can share a batch. */
function batchable(step: Step): boolean {
  const r = step.undo[0] as Request;
  return step.undo.length === 1 && !r.refresh && !['link', 'tuntap', 'altname'].includes(r.op);
}

export async function rollback(
  db: Database,
  exec: Executor,
  applied: Step[],
  effects: SideEffects,
  book: AddressBook,
  timeout: number,
): Promise<RollbackReport> {
  const rolledBack: string[] = [];
  // What happened inside a namespace the commit made goes with it: its removal undoes all of it.
  const made = new Set(applied.filter(isNamespaceMade).map((s) => s.request.netns));
  // (Not its processes' and switches' cgroups: those live outside the namespace, and their undo removes them.)
  const inMade = (s: Step) =>
    made.has(s.request.netns) && !isNamespaceMade(s) && s.request.op !== 'process' && s.request.op !== 'switch';
  for (const s of applied) if (inMade(s)) rolledBack.push(s.what);
  const undone = applied.filter((s) => !inMade(s));
  // Undos refused in the first pass: some depend on what a later undo or the side effects bring
  // back (a route's old gateway needs the address the commit removed), so they are tried again.
  let refused = await undoAll(exec, [...undone].reverse(), rolledBack);
  const notRolledBack = await restoreSideEffects(exec, effects);
  if (refused.length)
    refused = await undoAll(
      exec,
      refused.map(([step]) => step),
      rolledBack,
    );
  notRolledBack.push(...refused.map(([step, e]) => `${step.what} (${e.message})`));
  // Undone as far as it goes: what its undo cannot bring back is said.
  const failed = new Set(refused.map(([step]) => step));
  for (const s of undone) if (s.lost && !failed.has(s)) notRolledBack.push(s.lost);
  notRolledBack.push(...(await restoreAddressOrder(db, exec, book)));
  // The store must show the starting point again before the failure is reported, one proof per
  // thing put back. Only what the commit changed must be back: other software may have changed
  // the rest of an object meanwhile, and that is not ours to undo.
  const proofs = startingState(db, undone, effects);
  // A proof of absence holds trivially for what the store has not seen yet: it catches up first.
  const seen = new Set(db.followed);
  await Promise.all(
    [...new Set(undone.map((s) => s.request.netns))].filter((n) => seen.has(n)).map((n) => db.barrier(n).catch(() => undefined)),
  );
  try {
    await waitUntil(db, proofs, timeout);
  } catch {
    for (const name of proofs.names()) notRolledBack.push(`${name}: the store never showed it as it was`);
  }
  return { rolledBack, notRolledBack };
}

/** Runs the undos of `steps` in order; returns the steps whose undo the kernel refused, with why. */
async function undoAll(exec: Executor, steps: Step[], rolledBack: string[]): Promise<[Step, Error][]> {
  const refused: [Step, Error][] = [];
  for (let i = 0; i < steps.length; ) {
    const step = steps[i] as Step;
    if (batchable(step)) {
      // A run of simple undos in one namespace (100 000 routes undone): one batch.
      const netns = (step.undo[0] as Request).netns;
      let end = i;
      while (end < steps.length && batchable(steps[end] as Step) && ((steps[end] as Step).undo[0] as Request).netns === netns)
        end++;
      const run = steps.slice(i, end);
      const requests = run.map((s) => s.undo[0] as Request);
      const results = await exec.runOrEach(netns, requests);
      run.forEach((s, k) => {
        const r = results[k] as BatchResult;
        if (doneAlready(requests[k] as Request, r)) rolledBack.push(s.what);
        else refused.push([s, (r as { error: Error }).error]);
      });
      i = end;
      continue;
    }
    try {
      for (const r of step.undo) {
        const [result] = await exec.runOrEach(r.netns, [r]);
        if (result && !doneAlready(r, result)) throw (result as { error: Error }).error;
      }
      await exec.refresh(step.undo);
      rolledBack.push(step.what);
    } catch (e) {
      refused.push([step, e as Error]);
    }
    i++;
  }
  return refused;
}

/** Puts back what the kernel took by itself; what it kept is left as it is. Returns what failed. */
async function restoreSideEffects(exec: Executor, effects: SideEffects): Promise<string[]> {
  const failed: string[] = [];
  const sendAll = async (what: (r: Request) => string, requests: Request[]) => {
    const byNs = new Map<string, Request[]>();
    for (const r of requests) byNs.set(r.netns, [...(byNs.get(r.netns) ?? []), r]);
    for (const [netns, list] of byNs) {
      const results = await exec.runOrEach(netns, list);
      list.forEach((r, k) => {
        const result = results[k] as BatchResult;
        if (!result.ok) failed.push(`${what(r)} (${result.error.message})`);
      });
    }
  };
  await sendAll(
    (r) => `address ${r.spec.address} on ${r.spec.ifname}`,
    effects.addresses.map((a) => addressRequest(a)),
  );
  const routes: Request[] = [];
  for (const r of effects.routes) {
    const spec = routeRestoreSpec(r.body, effects.names.get(r.netns));
    if (spec) routes.push({ netns: r.netns, op: 'route', cmd: 'replace', spec });
  }
  await sendAll((r) => `route ${r.spec.dst}`, routes);
  await sendAll(
    (r) => `mtu of ${r.spec.ifname}`,
    effects.uppers.map((u) => ({ netns: u.netns, op: 'link', cmd: 'set', spec: { ifname: u.ifname, mtu: u.mtu } })),
  );
  await sendAll(
    (r) => `neighbour ${r.spec.dst}`,
    effects.neighbours.map((n) => ({
      netns: n.netns,
      op: 'neighbour',
      cmd: 'replace',
      spec: { ifname: n.dev, dst: n.dst, ...(n.lladdr ? { lladdr: n.lladdr } : {}), state: n.state },
    })),
  );
  return failed;
}

function addressRequest(a: AddressAtRisk): Request {
  const spec: Record<string, unknown> = { ifname: a.ifname, address: a.cidr };
  for (const [k, v] of Object.entries(a.attrs)) if (v !== undefined) spec[k] = v;
  return { netns: a.netns, op: 'address', cmd: 'replace', spec };
}

/** Everything a rollback must show again: what each applied step's undo restores, and each side effect put back. */
function startingState(db: Database, applied: readonly Step[], effects: SideEffects): Confirmer {
  const k = proofKinds(db);
  const c = new Confirmer(db);
  for (const step of applied) {
    for (const p of step.back ?? []) {
      if (p.kind === 'interface') c.add(k.interface, p.expect);
      else if (p.kind === 'route') c.add(k.route, p.staged);
      else if (p.kind === 'rule') c.add(k.rule, p.staged);
      else if (p.kind === 'tc') c.add(k.tc, p.expect);
      else c.add(k.neighbour, p.staged);
    }
  }
  for (const a of effects.addresses) c.add(k.address, a);
  for (const r of effects.routes) {
    const spec = routeRestoreSpec(r.body, effects.names.get(r.netns));
    if (spec) c.add(k.routeId, { netns: r.netns, spec });
  }
  for (const { kept: _k, ...n } of effects.neighbours) c.add(k.neighbour, { target: n });
  for (const u of effects.uppers) c.add(k.upperMtu, u);
  return c;
}

/** How each kind of thing is found in the store (one set per rollback, shared by its proofs). */
export function proofKinds(db: Database) {
  return {
    interface: {
      name: (e) => `interface ${e.ifname}`,
      shown: (e, indexOf) => interfaceShown(db, e, indexOf),
    } as ProofKind<InterfaceExpectation>,
    route: {
      name: (s) => `route ${(s.target ?? s.base)?.dst}`,
      shown: (s, indexOf) => routeShown(db, s, indexOf),
    } as ProofKind<Staged<RouteTarget>>,
    rule: {
      name: (s) => `rule ${(s.target ?? s.base)?.priority ?? ''}`,
      shown: (s) => ruleShown(db, s, (r) => ruleOf(r)),
    } as ProofKind<Staged<RuleTarget>>,
    neighbour: {
      name: (s) => `neighbour ${(s.target ?? s.base)?.dst}`,
      shown: (s) => neighbourShown(db, s),
    } as ProofKind<Staged<NeighbourTarget>>,
    address: {
      name: (a) => `address ${a.cidr} on ${a.ifname}`,
      shown: (a) => {
        const [address, plen] = a.cidr.split('/');
        return db.addresses.get({ netns: a.netns, ifname: a.ifname, address, prefixlen: Number(plen) }) !== undefined;
      },
    } as ProofKind<AddressAtRisk>,
    routeId: {
      name: (r) => `route ${r.spec.dst}${r.spec.table !== 254 ? ` table ${r.spec.table}` : ''}`,
      shown: (r) =>
        db.routes.bodyOf({
          netns: r.netns,
          family: r.spec.family as 'inet' | 'inet6',
          table: r.spec.table as number,
          dst: r.spec.dst as string,
          priority: r.spec.priority as number | undefined,
          tos: r.spec.tos as number | undefined,
        }) !== undefined,
    } as ProofKind<{ netns: string; spec: Record<string, unknown> }>,
    tc: {
      name: describeExpectation,
      shown: (e) => tcShown(db, e),
    } as ProofKind<TcExpectation>,
    upperMtu: {
      name: (u) => `mtu ${u.mtu} of ${u.ifname}`,
      shown: (u) => db.interfaces.linkOf(u.netns, u.ifname)?.mtu === u.mtu,
    } as ProofKind<{ netns: string; ifname: string; mtu: number }>,
  };
}
