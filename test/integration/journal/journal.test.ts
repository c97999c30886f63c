/**
 * The journal file itself: a damaged or cut-short file is a clear error
 * naming it (never a crash, never a silent skip); an entry from another
 * boot is void, not replayed; two processes recovering at once undo a
 * commit once; a store without a journal says so when asked to confirm.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalError, NetState, type StoreEvent, ValidationError } from '../../../src/index.js';
import { Journal } from '../../../src/transactions/journal.js';
import { childUntil } from '../../helpers/child.js';
import { exactView, settledView } from '../../helpers/exact-view.js';
import { basicLab } from '../../helpers/lab.js';
import { noDad, useNetns } from '../../helpers/netns.js';

const run = promisify(execFile);
const RECOVER = join(import.meta.dirname, '../../fixtures/recover-child.mjs');
const ns = useNetns();
let journal: string;

beforeEach(() => {
  noDad(ns.name);
  basicLab(ns.name);
  journal = join(tmpdir(), `${ns.name}.journal.sqlite`);
});
afterEach(() => {
  for (const s of ['', '-wal', '-shm']) rmSync(`${journal}${s}`, { force: true });
});

/** Leaves a commit half-applied in the kernel, as a process killed -9 in the middle of it does. */
async function halfApplied(kind: 'big' | 'mixed' = 'big'): Promise<string> {
  const { child } = await childUntil([ns.name, journal, kind], /^committing$/);
  for (;;) {
    try {
      const j = Journal.open(journal);
      const e = j.list()[0];
      j.close();
      if (e && e.sent > 2000) break;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  const j = Journal.open(journal);
  const id = (j.list()[0] as { id: string }).id;
  j.close();
  return id;
}

describe('a damaged journal', () => {
  it.each([
    ['not a database at all', (p: string) => writeFileSync(p, 'this is not SQLite, it is a note'.repeat(200))],
    [
      'cut short in the middle',
      (p: string) => {
        const j = Journal.open(p);
        j.close();
        const db = new Database(p);
        db.exec(
          "INSERT INTO commits (id, state, created, boot_id, pid, start_time, namespaces, steps, objects) VALUES ('x', 'committed', 0, 'b', 1, '1', '[]', 0, '[]')",
        );
        db.exec(`CREATE TABLE filler (x BLOB); INSERT INTO filler VALUES (randomblob(200000));`);
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
        truncateSync(p, Math.floor(readFileSync(p).length / 3));
      },
    ],
  ])('%s: NetState.open rejects with a JournalError naming the file', async (_name, damage) => {
    damage(journal);
    const err = await NetState.open({ netns: ns.name, journal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalError);
    expect((err as JournalError).path).toBe(journal);
    expect((err as Error).message).toContain(journal);
  });
});

describe('recovery', () => {
  // big: links, addresses, routes added; mixed: routes removed, changed and added in three tables, a rule, neighbours.
  it.each(['big', 'mixed'] as const)(
    'undoes a half-applied commit exactly (%s), says so on events$ and in db.recovered',
    async (kind) => {
      const probe = await NetState.open({ netns: ns.name, journal: false });
      const [before] = await settledView([ns.name], probe);
      await probe.close();
      const id = await halfApplied(kind);
      const db = await NetState.open({ netns: ns.name, journal });
      const events: StoreEvent[] = [];
      db.events$.subscribe((e) => e.kind === 'journal' && events.push(e));
      try {
        expect(db.recovered).toHaveLength(1);
        expect(db.recovered[0]).toMatchObject({ id, outcome: 'recovered', notRolledBack: [] });
        expect(exactView(ns.name)).toEqual(before);
        await new Promise((resolve) => setImmediate(resolve));
        expect(events).toMatchObject([{ kind: 'journal', action: 'recovered', id }]);
        // Recovered once: a second open finds nothing to do.
        expect(await db.recover()).toEqual([]);
      } finally {
        await db.close();
      }
    },
  );

  it('an entry from another boot is void: marked so, not replayed', async () => {
    const id = await halfApplied();
    const raw = new Database(journal);
    raw.prepare("UPDATE commits SET boot_id = 'another-boot' WHERE id = ?").run(id);
    raw.close();
    const probe = await NetState.open({ netns: ns.name, journal: false });
    const [half] = await settledView([ns.name], probe);
    await probe.close();
    const db = await NetState.open({ netns: ns.name, journal });
    try {
      expect(db.recovered).toEqual([{ id, outcome: 'void', steps: 0, notRolledBack: [] }]);
      expect(exactView(ns.name)).toEqual(half);
      const j = Journal.open(journal);
      expect(j.get(id)?.state).toBe('void');
      j.close();
    } finally {
      await db.close();
    }
  });

  it('two processes recovering at once: exactly one undoes the commit', async () => {
    await halfApplied();
    const outs = await Promise.all([
      run(process.execPath, [RECOVER, ns.name, journal]),
      run(process.execPath, [RECOVER, ns.name, journal]),
    ]);
    const found = outs.map((o) => JSON.parse(o.stdout) as { outcome: string }[]);
    expect(found.map((f) => f.filter((r) => r.outcome === 'recovered').length).sort()).toEqual([0, 1]);
  });
});

describe('without a journal', () => {
  it('commit-confirmed is refused, naming the option', async () => {
    const db = await NetState.open({ netns: ns.name, journal: false });
    try {
      const tx = db.begin();
      tx.interface('v0').set({ mtu: 1300 });
      await expect(tx.commit({ confirm: 1000 })).rejects.toThrow(ValidationError);
      await expect(db.confirm()).rejects.toThrow(/without a journal/);
    } finally {
      await db.close();
    }
  });
});
