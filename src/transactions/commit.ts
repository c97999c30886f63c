/**
 * Commit: predict what the kernel will do on its own (kernel-model.ts),
 * plan, apply phase by phase (each phase one batch per namespace), wait
 * until the store shows the target, run the checks; on any failure roll
 * back (rollback.ts) and reject with a TransactionError that says what
 * failed, what was rolled back, and anything that could not be.
 */
import type { BatchResult } from '../backends/netlink/rtnl.js';
import type { NetState } from '../db/netstate.js';
import { NetlinkError, NetStateError, TransactionError } from '../errors.js';
import { Confirmer, expectTarget, waitUntil } from './confirm.js';
import { Executor } from './execute.js';
import { AddressBook, predictSideEffects, type SideEffects } from './kernel-model.js';
import { plan, type Staging, type Step } from './plan.js';
import { proofKinds, rollback } from './rollback.js';
import type { Staged } from './staged.js';

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

export async function commitStaging(db: NetState, staging: Staging, options: CommitOptions = {}): Promise<CommitReport> {
  const started = performance.now();
  const book = new AddressBook(db);
  const effects = predictSideEffects(db, staging, book);
  const timeout = options.timeout ?? 5000;
  const exec = new Executor(db);
  const applied: Step[] = [];
  try {
    await book.readLists(staging, async (netns, index) => (await exec.of(netns)).addr('dump', { index }));
    const steps = plan(staging, { book, effects });
    if (process.env.NST_DEBUG_PLAN) console.log(steps.map((s) => `${s.phase} ${s.what}`).join('\n'));
    for (const group of phases(steps)) {
      const failure = await applyGroup(db, exec, group, applied);
      if (failure) throw failure;
    }
    try {
      // A proof of absence holds trivially for what the store has not seen yet: it catches up first.
      await Promise.all([...new Set(steps.map((s) => s.request.netns))].map((n) => db.barrier(n).catch(() => undefined)));
      await waitUntil(db, target(db, staging, effects), timeout);
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
    const { rolledBack, notRolledBack } = await rollback(db, exec, applied, effects, book, timeout);
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
    exec.close();
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

/**
 * What the store must show once the plan ran: each changed object as far as
 * the commit changed it, and what the plan put back after the kernel took it.
 * Objects named but not changed (a master a port joins) are not asked about.
 */
function target(db: NetState, staging: Staging, effects: SideEffects): Confirmer {
  const k = proofKinds(db);
  const c = new Confirmer(db);
  const readded = new Map<string, string[]>();
  for (const a of effects.addresses) {
    if (!a.kept) continue;
    const key = `${a.netns}|${a.ifname}`;
    readded.set(key, [...(readded.get(key) ?? []), a.cidr]);
  }
  for (const s of staging.interfaces) {
    if (s.base === s.target && !readded.has(keyOf(s))) continue;
    c.add(k.interface, expectTarget(s, readded.get(keyOf(s))));
  }
  const changed = <T>(list: Iterable<Staged<T>>) => [...list].filter((s) => s.base !== s.target && (s.base || s.target));
  for (const s of changed(staging.routes)) c.add(k.route, s);
  for (const s of changed(staging.rules)) c.add(k.rule, s);
  for (const s of changed(staging.neighbours)) c.add(k.neighbour, s);
  return c;
}

function keyOf(s: Staged<{ netns: string; ifname: string }>): string {
  const t = (s.target ?? s.base) as { netns: string; ifname: string };
  return `${t.netns}|${t.ifname}`;
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
async function applyGroup(db: NetState, exec: Executor, group: Step[], applied: Step[]): Promise<StepFailure | undefined> {
  const byNs = new Map<string, Step[]>();
  for (const s of group) {
    const list = byNs.get(s.request.netns);
    if (list) list.push(s);
    else byNs.set(s.request.netns, [s]);
  }
  let failure: StepFailure | undefined;
  for (const [netns, list] of byNs) {
    let stored: Promise<void> | undefined;
    for (let at = 0; at < list.length && !failure; at += SLICE) {
      const slice = list.slice(at, at + SLICE);
      let results: BatchResult[];
      try {
        results = await exec.run(
          netns,
          slice.map((s) => s.request),
        );
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
      stored = db.barrier(netns).catch(() => undefined);
      await previous;
    }
    await stored;
  }
  if (!failure) {
    try {
      await exec.refresh(group.map((s) => s.request));
    } catch {
      // The store learns it from the confirmation's timeout instead.
    }
  }
  return failure;
}
