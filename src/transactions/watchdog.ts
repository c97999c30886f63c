/**
 * The watchdog of a provisional commit (commit-confirmed), run as a
 * detached process: `node watchdog.js JOURNAL ID`. It outlives the process
 * that made the commit, waits until the commit's deadline, and if nobody
 * confirmed or rolled it back meanwhile, wins the compare-and-set on the
 * journal entry and undoes the commit from it. It keeps its own process
 * alive with its timer, and nothing else.
 */
import { processStartTime } from '../backends/host.js';
import { Database } from '../db/database.js';
import { ROOT } from '../db/source.js';
import { Journal } from './journal.js';
import { undoFromJournal } from './recovery.js';

async function main(path: string, id: string): Promise<void> {
  const journal = Journal.open(path);
  try {
    const entry = journal.get(id);
    if (entry?.state !== 'pending') return;
    journal.setWatchdog(id, process.pid, processStartTime(process.pid) as string);
    const wait = Math.max(0, (entry.deadline ?? Date.now()) - Date.now());
    await new Promise((resolve) => setTimeout(resolve, wait));
    const me = { pid: process.pid, startTime: processStartTime(process.pid) as string };
    if (!journal.claim(id, ['pending'], 'rolling_back', me)) return; // confirmed, or rolled back by its owner
    const names = entry.namespaces.map((n) => n.name);
    const db = await Database.open({ netns: names.includes(ROOT) ? undefined : names });
    try {
      await undoFromJournal(db, journal, journal.get(id) ?? entry, 'rolled_back');
    } finally {
      await db.close();
    }
  } finally {
    journal.close();
  }
}

const [path, id] = process.argv.slice(2);
if (path && id) {
  main(path, id).then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
