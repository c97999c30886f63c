/**
 * Undoing a commit from its journal entry, in any process: the one that made
 * it (a provisional commit rolled back), its watchdog (the deadline passed),
 * or a later open of the store (the owner died half-way). The steps the
 * entry says were sent are undone in reverse, what the kernel took on its
 * own put back, and each restoration proven against the store, as a
 * rollback in the owner's process would.
 */
import { bootId, netnsInode, processAlive, processStartTime } from '../backends/host.js';
import type { Database } from '../db/database.js';
import { ROOT } from '../db/source.js';
import { Executor } from './execute.js';
import { type CommitState, type Journal, type JournalEntry, UNFINISHED } from './journal.js';
import { AddressBook } from './kernel-model.js';
import { type RollbackReport, rollback } from './rollback.js';

/** What a recovery did with one journal entry. */
export interface Recovered {
  id: string;
  /** 'recovered': undone; 'void': from another boot, or its namespaces are gone; 'failed': not all of it came back. */
  outcome: 'recovered' | 'void' | 'failed';
  /** Steps undone. */
  steps: number;
  notRolledBack: string[];
}

/** This process as an owner of journal entries. */
export function me(): { pid: number; startTime: string } {
  return { pid: process.pid, startTime: processStartTime(process.pid) as string };
}

/**
 * Undoes a commit from its journal entry (which this caller has claimed:
 * state `rolling_back` or `recovering`), then ends it as `to`, or `failed`
 * when something could not be restored.
 */
export async function undoFromJournal(
  db: Database,
  journal: Journal,
  entry: JournalEntry,
  to: CommitState,
  timeout = 5000,
): Promise<RollbackReport> {
  const { steps, effects, lists } = journal.undoable(entry.id);
  const applied = steps.slice(0, entry.sent);
  const exec = new Executor(db);
  let report: RollbackReport;
  try {
    report = await rollback(db, exec, applied, effects, AddressBook.from(db, lists), timeout);
  } finally {
    exec.close();
  }
  const ok = report.notRolledBack.length === 0;
  const outcome = ok
    ? `rolled back ${report.rolledBack.length} step(s)`
    : `rolled back ${report.rolledBack.length} step(s); NOT rolled back: ${report.notRolledBack.join('; ')}`;
  journal.transition(entry.id, ['rolling_back', 'recovering'], ok ? to : 'failed', outcome);
  return report;
}

/** Why an entry is void here, or undefined when it is of this boot and of namespaces this store follows as they are. */
function voidReason(_db: Database, e: JournalEntry): string | undefined {
  if (e.bootId !== bootId()) return 'written before a reboot: the kernel state it changed is gone';
  for (const ns of e.namespaces) {
    const inode = netnsInode(ns.name === ROOT ? undefined : ns.name);
    if (inode === undefined) return `namespace ${ns.name} is gone`;
    if (inode !== ns.inode) return `namespace ${ns.name} was made again since`;
  }
  return undefined;
}

/**
 * Finds the unfinished commits of the namespaces this store follows whose
 * owner is dead, and undoes them; voids entries of another boot. A pending
 * (commit-confirmed) entry whose deadline has not come is left to its
 * watchdog (a new one is started when it died). Two processes recovering
 * at once: the claim is one compare-and-set, so only one undoes an entry.
 */
export async function recover(
  db: Database,
  journal: Journal,
  startWatchdog: (entry: JournalEntry) => void,
): Promise<Recovered[]> {
  const out: Recovered[] = [];
  const followed = new Set(db.followed);
  for (const e of journal.list(UNFINISHED)) {
    if (e.bootId !== bootId()) {
      if (journal.transition(e.id, UNFINISHED, 'void', 'written before a reboot: the kernel state it changed is gone')) {
        out.push({ id: e.id, outcome: 'void', steps: 0, notRolledBack: [] });
      }
      continue;
    }
    if (!e.namespaces.every((n) => followed.has(n.name))) continue; // another store's business
    if (processAlive(e.pid, e.startTime)) continue; // its owner is at it
    const why = voidReason(db, e);
    if (why) {
      if (journal.transition(e.id, UNFINISHED, 'void', why)) out.push({ id: e.id, outcome: 'void', steps: 0, notRolledBack: [] });
      continue;
    }
    if (e.state === 'pending') {
      if (e.watchdogPid !== undefined && e.watchdogStart !== undefined && processAlive(e.watchdogPid, e.watchdogStart)) continue;
      if (e.deadline !== undefined && e.deadline > Date.now()) {
        startWatchdog(e);
        continue;
      }
    }
    if (!journal.claim(e.id, [e.state], 'recovering', me())) continue; // someone else recovers it
    const report = await undoFromJournal(db, journal, e, 'recovered');
    out.push({
      id: e.id,
      outcome: report.notRolledBack.length ? 'failed' : 'recovered',
      steps: report.rolledBack.length,
      notRolledBack: report.notRolledBack,
    });
  }
  return out;
}
