/**
 * The commit journal: a SQLite file that makes a commit all-or-nothing even
 * when its process dies. Before the first request of a commit goes out, one
 * durable write (synchronous=FULL) records the commit's id, its plan (each
 * step with its undo), what the kernel may take on its own, the owner (pid
 * and start time), the boot and the namespaces (name and inode). Then, as
 * the commit runs, how far it got: steps sent, steps done. A later open
 * finds commits whose owner died half-way and undoes them from here.
 *
 * The kernel's state does not survive a reboot, so neither does an entry:
 * one from another boot is void. Marks after the first write survive the
 * death of the process without an fsync (the page cache outlives it), so
 * only the first write pays for one.
 *
 * States:
 *   applying   → committed | rolled_back | failed      (the owner finishes it)
 *   applying   → pending                                (commit-confirmed: applied, provisional)
 *   pending    → confirmed | rolling_back → rolled_back (confirm, rollback, or the deadline: one CAS)
 *   applying | pending (owner dead) → recovering → recovered | failed
 *   any unfinished, from another boot → void
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { JournalError } from '../errors.js';
import { decodePlanChunk, encodePlanChunk } from './journal-plan.js';
import type { ListedAddress, SideEffects } from './kernel-model.js';
import type { Step } from './plan.js';

export type CommitState =
  | 'applying'
  | 'committed'
  | 'pending'
  | 'confirmed'
  | 'rolling_back'
  | 'rolled_back'
  | 'recovering'
  | 'recovered'
  | 'failed'
  | 'void';

/** States in which a commit is not over: its changes may be in the kernel and not final. */
export const UNFINISHED: readonly CommitState[] = ['applying', 'pending', 'rolling_back', 'recovering'];

export interface JournalNamespace {
  name: string;
  inode: number | undefined;
}

export interface JournalEntry {
  id: string;
  state: CommitState;
  /** ms since the epoch. */
  created: number;
  bootId: string;
  pid: number;
  startTime: string;
  namespaces: JournalNamespace[];
  /** Commit-confirmed: when it is rolled back unless confirmed (ms since the epoch). */
  deadline?: number;
  watchdogPid?: number;
  watchdogStart?: string;
  /** Steps in the plan; of them, how many were sent and how many done. */
  steps: number;
  sent: number;
  done: number;
  /**
   * What the commit changes, by key: another commit touching one of these
   * waits for it to be final. Listed by a commit that can become pending
   * (commit-confirmed) or that ran while one was; empty for the others.
   */
  objects: string[];
  /** How it ended, in words (a rollback's report, an error). */
  outcome?: string;
}

/** What the journal keeps so that a commit can be undone by another process. */
export interface Undoable {
  steps: Step[];
  effects: SideEffects;
  lists: { netns: string; ifname: string; index: number; addresses: ListedAddress[] }[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS commits (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  created INTEGER NOT NULL,
  boot_id TEXT NOT NULL,
  pid INTEGER NOT NULL,
  start_time TEXT NOT NULL,
  namespaces TEXT NOT NULL,
  deadline INTEGER,
  watchdog_pid INTEGER,
  watchdog_start TEXT,
  steps INTEGER NOT NULL,
  sent INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  objects TEXT NOT NULL,
  outcome TEXT
);
CREATE TABLE IF NOT EXISTS plans (
  commit_id TEXT NOT NULL REFERENCES commits(id) ON DELETE CASCADE,
  chunk INTEGER NOT NULL,
  steps TEXT NOT NULL,
  PRIMARY KEY (commit_id, chunk)
);
CREATE TABLE IF NOT EXISTS commit_objects (
  commit_id TEXT PRIMARY KEY REFERENCES commits(id) ON DELETE CASCADE,
  keys TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS side_effects (
  commit_id TEXT PRIMARY KEY REFERENCES commits(id) ON DELETE CASCADE,
  routes BLOB NOT NULL,
  rest TEXT NOT NULL
);
`;

/** An entry with the objects it changes (kept apart from its row; older files kept them in it). */
const SELECT_ENTRY =
  'SELECT c.*, coalesce(o.keys, c.objects) AS objects FROM commits c LEFT JOIN commit_objects o ON o.commit_id = c.id';

/** How many finished entries the journal keeps. */
const KEEP_FINISHED = 500;
/** Steps per stored chunk of a plan: a commit of 100 000 routes is 25 rows, not 100 000. */
const CHUNK = 4096;
/** How long a writer waits for another process that holds the file (the watchdog, a recovery). */
const BUSY_MS = 5000;

export class Journal {
  /** The progress marks, made once: a commit of 100 000 routes marks 100 times. */
  private readonly marks: { sent: Database.Statement; done: Database.Statement };

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {
    this.marks = {
      sent: db.prepare('UPDATE commits SET sent = max(sent, ?) WHERE id = ?'),
      done: db.prepare('UPDATE commits SET done = max(done, ?) WHERE id = ?'),
    };
  }

  /** Opens (and makes) the journal file; a file that is not a journal is a JournalError naming it. */
  static open(path: string): Journal {
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, { timeout: BUSY_MS });
      if (path !== ':memory:') {
        db.pragma('journal_mode = WAL');
        // A commit of 100 000 routes writes about 600 pages and frees them when it ends. Copying
        // the log into the file every 1000 pages (SQLite's default) did so in every other such
        // commit, 100 ms before its first request; every 10 000, the pages it copies are mostly
        // the same ones, freed and written again, and the log is cut back to 16 MB after.
        db.pragma('wal_autocheckpoint = 10000');
        db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
      }
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      // The newest finished entries are kept for reading; older ones go.
      db.prepare(
        `DELETE FROM commits WHERE state NOT IN (${UNFINISHED.map(() => '?').join(', ')}) AND id NOT IN (SELECT id FROM commits ORDER BY created DESC LIMIT ?)`,
      ).run(...UNFINISHED, KEEP_FINISHED);
      // Checks the whole file now, not when a recovery needs it: a damaged journal is said at once.
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(String(check));
      return new Journal(path, db);
    } catch (e) {
      db?.close();
      throw new JournalError(path, `cannot be used as a commit journal: ${(e as Error).message}`, e as Error);
    }
  }

  /** Runs `fn` on the file, turning SQLite's errors into a JournalError naming it. */
  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof JournalError) throw e;
      throw new JournalError(this.path, `${what}: ${(e as Error).message}`, e as Error);
    }
  }

  /**
   * The write ahead: the commit, its plan and what the kernel may take, in
   * one transaction, durably (synchronous=FULL: on disk before it returns).
   */
  begin(entry: Omit<JournalEntry, 'state' | 'sent' | 'done'>, undoable: Undoable): void {
    this.guard('writing a commit', () => {
      this.db.pragma('synchronous = FULL');
      this.db.transaction(() => {
        this.db
          .prepare(
            `INSERT INTO commits (id, state, created, boot_id, pid, start_time, namespaces, deadline, steps, objects)
             VALUES (?, 'applying', ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            entry.id,
            entry.created,
            entry.bootId,
            entry.pid,
            entry.startTime,
            JSON.stringify(entry.namespaces),
            entry.deadline ?? null,
            entry.steps,
            // In a table of their own: 100 000 keys in this row made every progress mark rewrite megabytes.
            '[]',
          );
        this.db
          .prepare('INSERT INTO commit_objects (commit_id, keys) VALUES (?, ?)')
          .run(entry.id, JSON.stringify(entry.objects));
        const insert = this.db.prepare('INSERT INTO plans (commit_id, chunk, steps) VALUES (?, ?, ?)');
        for (let at = 0, chunk = 0; at < undoable.steps.length; at += CHUNK, chunk++) {
          insert.run(entry.id, chunk, encodePlanChunk(undoable.steps.slice(at, at + CHUNK)));
        }
        const { routes, ...rest } = undoable.effects;
        this.db
          .prepare('INSERT INTO side_effects (commit_id, routes, rest) VALUES (?, ?, ?)')
          .run(
            entry.id,
            encodeRoutes(routes),
            JSON.stringify({ ...rest, names: [...rest.names].map(([n, m]) => [n, [...m]]), lists: undoable.lists }),
          );
      })();
      // Marks after this survive the process's death without an fsync: the page cache outlives it.
      this.db.pragma('synchronous = NORMAL');
    });
  }

  /** Steps [0, n) of the plan went out (some may not have run: their undo tolerates that). */
  sent(id: string, n: number): void {
    this.guard('marking steps sent', () => this.marks.sent.run(n, id));
  }

  /** Steps [0, n) of the plan are done (the kernel answered). */
  done(id: string, n: number): void {
    this.guard('marking steps done', () => this.marks.done.run(n, id));
  }

  /**
   * Moves a commit from one of `from` to `to`, if it is still in one of them:
   * true for the one caller that did. Confirm, rollback, the deadline and a
   * recovery all go through here, so exactly one of them wins.
   */
  transition(id: string, from: readonly CommitState[], to: CommitState, outcome?: string): boolean {
    return this.guard('changing a commit state', () => {
      const won = this.db.transaction(() => {
        const r = this.db
          .prepare(
            `UPDATE commits SET state = ?, outcome = coalesce(?, outcome) WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`,
          )
          .run(to, outcome ?? null, id, ...from);
        // Over, a commit needs no plan any more: the entry stays (for `netstate journal`), the plan goes.
        if (r.changes === 1 && !UNFINISHED.includes(to)) {
          this.db.prepare('DELETE FROM plans WHERE commit_id = ?').run(id);
          this.db.prepare('DELETE FROM side_effects WHERE commit_id = ?').run(id);
          this.db.prepare('DELETE FROM commit_objects WHERE commit_id = ?').run(id);
        }
        return r.changes === 1;
      })();
      return won;
    });
  }

  /**
   * As `transition`, and the caller becomes the entry's owner: a process
   * that dies while undoing an entry leaves it to the next open, as an owner
   * that dies while applying it does.
   */
  claim(id: string, from: readonly CommitState[], to: CommitState, owner: { pid: number; startTime: string }): boolean {
    return this.guard('claiming a commit', () => {
      const r = this.db
        .prepare(
          `UPDATE commits SET state = ?, pid = ?, start_time = ? WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`,
        )
        .run(to, owner.pid, owner.startTime, id, ...from);
      return r.changes === 1;
    });
  }

  /** The watchdog that guards a pending commit's deadline. */
  setWatchdog(id: string, pid: number, startTime: string): void {
    this.guard('recording a watchdog', () =>
      this.db.prepare('UPDATE commits SET watchdog_pid = ?, watchdog_start = ? WHERE id = ?').run(pid, startTime, id),
    );
  }

  /** A pending commit's deadline (ms since the epoch). */
  setDeadline(id: string, deadline: number): void {
    this.guard('setting a deadline', () => this.db.prepare('UPDATE commits SET deadline = ? WHERE id = ?').run(deadline, id));
  }

  get(id: string): JournalEntry | undefined {
    return this.guard('reading a commit', () => {
      const row = this.db.prepare(`${SELECT_ENTRY} WHERE c.id = ?`).get(id) as Row | undefined;
      return row ? this.entry(row) : undefined;
    });
  }

  /** Entries, newest first; only those in `states` when given. */
  list(states?: readonly CommitState[]): JournalEntry[] {
    return this.guard('listing commits', () => {
      const where = states ? ` WHERE c.state IN (${states.map(() => '?').join(', ')})` : '';
      const rows = this.db.prepare(`${SELECT_ENTRY}${where} ORDER BY c.created DESC`).all(...(states ?? [])) as Row[];
      return rows.map((r) => this.entry(r));
    });
  }

  /** What undoing a commit needs: its plan, what the kernel may have taken, the links' address lists. */
  undoable(id: string): Undoable {
    return this.guard(`reading commit ${id}`, () => {
      const chunks = this.db.prepare('SELECT steps FROM plans WHERE commit_id = ? ORDER BY chunk').pluck().all(id) as string[];
      const steps = chunks.flatMap(decodePlanChunk);
      const side = this.db.prepare('SELECT routes, rest FROM side_effects WHERE commit_id = ?').get(id) as
        | { routes: Buffer; rest: string }
        | undefined;
      if (!side) throw new Error('its side effects are missing (the file was cut short?)');
      const rest = JSON.parse(side.rest);
      const effects: SideEffects = {
        ...rest,
        routes: decodeRoutes(side.routes),
        names: new Map((rest.names as [string, [number, string][]][]).map(([n, m]) => [n, new Map(m)])),
      };
      return { steps, effects, lists: rest.lists ?? [] };
    });
  }

  private entry(r: Row): JournalEntry {
    try {
      const e: JournalEntry = {
        id: r.id,
        state: r.state as CommitState,
        created: r.created,
        bootId: r.boot_id,
        pid: r.pid,
        startTime: r.start_time,
        namespaces: JSON.parse(r.namespaces),
        steps: r.steps,
        sent: r.sent,
        done: r.done,
        objects: JSON.parse(r.objects),
      };
      if (r.deadline !== null) e.deadline = r.deadline;
      if (r.watchdog_pid !== null) e.watchdogPid = r.watchdog_pid;
      if (r.watchdog_start !== null) e.watchdogStart = r.watchdog_start;
      if (r.outcome !== null) e.outcome = r.outcome;
      return e;
    } catch (e) {
      throw new JournalError(this.path, `commit ${r.id} is unreadable: ${(e as Error).message}`, e as Error);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface Row {
  id: string;
  state: string;
  created: number;
  boot_id: string;
  pid: number;
  start_time: string;
  namespaces: string;
  deadline: number | null;
  watchdog_pid: number | null;
  watchdog_start: string | null;
  steps: number;
  sent: number;
  done: number;
  objects: string;
  outcome: string | null;
}

/**
 * Routes at risk as one blob: per route its namespace's name, whether the
 * plan keeps it, and its stored body. A link set down with a full table
 * puts a million of them here: no JSON for those.
 */
function encodeRoutes(routes: SideEffects['routes']): Buffer {
  const names = [...new Set(routes.map((r) => r.netns))];
  const head = Buffer.from(JSON.stringify(names));
  const parts: Buffer[] = [u32(head.length), head];
  for (const r of routes) {
    const meta = Buffer.alloc(7);
    meta.writeUInt16LE(names.indexOf(r.netns), 0);
    meta[2] = r.kept ? 1 : 0;
    meta.writeUInt32LE(r.body.length, 3);
    parts.push(meta, r.body);
  }
  return Buffer.concat(parts);
}

function decodeRoutes(buf: Buffer): SideEffects['routes'] {
  const headLen = buf.readUInt32LE(0);
  const names = JSON.parse(buf.toString('utf8', 4, 4 + headLen)) as string[];
  const out: SideEffects['routes'] = [];
  for (let at = 4 + headLen; at < buf.length; ) {
    const netns = names[buf.readUInt16LE(at)] as string;
    const kept = buf[at + 2] === 1;
    const len = buf.readUInt32LE(at + 3);
    out.push({ netns, kept, body: Buffer.from(buf.subarray(at + 7, at + 7 + len)) });
    at += 7 + len;
  }
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}
