/**
 * A commit killed (-9) at a random moment leaves the kernel half-applied;
 * the next open of the store finds its journal entry (owner dead) and
 * undoes it. Seeded: the kill moments are replayed with CRASH_SEED=<seed>.
 * Half the trials add links, addresses and routes; the other half also
 * remove and change routes, add a rule and remove and add neighbours.
 * After every trial, `ip -j` equals the state before the commit, or the
 * state after it when the kill came once the commit was over.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetState } from '../../../src/index.js';
import { Journal } from '../../../src/transactions/journal.js';
import { childUntil } from '../../helpers/child.js';
import { exactView, settledView } from '../../helpers/exact-view.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { basicLab } from '../../helpers/lab.js';
import { addNetns, delNetns, freshName, noDad } from '../../helpers/netns.js';
import { Random, seedFrom } from '../../helpers/random.js';

const seed = seedFrom('CRASH_SEED', 'kill -9 trials');
const TRIALS = Number(process.env.CRASH_TRIALS ?? 20);

/** Resolves once the child's commit has its journal entry (or the child is gone). */
async function entryWritten(path: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const j = Journal.open(path);
      const n = j.list().length;
      j.close();
      if (n > 0) return;
    } catch {
      // not made yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.on('exit', () => resolve());
  });
}

/** How each trial ended: the kill came before the entry, during the commit (undone), or after it. */
const outcomes: string[] = [];

describe('a commit killed with -9 is undone by the next open', () => {
  afterAll(() => {
    console.log(`kill -9 trials: ${outcomes.join(', ')}`);
    // Trials that killed nothing half-way would prove nothing: most must have been undone.
    if (outcomes.length === TRIALS) expect(outcomes.filter((o) => o.startsWith('undone')).length).toBeGreaterThan(TRIALS / 2);
  });
  const r = new Random(seed);
  // The child's big commit takes about 300 ms from its journal entry on (less since the journal got cheaper):
  // kills spread over that span land half-way, most of them.
  const delays = Array.from({ length: TRIALS }, () => r.int(0, 300));
  // Every other trial commits the mixed transaction: routes removed and changed as well as added, a rule, neighbours.
  const kinds = delays.map((_d, i) => (i % 2 ? 'mixed' : 'big'));
  it.each(delays.map((d, i) => [i, kinds[i], d] as const))(
    'trial %i (%s): killed %i ms into the commit',
    async (_i, kind, delay) => {
      const ns = freshName('kill');
      const journal = join(tmpdir(), `${ns}.journal.sqlite`);
      addNetns(ns);
      noDad(ns);
      let child: ChildProcess | undefined;
      try {
        basicLab(ns);
        const probe = await NetState.open({ netns: ns, journal: false });
        const before = await settledView([ns], probe);
        await probe.close();
        const run = await childUntil([ns, journal, kind], /^committing$/);
        child = run.child;
        // The kill comes at a random moment after the journal entry is written, before the first
        // request goes out: watched in the file (another process's progress has no event to await).
        await entryWritten(journal, child);
        await new Promise((resolve) => setTimeout(resolve, delay)); // the random moment itself: a timing, on purpose
        child.kill('SIGKILL');
        await exited(child);
        const db = await NetState.open({ netns: ns, journal });
        const j = Journal.open(journal);
        try {
          const entry = j.list()[0];
          const undone = db.recovered.reduce((n, x) => n + x.steps, 0);
          outcomes.push(entry?.state === 'committed' ? 'after' : entry ? `undone ${undone}/${entry.sent}` : 'before');
          if (entry?.state === 'committed') {
            // The kill came after the end: nothing to undo, and nothing was.
            expect(db.recovered).toEqual([]);
          } else {
            // Killed before the entry was written (nothing sent), or undone now.
            if (entry) expect(entry.state, `${entry.outcome} ${JSON.stringify(db.recovered)}`).toBe('recovered');
            expect(db.recovered.flatMap((x) => x.notRolledBack)).toEqual([]);
            expect(exactView(ns)).toEqual(before[0]);
          }
          await expectStoreMatchesKernel(db, ns);
        } finally {
          j.close();
          await db.close();
        }
      } finally {
        if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        delNetns(ns);
        for (const s of ['', '-wal', '-shm']) rmSync(`${journal}${s}`, { force: true });
      }
    },
  );
});
