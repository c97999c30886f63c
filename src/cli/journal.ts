/**
 * `netstate journal`, `netstate confirm [ID]`, `netstate rollback [ID]`,
 * `netstate recover`: the commit journal from the command line, so an
 * operator can confirm or undo a provisional commit (commit-confirmed) made
 * by another process, and undo what a dead process left half-applied.
 */

import { DEFAULT_JOURNAL, NetState, PendingCommitError, ROOT, ValidationError } from '../index.js';
import { Journal, type JournalEntry } from '../transactions/journal.js';
import { stopWatchdog } from '../transactions/provisional.js';

/** The journal a command works on: --journal, $NETSTATE_JOURNAL, or the default. */
export function journalPath(given?: string): string {
  return given ?? process.env.NETSTATE_JOURNAL ?? DEFAULT_JOURNAL;
}

function describe(e: JournalEntry): string {
  const when = new Date(e.created).toISOString().replace('T', ' ').replace(/\..*/, '');
  const deadline =
    e.state === 'pending' && e.deadline ? ` (rolled back at ${new Date(e.deadline).toISOString()} unless confirmed)` : '';
  const where = e.namespaces.map((n) => n.name).join(',');
  return `${e.id}  ${e.state.padEnd(11)}  ${when}  ${where}  ${e.done}/${e.steps} steps${deadline}${e.outcome ? `  ${e.outcome}` : ''}`;
}

/** Lists entries: the unfinished ones, or all the journal keeps. */
export function listJournal(path: string, all: boolean, json: boolean): string {
  const journal = Journal.open(path);
  try {
    const entries = all ? journal.list() : journal.list(['applying', 'pending', 'rolling_back', 'recovering', 'failed']);
    if (json) return JSON.stringify(entries, null, 2);
    return entries.length ? entries.map(describe).join('\n') : `(no ${all ? '' : 'unfinished '}commits in ${path})`;
  } finally {
    journal.close();
  }
}

/** The pending entry an id names, or the only pending one. */
function pendingOne(journal: Journal, id?: string): JournalEntry {
  if (id !== undefined) {
    const e = journal.get(id);
    if (!e) throw new ValidationError(`no commit ${id} in ${journal.path}`, 'id');
    return e;
  }
  const pending = journal.list(['pending']);
  if (pending.length !== 1) {
    throw new ValidationError(
      pending.length
        ? `${pending.length} commits are pending (${pending.map((e) => e.id).join(', ')}): name one`
        : `no commit is pending in ${journal.path}`,
      'id',
    );
  }
  return pending[0] as JournalEntry;
}

/** Makes a provisional commit final. */
export function confirmCommit(path: string, id?: string): string {
  const journal = Journal.open(path);
  try {
    const e = pendingOne(journal, id);
    if (!journal.transition(e.id, ['pending'], 'confirmed', 'confirmed')) {
      throw new PendingCommitError(`cannot confirm commit ${e.id}: it is ${journal.get(e.id)?.state}`, e.id);
    }
    stopWatchdog(e);
    return `confirmed ${e.id}`;
  } finally {
    journal.close();
  }
}

/** Undoes a provisional commit now, in the namespaces it changed. */
export async function rollbackCommit(path: string, id?: string): Promise<string> {
  const journal = Journal.open(path);
  let e: JournalEntry;
  try {
    e = pendingOne(journal, id);
  } finally {
    journal.close();
  }
  const names = e.namespaces.map((n) => n.name).filter((n) => n !== ROOT);
  const db = await NetState.open({ netns: names.length ? names : undefined, journal: path });
  try {
    const report = await db.rollback(e.id);
    const loud = report.notRolledBack.length ? `; NOT rolled back: ${report.notRolledBack.join('; ')}` : '';
    return `rolled back ${e.id}: ${report.rolledBack.length} step(s)${loud}`;
  } finally {
    await db.close();
  }
}

/** Opens the namespaces' store on the journal: what a dead process left half-applied is undone. */
export async function recoverCommits(path: string, netns: string[] | undefined): Promise<string> {
  const db = await NetState.open({ netns, journal: path });
  try {
    if (db.recovered.length === 0) return 'nothing to recover';
    return db.recovered
      .map(
        (r) =>
          `${r.id}: ${r.outcome}, ${r.steps} step(s) undone${r.notRolledBack.length ? `; NOT rolled back: ${r.notRolledBack.join('; ')}` : ''}`,
      )
      .join('\n');
  } finally {
    await db.close();
  }
}
