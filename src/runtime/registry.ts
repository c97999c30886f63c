/**
 * What each lab made, written down in the journal file (its own tables
 * beside the commits'): the lab (owner pid and start time, boot, whether it
 * outlives its process) and, in order, each thing it made: a namespace, a
 * link, an address or route on a link it did not make, a qdisc, a cgroup, a
 * process, a switch. Written before the commit that makes it (`intended`)
 * and marked `made` with the commit's id after, so a crash in between
 * leaves a record, never an orphan. `cleanup` removes exactly what is
 * recorded, in reverse order, and nothing else.
 *
 * An ephemeral lab (the Lab facade's default) whose process died is swept
 * by the next Lab.open (or `netstate recover`); a persistent one (a lab
 * file brought up by `netstate lab up`) stays until `lab down`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { bootId, processAlive, processStartTime } from '../backends/host.js';
import { JournalError } from '../errors.js';

export type MadeKind = 'namespace' | 'link' | 'address' | 'route' | 'qdisc' | 'forward' | 'cgroup' | 'process' | 'switch';

export interface MadeRecord {
  lab: string;
  seq: number;
  kind: MadeKind;
  /** The namespace it is in ('localhost' for the root one; the namespace itself for kind 'namespace'). */
  netns: string;
  /** Its name: the namespace, the link, the cgroup, 'a/len' of an address, the route's dst... */
  name: string;
  /** What else names it (the link of an address or qdisc, the target of a forward). */
  detail?: string;
  state: 'intended' | 'made';
  /** The commit that made it (its journal id). */
  commit?: string;
}

export interface LabRecord {
  name: string;
  pid: number;
  startTime: string;
  bootId: string;
  /** Outlives its process (lab files); else swept once its process is gone. */
  persistent: boolean;
  created: number;
  /** The lab file it came from, if any. */
  file?: string;
}

/** A lab file's model, as its lab runs (what `lab up` on a running lab diffs against). */
export type StoredModel = Record<string, unknown>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS labs (
  name TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  start_time TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  persistent INTEGER NOT NULL,
  created INTEGER NOT NULL,
  file TEXT,
  model TEXT
);
CREATE TABLE IF NOT EXISTS lab_made (
  lab TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  netns TEXT NOT NULL,
  name TEXT NOT NULL,
  detail TEXT,
  state TEXT NOT NULL,
  commit_id TEXT,
  PRIMARY KEY (lab, seq)
);
`;

export class LabRegistry {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  static open(path: string): LabRegistry {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      const db = new Database(path, { timeout: 5000 });
      db.pragma('journal_mode = WAL');
      db.exec(SCHEMA);
      return new LabRegistry(db, path);
    } catch (e) {
      throw new JournalError(path, `cannot keep labs here: ${(e as Error).message}`, e as Error);
    }
  }

  /** Claims a lab name for this process; a live lab of that name is refused, a dead one's records stay (to be swept). */
  claim(name: string, options: { persistent: boolean; file?: string }): LabRecord {
    const me = { pid: process.pid, startTime: processStartTime(process.pid) as string };
    return this.db.transaction(() => {
      const had = this.lab(name);
      if (had && had.bootId === bootId() && processAlive(had.pid, had.startTime) && had.pid !== process.pid) {
        throw new JournalError(this.path, `lab ${name} belongs to process ${had.pid}, which is alive`);
      }
      const rec: LabRecord = {
        name,
        pid: me.pid,
        startTime: me.startTime,
        bootId: bootId(),
        persistent: options.persistent,
        created: had?.created ?? Date.now(),
        ...(options.file ? { file: options.file } : {}),
      };
      this.db
        .prepare(
          `INSERT INTO labs (name, pid, start_time, boot_id, persistent, created, file) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET pid = excluded.pid, start_time = excluded.start_time, boot_id = excluded.boot_id,
             persistent = excluded.persistent, file = excluded.file`,
        )
        .run(name, rec.pid, rec.startTime, rec.bootId, rec.persistent ? 1 : 0, rec.created, rec.file ?? null);
      return rec;
    })();
  }

  /** The model of a lab that came from a file, as it was brought up. */
  model(name: string): StoredModel | undefined {
    const row = this.db.prepare('SELECT model FROM labs WHERE name = ?').get(name) as { model: string | null } | undefined;
    return row?.model ? (JSON.parse(row.model) as StoredModel) : undefined;
  }

  setModel(name: string, model: StoredModel): void {
    this.db.prepare('UPDATE labs SET model = ? WHERE name = ?').run(JSON.stringify(model), name);
  }

  lab(name: string): LabRecord | undefined {
    const row = this.db.prepare('SELECT * FROM labs WHERE name = ?').get(name) as Record<string, unknown> | undefined;
    return row ? labOf(row) : undefined;
  }

  labs(): LabRecord[] {
    return (this.db.prepare('SELECT * FROM labs ORDER BY name').all() as Record<string, unknown>[]).map(labOf);
  }

  /** Ephemeral labs whose process is gone (or of another boot): what a sweep removes. */
  orphans(): LabRecord[] {
    return this.labs().filter((l) => !l.persistent && (l.bootId !== bootId() || !processAlive(l.pid, l.startTime)));
  }

  /** Writes down what a commit is about to make; returns their sequence numbers. */
  intend(lab: string, items: Omit<MadeRecord, 'lab' | 'seq' | 'state' | 'commit'>[]): number[] {
    return this.db.transaction(() => {
      const next = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM lab_made WHERE lab = ?').get(lab) as { m: number }).m;
      const insert = this.db.prepare(
        "INSERT INTO lab_made (lab, seq, kind, netns, name, detail, state) VALUES (?, ?, ?, ?, ?, ?, 'intended')",
      );
      return items.map((it, i) => {
        insert.run(lab, next + i + 1, it.kind, it.netns, it.name, it.detail ?? null);
        return next + i + 1;
      });
    })();
  }

  /** The commit went through: these are made. */
  made(lab: string, seqs: readonly number[], commit?: string): void {
    const update = this.db.prepare("UPDATE lab_made SET state = 'made', commit_id = ? WHERE lab = ? AND seq = ?");
    this.db.transaction(() => {
      for (const s of seqs) update.run(commit ?? null, lab, s);
    })();
  }

  /** Records that are gone (a failed commit's intents, what a cleanup removed). */
  forget(lab: string, seqs: readonly number[]): void {
    const del = this.db.prepare('DELETE FROM lab_made WHERE lab = ? AND seq = ?');
    this.db.transaction(() => {
      for (const s of seqs) del.run(lab, s);
    })();
  }

  /** A link the lab made moved to another namespace: its record follows it. */
  moved(lab: string, seq: number, netns: string): void {
    this.db.prepare('UPDATE lab_made SET netns = ? WHERE lab = ? AND seq = ?').run(netns, lab, seq);
  }

  list(lab: string): MadeRecord[] {
    return (this.db.prepare('SELECT * FROM lab_made WHERE lab = ? ORDER BY seq').all(lab) as Record<string, unknown>[]).map(
      (r) => ({
        lab: r.lab as string,
        seq: r.seq as number,
        kind: r.kind as MadeKind,
        netns: r.netns as string,
        name: r.name as string,
        ...(r.detail !== null ? { detail: r.detail as string } : {}),
        state: r.state as MadeRecord['state'],
        ...(r.commit_id !== null ? { commit: r.commit_id as string } : {}),
      }),
    );
  }

  /** The lab is gone: its records too. */
  drop(lab: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM lab_made WHERE lab = ?').run(lab);
      this.db.prepare('DELETE FROM labs WHERE name = ?').run(lab);
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function labOf(row: Record<string, unknown>): LabRecord {
  return {
    name: row.name as string,
    pid: row.pid as number,
    startTime: row.start_time as string,
    bootId: row.boot_id as string,
    persistent: row.persistent === 1,
    created: row.created as number,
    ...(row.file !== null && row.file !== undefined ? { file: row.file as string } : {}),
  };
}
