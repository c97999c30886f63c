/**
 * Commit-confirmed: `await tx.commit({ confirm: 30_000 })` applies and
 * confirms against the kernel as usual, but the result is provisional until
 * `confirm()`; `rollback()` undoes it at once, and without either before the
 * deadline it is undone by itself. The deadline holds even when this process
 * dies: a detached watchdog process (no systemd here to hold a timer) waits
 * for it and undoes the commit from the journal. Confirm, rollback and the
 * deadline are one compare-and-set on the journal entry: exactly one wins,
 * and the losers are told which.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive, processStartTime } from '../backends/host.js';
import type { Database } from '../db/database.js';
import { PendingCommitError, TransactionError } from '../errors.js';
import type { CommitReport } from './commit.js';
import type { Journal, JournalEntry } from './journal.js';
import { me, undoFromJournal } from './recovery.js';
import type { RollbackReport } from './rollback.js';

export class PendingCommit {
  private readonly timer: NodeJS.Timeout;
  private settled?: Promise<RollbackReport | undefined>;

  constructor(
    private readonly db: Database,
    private readonly journal: Journal,
    /** The journal entry's id: `netstate confirm ID` from another process confirms it too. */
    readonly id: string,
    /** When it is rolled back unless confirmed. */
    readonly deadline: Date,
    /** What the commit applied. */
    readonly report: CommitReport,
  ) {
    // The deadline in this process (the watchdog holds it if this process dies); it keeps nothing alive.
    this.timer = setTimeout(() => void this.expire(), Math.max(0, deadline.getTime() - Date.now()));
    this.timer.unref();
  }

  /** Where the commit stands: 'pending', 'confirmed', 'rolled_back', ... (as the journal says). */
  get state(): string {
    return this.journal.get(this.id)?.state ?? 'unknown';
  }

  /** Makes the commit final. A PendingCommitError if the deadline or a rollback came first. */
  async confirm(): Promise<void> {
    if (!this.journal.transition(this.id, ['pending'], 'confirmed', 'confirmed')) throw this.lost('confirm');
    this.stop();
  }

  /** Undoes the commit now. A PendingCommitError if a confirm or the deadline came first. */
  async rollback(): Promise<RollbackReport> {
    if (!this.journal.claim(this.id, ['pending'], 'rolling_back', me())) throw this.lost('roll back');
    this.stop();
    const report = await this.undo();
    if (report.notRolledBack.length) {
      throw new TransactionError(
        `rollback of commit ${this.id}: NOT rolled back: ${report.notRolledBack.join('; ')}`,
        'rollback',
        undefined,
        report.rolledBack,
        report.notRolledBack,
      );
    }
    return report;
  }

  /** Resolves once the commit is final: confirmed, or rolled back by whoever won. */
  async done(): Promise<string> {
    await this.settled;
    return this.state;
  }

  private async expire(): Promise<void> {
    if (!this.journal.claim(this.id, ['pending'], 'rolling_back', me())) return; // confirmed, or the watchdog is at it
    this.stop();
    await this.undo().catch(() => undefined);
  }

  private undo(): Promise<RollbackReport> {
    const entry = this.journal.get(this.id) as JournalEntry;
    const p = undoFromJournal(this.db, this.journal, entry, 'rolled_back');
    this.settled = p;
    return p;
  }

  private stop(): void {
    clearTimeout(this.timer);
    stopWatchdog(this.journal.get(this.id));
  }

  private lost(what: string): PendingCommitError {
    const e = this.journal.get(this.id);
    const why =
      e?.state === 'confirmed'
        ? 'it was confirmed already'
        : e?.state === 'pending'
          ? 'it is pending'
          : `it was rolled back${e?.deadline !== undefined && e.deadline <= Date.now() ? ' at its deadline' : ''} (${e?.state})`;
    return new PendingCommitError(`cannot ${what} commit ${this.id}: ${why}`, this.id);
  }
}

/** The built watchdog script (from the TypeScript sources, as tests run them: the copy in dist/). */
function watchdogScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const js = join(here, 'watchdog.js');
  if (existsSync(js)) return js;
  let dir = here;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist', 'src', 'transactions', 'watchdog.js');
}

/**
 * Starts the detached process that rolls a pending commit back at its
 * deadline if nobody confirms it: it outlives this process (kill -9
 * included) and writes its own pid and start time into the entry.
 */
export function startWatchdog(journal: Journal, entry: JournalEntry): void {
  const child = spawn(process.execPath, [watchdogScript(), journal.path, entry.id], { detached: true, stdio: 'ignore' });
  child.unref();
  const start = child.pid === undefined ? undefined : processStartTime(child.pid);
  if (child.pid !== undefined && start !== undefined) journal.setWatchdog(entry.id, child.pid, start);
}

/** Ends the watchdog of an entry that became final (it would find nothing to do, but waits until its deadline). */
export function stopWatchdog(entry: JournalEntry | undefined): void {
  if (entry?.watchdogPid === undefined || entry.watchdogStart === undefined) return;
  if (!processAlive(entry.watchdogPid, entry.watchdogStart)) return; // gone, or the pid is another process's now
  try {
    process.kill(entry.watchdogPid, 'SIGTERM');
  } catch {
    // gone already
  }
}
