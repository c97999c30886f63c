/**
 * Switches as records: `db.switches.get('s1')`, `.list({ netns: 'lab' })`,
 * `.count({ state: 'running' })`. A BMv2 switch is no kernel object: its
 * record is written by whoever runs it (the transactions that start and
 * stop switches, their supervision) through `put` and `delete`, and each
 * change is published on `db.events$` as `{ kind: 'switch', action, netns,
 * before, after }`, like the kernel's objects.
 *
 * One row per switch in the store's SQLite file (table `switches`, keyed by
 * namespace and name), with the spec it was started with beside the record
 * (what starts it again when a removal is rolled back). Like the kernel's
 * tables, it starts empty with every store: a record is of this process's
 * switches.
 */
import { ValidationError } from '../errors.js';
import type { StoreEvent } from './events.js';
import { deepFreeze, type StoreRecord } from './records.js';
import type { Store } from './store.js';

export type SwitchState = 'starting' | 'running' | 'exited' | 'stopped';

/** A switch as `db.switches` gives it (frozen). */
export interface SwitchRecord {
  name: string;
  /** Its namespace ('localhost' for the root one). */
  netns: string;
  /** Its process (the last one's once it ended). */
  pid: number | null;
  state: SwitchState;
  /** Port number -> interface. */
  ports: Record<number, string>;
  thriftPort: number | null;
  grpcPort: number;
  grpcAddress: string;
  deviceId: number;
  /** The BMv2 JSON it runs; null with noP4. */
  program: string | null;
  /** Wall-clock µs since the epoch when its process was started. */
  bootTimestampUs: number | null;
  /** How its last run ended (null while it runs). */
  exitCode: number | null;
  signal: string | null;
  /** 'on-failure': started again when it ends on its own (supervision, or a freeze). */
  restart: 'no' | 'on-failure';
  /** Times supervision started it again. */
  restarts: number;
  /** The cgroup (under netstate/) it runs in. */
  cgroup: string | null;
}

export type SwitchFilter = Partial<Record<keyof SwitchRecord, unknown>>;

const FIELDS: ReadonlySet<string> = new Set([
  'name',
  'netns',
  'pid',
  'state',
  'ports',
  'thriftPort',
  'grpcPort',
  'grpcAddress',
  'deviceId',
  'program',
  'bootTimestampUs',
  'exitCode',
  'signal',
  'restart',
  'restarts',
  'cgroup',
]);

const DDL = [
  'DROP TABLE IF EXISTS switches',
  `CREATE TABLE switches (
  netns TEXT NOT NULL,
  name TEXT NOT NULL,
  record TEXT NOT NULL,
  spec TEXT,
  PRIMARY KEY (netns, name)
)`,
];

export class SwitchCollection {
  constructor(
    private readonly store: Store,
    /** Publishes a change (the Database's event stream). */
    private readonly publish: (event: StoreEvent) => void,
  ) {
    for (const sql of DDL) store.db.exec(sql);
  }

  /** The first switch of that name (or matching the filter); undefined when none. */
  get(spec: string | SwitchFilter): SwitchRecord | undefined {
    return this.list(typeof spec === 'string' ? { name: spec } : spec)[0];
  }

  /** Every switch matching the filter (fields compared for equality), by namespace, then name. */
  list(filter: string | SwitchFilter = {}): SwitchRecord[] {
    const f = this.check(typeof filter === 'string' ? { name: filter } : filter);
    const where: string[] = [];
    const params: unknown[] = [];
    for (const k of ['netns', 'name'] as const) {
      if (typeof f[k] === 'string') {
        where.push(`${k} = ?`);
        params.push(f[k]);
      }
    }
    const rows = this.store
      .sql(`SELECT record FROM switches${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY netns, name`)
      .pluck()
      .all(...params) as string[];
    return rows
      .map((r) => JSON.parse(r) as SwitchRecord)
      .filter((r) => Object.entries(f).every(([k, v]) => v === undefined || same(r[k as keyof SwitchRecord], v)))
      .map((r) => deepFreeze(r));
  }

  count(filter: string | SwitchFilter = {}): number {
    return this.list(filter).length;
  }

  /** @internal The spec a switch was started with (undefined when none is kept). */
  specOf(netns: string, name: string): unknown {
    const row = this.store.sql('SELECT spec FROM switches WHERE netns = ? AND name = ?').pluck().get(netns, name) as
      | string
      | null
      | undefined;
    return row ? JSON.parse(row) : undefined;
  }

  /** @internal Writes a switch's record (added or changed) and publishes the change; `spec` is kept when omitted. */
  put(record: SwitchRecord, spec?: unknown): void {
    if (!this.store.db.open) return;
    const before = this.get({ netns: record.netns, name: record.name });
    const after = deepFreeze(structuredClone(record));
    if (before && same(before, after) && spec === undefined) return;
    this.store
      .sql(
        `INSERT INTO switches (netns, name, record, spec) VALUES (?, ?, ?, ?)
         ON CONFLICT (netns, name) DO UPDATE SET record = excluded.record, spec = coalesce(excluded.spec, switches.spec)`,
      )
      .run(record.netns, record.name, JSON.stringify(after), spec === undefined ? null : JSON.stringify(spec));
    this.publish({
      kind: 'switch',
      action: before ? 'change' : 'add',
      netns: record.netns,
      ...(before ? { before: before as unknown as StoreRecord } : {}),
      after: after as unknown as StoreRecord,
    });
  }

  /** @internal Removes a switch's record and publishes it; nothing when there is none. */
  delete(netns: string, name: string): void {
    if (!this.store.db.open) return;
    const before = this.get({ netns, name });
    if (!before) return;
    this.store.sql('DELETE FROM switches WHERE netns = ? AND name = ?').run(netns, name);
    this.publish({ kind: 'switch', action: 'remove', netns, before: before as unknown as StoreRecord });
  }

  private check(filter: unknown): SwitchFilter {
    if (filter === null || typeof filter !== 'object') {
      throw new ValidationError(`switches: a filter is a name or an object, not ${JSON.stringify(filter)}`);
    }
    for (const k of Object.keys(filter)) {
      if (!FIELDS.has(k)) {
        throw new ValidationError(
          `switches: no record has a field "${k}" to filter on (fields: ${[...FIELDS].sort().join(', ')})`,
          k,
        );
      }
    }
    return filter as SwitchFilter;
  }
}

/** Equal as JSON values (a filter's `ports: { 1: 'p1' }` matches the record's). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, x]) => [k, sorted(x)]),
    );
  }
  return v;
}
