/**
 * Commit: predict what the kernel will do on its own (kernel-model.ts),
 * plan, apply phase by phase (each phase one batch per namespace), wait
 * until the store shows the target, run the checks; on any failure roll
 * back (rollback.ts) and reject with a TransactionError that says what
 * failed, what was rolled back, and anything that could not be.
 */

import { bootId } from '../backends/host.js';
import type { BatchResult } from '../backends/netlink/rtnl.js';
import type { NsProcess } from '../backends/process/spawn.js';
import { NetlinkError, NetStateError, PendingCommitError, TransactionError } from '../errors.js';
import { Confirmer, expectTarget, waitUntil } from './confirm.js';
import { tuntapOf } from './current.js';
import { Executor } from './execute.js';
import type { Host } from './host.js';
import type { Journal, JournalEntry, JournalNamespace } from './journal.js';
import { AddressBook, predictSideEffects, type SideEffects } from './kernel-model.js';
import { routeKey, ruleKey } from './names.js';
import { isParallelGroup, runParallel } from './parallel.js';
import { plan, type Staging, type Step } from './plan.js';
import { me } from './recovery.js';
import { proofKinds, rollback } from './rollback.js';
import type { InterfaceTarget, RouteTarget, RuleTarget, Staged } from './staged.js';
import { expectationOf, explainRefusal } from './tc-plan.js';

export interface CommitReport {
  /** Steps applied, as the plan named them. */
  applied: string[];
  steps: number;
  ms: number;
  /** The commit's journal entry (none without a journal). */
  id?: string;
  /** The processes it started (`tx.spawn`), by name. */
  processes?: Record<string, NsProcess>;
}

export type Check = (() => Promise<unknown>) | { name: string; fn: () => Promise<unknown> };

export interface CommitOptions {
  /** How long the store may take to show the target (ms, default 5000). */
  timeout?: number;
  /** Predicates that must hold before the commit is final (a named one fails under its name). */
  checks?: Check[];
  /**
   * Commit-confirmed: the commit is provisional, and rolled back after this
   * many ms unless confirmed (`commit()` then resolves with a PendingCommit).
   */
  confirm?: number;
  /** Told after each phase: steps done, steps in all, what the last one did (a progress bar). */
  progress?: (done: number, total: number, what: string) => void;
}

/** What a commit is written into, and how it ends there. */
export interface Journaling {
  journal: Journal;
  /** The namespaces the store follows, as the journal names them (name and inode). */
  namespaces: JournalNamespace[];
}

let sequence = 0;

/** A commit's id: unique in the journal, readable in a list, safe in a file name and on a command line. */
function commitId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${t}-${process.pid}-${++sequence}`;
}

export async function commitStaging(
  db: Host,
  given: Staging,
  options: CommitOptions = {},
  journaling?: Journaling,
): Promise<CommitReport> {
  const started = performance.now();
  const staging = split(given);
  await freshTuntaps(db, staging);
  const book = new AddressBook(db);
  const effects = predictSideEffects(db, staging, book);
  const timeout = options.timeout ?? 5000;
  const exec = new Executor(db);
  const applied: Step[] = [];
  const journal = journaling?.journal;
  const id = journal ? commitId() : undefined;
  try {
    await book.readLists(staging, async (netns, index) => (await exec.of(netns)).addr('dump', { index }));
    const steps = plan(staging, { book, effects });
    if (journal && id) {
      // What a commit changes matters only while one is provisional: a commit lists its objects
      // when it is commit-confirmed or another is pending (100 000 routes are 100 000 keys).
      const pending = journal.list(['pending']);
      const objects = options.confirm !== undefined || pending.length ? objectsOf(staging) : [];
      refuseWhilePending(pending, objects);
      const owner = me();
      const used = new Set(steps.map((x) => x.request.netns));
      journal.begin(
        {
          id,
          created: Date.now(),
          bootId: bootId(),
          pid: owner.pid,
          startTime: owner.startTime,
          namespaces: (journaling as Journaling).namespaces.filter((n) => used.has(n.name)),
          steps: steps.length,
          objects,
        },
        { steps, effects, lists: [...book.listed()] },
      );
    }
    let done = 0;
    for (const group of phases(steps)) {
      const failure = isParallelGroup(group)
        ? await applyParallel(exec, group, applied, done, journal && id ? { journal, id } : undefined)
        : await applyGroup(db, exec, group, applied, done, journal && id ? { journal, id } : undefined);
      done += group.length;
      if (failure) throw failure;
      options.progress?.(done, steps.length, (group[group.length - 1] as Step).what);
    }
    try {
      // A proof of absence holds trivially for what the store has not seen yet: it catches up first.
      await Promise.all([...new Set(steps.map((x) => x.request.netns))].map((n) => db.barrier(n).catch(() => undefined)));
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
    if (journal && id) {
      if (options.confirm !== undefined) {
        journal.setDeadline(id, Date.now() + options.confirm);
        journal.transition(id, ['applying'], 'pending', 'applied; waiting for confirm');
      } else journal.transition(id, ['applying'], 'committed', `${applied.length} step(s) applied`);
    }
    const report: CommitReport = { applied: applied.map((x) => x.what), steps: steps.length, ms: performance.now() - started };
    if (id) report.id = id;
    if (exec.host.started.size) report.processes = Object.fromEntries(exec.host.started);
    return report;
  } catch (e) {
    if (!(e instanceof StepFailure)) {
      // Nothing was sent (a refusal before the first request): the entry, if written, says so.
      if (journal && id) journal.transition(id, ['applying'], 'rolled_back', (e as Error).message);
      throw e;
    }
    const { rolledBack, notRolledBack } = await rollback(db, exec, applied, effects, book, timeout);
    const cause = e.cause;
    const kernel =
      cause instanceof NetlinkError ? ` ${cause.code}${cause.extack ? ` "${cause.extack}"` : ''}` : ` ${cause.message}`;
    const loud = notRolledBack.length ? `; NOT rolled back: ${notRolledBack.join('; ')}` : '';
    const message = `commit failed at "${e.step}":${kernel}; rolled back ${rolledBack.length} step(s)${loud}`;
    if (journal && id) journal.transition(id, ['applying'], notRolledBack.length ? 'failed' : 'rolled_back', message);
    throw new TransactionError(message, e.step, cause, rolledBack, notRolledBack);
  } finally {
    exec.close();
  }
}

/** An interface made anew where one of its name goes is two objects: the one removed, the one created. */
function split(staging: Staging): Staging {
  const interfaces: Staged<InterfaceTarget>[] = [];
  for (const s of staging.interfaces) {
    if (s.replaced && s.base && s.target)
      interfaces.push({ base: s.base, order: s.order, replaced: true }, { target: s.target, order: s.order, replaced: true });
    else interfaces.push(s);
  }
  return { ...staging, interfaces };
}

/**
 * A tun/tap's owner, group and persistence are set by ioctls the kernel
 * announces nothing of: the store's record may lack them. The tun/tap links
 * a commit may remove are asked for again first, so a rollback makes them
 * again as they were.
 */
async function freshTuntaps(db: Host, staging: Staging): Promise<void> {
  for (const s of staging.interfaces) {
    const base = s.base;
    if (base?.kind !== 'tun' || base.index === undefined) continue;
    await db.refresh(base.netns, 'link', 'get', { index: base.index });
    const rec = db.interfaces.get({ netns: base.netns, index: base.index });
    if (!rec) continue;
    const fresh = { ...base, tuntap: tuntapOf(rec) };
    if (s.target === base) s.target = fresh;
    s.base = fresh;
  }
}

/** What a commit changes, by key: interfaces (by both names, for a rename), routes, rules, neighbours. */
function objectsOf(staging: Staging): string[] {
  const out = new Set<string>();
  for (const s of staging.interfaces) {
    if (s.base === s.target) continue;
    for (const t of [s.base, s.target]) if (t) out.add(`interface ${t.netns}|${t.ifname}`);
  }
  for (const s of staging.routes) if (s.base !== s.target) out.add(`route ${routeKey((s.target ?? s.base) as RouteTarget)}`);
  for (const s of staging.rules) if (s.base !== s.target) out.add(`rule ${ruleKey((s.target ?? s.base) as RuleTarget)}`);
  for (const s of staging.neighbours) {
    const t = s.target ?? s.base;
    if (t && s.base !== s.target) out.add(`neighbour ${t.netns}|${t.dev}|${t.dst}`);
  }
  for (const s of staging.tc ?? []) if (s.target) out.add(`tc ${s.target.netns}|${s.target.ifname}|${s.target.slot}`);
  for (const s of staging.namespaces ?? []) out.add(`namespace ${(s.target ?? s.base)?.name}`);
  for (const s of staging.sysctls ?? []) if (s.target) out.add(`sysctl ${s.target.netns}|${s.target.key}`);
  for (const s of staging.switches ?? []) for (const t of [s.base, s.target]) if (t) out.add(`switch ${t.netns}|${t.name}`);
  return [...out];
}

/** A commit touching an object of a provisional one waits until that one is confirmed or rolled back. */
function refuseWhilePending(pending: readonly JournalEntry[], objects: readonly string[]): void {
  const mine = new Set(objects);
  for (const e of pending) {
    const shared = e.objects.find((o) => mine.has(o));
    if (shared) {
      throw new PendingCommitError(
        `${shared} belongs to provisional commit ${e.id}, which waits for a confirm until ${new Date(e.deadline ?? 0).toISOString()}: ` +
          `confirm it or roll it back first (netstate confirm ${e.id} / netstate rollback ${e.id})`,
        e.id,
      );
    }
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
function target(db: Host, staging: Staging, effects: SideEffects): Confirmer {
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
    if (s.replaced && !s.target) continue; // its name is the new one's now: that one is confirmed
    c.add(k.interface, expectTarget(s, readded.get(keyOf(s))));
  }
  const changed = <T>(list: Iterable<Staged<T>>) => [...list].filter((s) => s.base !== s.target && (s.base || s.target));
  for (const s of changed(staging.routes)) c.add(k.route, s);
  for (const s of changed(staging.rules)) c.add(k.rule, s);
  for (const s of changed(staging.neighbours)) c.add(k.neighbour, s);
  for (const s of changed(staging.tc ?? [])) c.add(k.tc, expectationOf(s.target as NonNullable<typeof s.target>));
  return c;
}

function keyOf(s: Staged<{ netns: string; ifname: string }>): string {
  const t = (s.target ?? s.base) as { netns: string; ifname: string };
  return `${t.netns}|${t.ifname}`;
}

/** A phase whose steps run at once (parallel.ts), marked in the journal as one slice. */
async function applyParallel(
  exec: Executor,
  group: Step[],
  applied: Step[],
  first: number,
  journaled?: { journal: Journal; id: string },
): Promise<StepFailure | undefined> {
  journaled?.journal.sent(journaled.id, first + group.length);
  const failure = await runParallel(exec, group, applied);
  journaled?.journal.done(journaled.id, first + group.length);
  return failure && new StepFailure(failure.what, failure.error);
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

/**
 * One phase: a batch per namespace (the plan puts each namespace's steps of
 * a phase together); the steps that went through are recorded as applied.
 * With a journal, each slice is marked sent before it goes out and done
 * when the kernel has answered: `first` is the plan position of the
 * group's first step.
 */
async function applyGroup(
  db: Host,
  exec: Executor,
  group: Step[],
  applied: Step[],
  first: number,
  journaled?: { journal: Journal; id: string },
): Promise<StepFailure | undefined> {
  let failure: StepFailure | undefined;
  for (let start = 0; start < group.length && !failure; ) {
    const netns = (group[start] as Step).request.netns;
    let end = start;
    while (end < group.length && (group[end] as Step).request.netns === netns) end++;
    const list = group.slice(start, end);
    let stored: Promise<void> | undefined;
    for (let at = 0; at < list.length && !failure; at += SLICE) {
      const slice = list.slice(at, at + SLICE);
      const upto = first + start + at + slice.length;
      journaled?.journal.sent(journaled.id, upto);
      let results: BatchResult[];
      try {
        results = await exec.run(
          netns,
          slice.map((x) => x.request),
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
        else failure ??= new StepFailure(step.what, explainRefusal(step, r.error));
      });
      journaled?.journal.done(journaled.id, upto);
      if (list.length <= SLICE) continue;
      const previous = stored;
      // Pacing only: a store that cannot catch up shows up in the confirmation that follows.
      stored = db.barrier(netns).catch(() => undefined);
      await previous;
    }
    await stored;
    start = end;
  }
  if (!failure) {
    try {
      await exec.refresh(group.map((x) => x.request));
    } catch {
      // The store learns it from the confirmation's timeout instead.
    }
  }
  return failure;
}
