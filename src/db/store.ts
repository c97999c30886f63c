/**
 * The SQLite side of the store: rows in, rows out, by kind. It knows nothing
 * of sockets or events; it is told what the kernel said and reports what
 * changed (the bodies before and after) so the caller can emit events.
 */
import Database from 'better-sqlite3';
import { ClosedError } from '../errors.js';
import { KINDS } from './kinds/index.js';
import type { Kind, KindName, RowValues } from './kinds/kind.js';
import { NLMSG_HDRLEN } from './raw.js';
import { kindDdl, NAMESPACES_DDL } from './schema.js';

/** One row that changed. `before`/`after` are stored bodies (absent on add/remove). */
export interface RowChange {
  kind: KindName;
  action: 'add' | 'change' | 'remove';
  ns: number;
  before?: Buffer;
  after?: Buffer;
  /** True when the kernel changed it without telling (emulated), or a resync found it. */
  silent?: boolean;
}

export interface ShadowDiff {
  gone: { id: number; body: Buffer }[];
  fresh: RowValues[];
}

/** Rows per multi-row INSERT during a load. */
const BULK_ROWS = 64;

type Statement = Database.Statement<unknown[]>;

class KindStatements {
  readonly insertOne: Statement;
  /** Inserts a row whose key is new, and nothing else (changes: 0 when the key exists). */
  readonly insertNew: Statement;
  readonly insertBulk: Statement;
  readonly select: Statement;
  readonly update: Statement;
  readonly deleteId: Statement;
  readonly insertOif?: Statement;
  readonly deleteOifs?: Statement;
  readonly width: number;

  readonly oifColumn: number;

  constructor(
    db: Database.Database,
    readonly kind: Kind,
    readonly table = kind.table,
  ) {
    const names = ['ns', ...kind.columns.map(([n]) => n), 'body'];
    this.width = names.length;
    this.oifColumn = kind.columns.findIndex(([n]) => n === 'oif');
    const one = `(${names.map(() => '?').join(', ')})`;
    // The kernel can hold two IPv4 routes with one key (`ip route append`): the last one read wins.
    const insert = `INSERT OR REPLACE INTO ${table} (${names.join(', ')}) VALUES `;
    this.insertOne = db.prepare(insert + one);
    this.insertNew = db.prepare(`INSERT OR IGNORE INTO ${table} (${names.join(', ')}) VALUES ${one}`);
    this.insertBulk = db.prepare(insert + Array(BULK_ROWS).fill(one).join(', '));
    this.select = db.prepare(`SELECT id, body FROM ${table} WHERE ns = ? AND ${kind.key.map((k) => `${k} = ?`).join(' AND ')}`);
    this.update = db.prepare(`UPDATE ${table} SET ${kind.columns.map(([n]) => `${n} = ?`).join(', ')}, body = ? WHERE id = ?`);
    this.deleteId = db.prepare(`DELETE FROM ${table} WHERE id = ?`);
    if (kind.extraOifs && table === kind.table) {
      this.insertOif = db.prepare(`INSERT INTO ${kind.table}_oifs (owner, ns, oif) VALUES (?, ?, ?)`);
      this.deleteOifs = db.prepare(`DELETE FROM ${kind.table}_oifs WHERE owner = ?`);
    }
  }
}

export class Store {
  readonly db: Database.Database;
  private readonly stmts = new Map<KindName, KindStatements>();
  private readonly keyIndexes = new Map<KindName, number[]>();

  constructor(readonly path = ':memory:') {
    this.db = new Database(path);
    if (path !== ':memory:') {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    this.db.pragma('foreign_keys = ON');
    // A file store outlives the process; the kernel's state does not: its tables start afresh
    // (and so always have this version's schema).
    for (const kind of KINDS) {
      if (kind.extraOifs) this.db.exec(`DROP TABLE IF EXISTS ${kind.table}_oifs`);
      this.db.exec(`DROP TABLE IF EXISTS ${kind.table}`);
    }
    this.db.exec('DROP TABLE IF EXISTS namespaces');
    this.db.exec(NAMESPACES_DDL);
    for (const kind of KINDS) for (const ddl of kindDdl(kind)) this.db.exec(ddl);
    for (const kind of KINDS) {
      this.stmts.set(kind.name, new KindStatements(this.db, kind));
      this.keyIndexes.set(
        kind.name,
        kind.key.map((k) => kind.columns.findIndex(([n]) => n === k)),
      );
    }
  }

  private readonly cache = new Map<string, Statement>();

  /**
   * A prepared statement for this SQL, prepared once (preparing costs more
   * than running a small query). One that is in the middle of an iteration
   * is not shared: a fresh one is prepared for the nested use.
   */
  sql(text: string): Statement {
    if (!this.db.open) throw new ClosedError('the store is closed: open another with NetState.open()');
    const cached = this.cache.get(text);
    if (cached && !cached.busy) return cached;
    const stmt = this.db.prepare(text);
    if (!cached) this.cache.set(text, stmt);
    return stmt;
  }

  statements(kind: KindName): KindStatements {
    return this.stmts.get(kind) as KindStatements;
  }

  addNamespace(name: string): number {
    const row = this.db
      .prepare(
        'INSERT INTO namespaces (name, state) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET state = excluded.state RETURNING id',
      )
      .get(name, 'loading') as { id: number };
    return row.id;
  }

  setNamespaceState(id: number, state: string): void {
    this.sql('UPDATE namespaces SET state = ? WHERE id = ?').run(state, id);
  }

  /**
   * Forgets a namespace and every row of it. (Rows do not reference the
   * namespaces table: checking that reference costs 8% of a million-route load.)
   */
  dropNamespace(id: number): void {
    this.db.transaction(() => {
      for (const kind of KINDS) this.clear(kind, id);
      this.db.prepare('DELETE FROM namespaces WHERE id = ?').run(id);
    })();
  }

  /** Deletes every row of one kind in one namespace (before a reload). */
  clear(kind: Kind, ns: number): void {
    this.sql(`DELETE FROM ${kind.table} WHERE ns = ?`).run(ns);
  }

  private key(kind: Kind, ns: number, values: RowValues): unknown[] {
    const idx = this.keyIndexes.get(kind.name) as number[];
    const out: unknown[] = [ns];
    for (const i of idx) out.push(values[i]);
    return out;
  }

  /**
   * Writes what a NEW message says; reports the change, or nothing when the
   * row is identical. A new key is inserted without looking first (most NEW
   * messages of a big change are additions). The reported bodies are the
   * values' own: they must not be views of a buffer that is reused.
   */
  put(kind: Kind, ns: number, values: RowValues): RowChange | undefined {
    const s = this.statements(kind.name);
    const body = values[values.length - 1] as Buffer;
    const added = s.insertNew.run(ns, ...values);
    if (added.changes) {
      this.writeOifs(s, Number(added.lastInsertRowid), ns, body, false);
      return { kind: kind.name, action: 'add', ns, after: body };
    }
    const old = s.select.get(...this.key(kind, ns, values)) as { id: number; body: Buffer };
    if (old.body.equals(body)) return undefined;
    s.update.run(...values, old.id);
    this.writeOifs(s, old.id, ns, body, true);
    return { kind: kind.name, action: 'change', ns, before: old.body, after: body };
  }

  /** Removes what a DEL message names; reports it, or nothing when no such row exists. */
  remove(kind: Kind, ns: number, values: RowValues): RowChange | undefined {
    const s = this.statements(kind.name);
    const old = s.select.get(...this.key(kind, ns, values)) as { id: number; body: Buffer } | undefined;
    if (!old) return undefined;
    s.deleteId.run(old.id);
    return { kind: kind.name, action: 'remove', ns, before: old.body };
  }

  /** Removes rows by id (cascades); reports each. */
  removeRows(kind: Kind, ns: number, rows: { id: number; body: Buffer }[]): RowChange[] {
    const s = this.statements(kind.name);
    return rows.map((r) => {
      s.deleteId.run(r.id);
      return { kind: kind.name, action: 'remove', ns, before: r.body, silent: true };
    });
  }

  /**
   * Rewrites one row's body in place (an emulated change); reports it. The
   * columns follow the body, so an emulated change of an indexed field (a
   * veth learning its peer) can be found by it; only columns that changed
   * are written (a route's flags touch none, and no index).
   */
  rewrite(kind: Kind, ns: number, row: { id: number; body: Buffer }, body: Buffer): RowChange | undefined {
    if (row.body.equals(body)) return undefined;
    const was = columnsOf(kind, row.body);
    const is = columnsOf(kind, body);
    const set = kind.columns.map(([name]) => name).filter((_, i) => !sameValue(was?.[i], is?.[i]));
    const values = set.map((name) => is?.[kind.columns.findIndex(([n]) => n === name)]);
    this.sql(`UPDATE ${kind.table} SET ${[...set, 'body'].map((n) => `${n} = ?`).join(', ')} WHERE id = ?`).run(
      ...values,
      body,
      row.id,
    );
    return { kind: kind.name, action: 'change', ns, before: row.body, after: body, silent: true };
  }

  private writeOifs(s: KindStatements, id: number, ns: number, body: Buffer, replace: boolean): void {
    if (!s.kind.extraOifs || !s.insertOif) return;
    if (replace) s.deleteOifs?.run(id);
    for (const oif of s.kind.extraOifs(body)) s.insertOif.run(id, ns, oif);
  }

  /** A bulk writer for one kind and namespace: rows go out BULK_ROWS at a time. */
  bulk(kind: Kind, ns: number): BulkWriter {
    return new BulkWriter(this.statements(kind.name), ns);
  }

  /**
   * Resync: the rows a fresh dump wrote into a shadow table, compared with
   * the live ones by key and body. Returns the live rows the kernel no longer
   * has, and the shadow rows (as row values) that are new or differ.
   */
  shadow(kind: Kind): { writer: (ns: number) => BulkWriter; diff: (ns: number) => ShadowDiff; drop: () => void } {
    const name = `shadow_${kind.table}`;
    this.db.exec(`DROP TABLE IF EXISTS temp.${name}`);
    this.db.exec(`CREATE TEMP TABLE ${name} AS SELECT * FROM main.${kind.table} WHERE 0`);
    this.db.exec(`CREATE UNIQUE INDEX temp.${name}_key ON ${name} (ns, ${kind.key.join(', ')})`);
    const s = new KindStatements(this.db, kind, name);
    const on = kind.key.map((k) => `s.${k} = t.${k}`).join(' AND ');
    const cols = kind.columns.map(([n]) => `s.${n}`).join(', ');
    return {
      writer: (ns) => new BulkWriter(s, ns),
      diff: (ns) => ({
        gone: this.db
          .prepare(
            `SELECT t.id, t.body FROM ${kind.table} t WHERE t.ns = ? AND NOT EXISTS (SELECT 1 FROM ${name} s WHERE s.ns = t.ns AND ${on})`,
          )
          .all(ns) as { id: number; body: Buffer }[],
        fresh: this.db
          .prepare(
            `SELECT ${cols}, s.body FROM ${name} s LEFT JOIN ${kind.table} t ON t.ns = s.ns AND ${on} WHERE s.ns = ? AND (t.id IS NULL OR t.body != s.body)`,
          )
          .raw()
          .all(ns) as RowValues[],
      }),
      drop: () => this.db.exec(`DROP TABLE IF EXISTS temp.${name}`),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Buffers rows and writes them with multi-row INSERTs; the caller owns the transaction. */
export class BulkWriter {
  private readonly args: unknown[];
  private n = 0;
  count = 0;

  constructor(
    private readonly s: KindStatements,
    private readonly ns: number,
  ) {
    this.args = new Array(s.width * BULK_ROWS);
  }

  /** Adds a row; its body must stay valid until the next flush, so it is copied. */
  add(values: RowValues): void {
    const s = this.s;
    const last = values.length - 1;
    const body = Buffer.from(values[last] as Buffer);
    if (s.insertOif && values[s.oifColumn] === null) {
      const oifs = s.kind.extraOifs?.(body) ?? [];
      if (oifs.length) {
        values[last] = body;
        const id = Number(s.insertOne.run(this.ns, ...values).lastInsertRowid);
        for (const oif of oifs) s.insertOif?.run(id, this.ns, oif);
        this.count++;
        return;
      }
    }
    let at = this.n * s.width;
    this.args[at++] = this.ns;
    for (let i = 0; i < last; i++) this.args[at++] = values[i];
    this.args[at] = body;
    this.count++;
    if (++this.n === BULK_ROWS) {
      s.insertBulk.run(this.args);
      this.n = 0;
    }
  }

  flush(): void {
    const w = this.s.width;
    for (let r = 0; r < this.n; r++) this.s.insertOne.run(this.args.slice(r * w, (r + 1) * w));
    this.n = 0;
  }
}

/** The column values a stored body gives (it is wrapped in a message header for `row`). */
function columnsOf(kind: Kind, body: Buffer): RowValues | undefined {
  const msg = Buffer.alloc(NLMSG_HDRLEN + body.length);
  msg.writeUInt32LE(msg.length, 0);
  body.copy(msg, NLMSG_HDRLEN);
  return kind.row(msg, 0, msg.length);
}

function sameValue(a: unknown, b: unknown): boolean {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;
}
