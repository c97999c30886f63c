import { FAMILIES } from '../backends/netlink/codec/message.js';
import { matchesAll } from '../backends/netlink/families/family.js';
import { shown } from '../backends/schema.js';
import { ValidationError } from '../errors.js';
import type { Kind } from './kinds/kind.js';
import { type Extra, type StoreRecord, toRecord } from './records.js';
import type { Store } from './store.js';

export type Filter = Record<string, unknown>;

interface Query {
  where: string;
  params: unknown[];
  rest: Filter;
  /** Filters computed on the record (an address's `network`). */
  tests: ((rec: Record<string, unknown>) => boolean)[];
}

const KNOWN = new WeakMap<Kind, ReadonlySet<string>>();

/**
 * The fields a record of this kind can have, so a filter on any other (a
 * typo such as `ifnmae`) is refused instead of matching nothing: the
 * family's attributes and header fields, what the kind adds, and its SQL
 * filter fields.
 */
function knownFields(kind: Kind): ReadonlySet<string> {
  let known = KNOWN.get(kind);
  if (!known) {
    const body = FAMILIES[kind.family].body;
    known = new Set([
      'netns',
      ...body.names(),
      ...(body.header?.fields.map((f) => f.name) ?? []),
      ...(kind.recordFields ?? []),
      ...Object.keys(kind.sqlFields),
      ...Object.keys(kind.recordTests ?? {}),
    ]);
    KNOWN.set(kind, known);
  }
  return known;
}

/**
 * A filter value is what a record holds: a field SQL answers takes a string
 * or a number (a name or an index), any other JSON data; never a function, a
 * symbol, a BigInt, NaN or a circular object, which would match nothing or
 * break the query.
 */
function checkFilterValue(table: string, field: string, value: unknown, sql: boolean): void {
  const refuse = (why: string) => {
    throw new ValidationError(`${table}: ${field}: ${shown(value)} ${why}`, field);
  };
  if (sql) {
    if (typeof value !== 'string' && (typeof value !== 'number' || !Number.isFinite(value))) refuse('is not a name or a number');
    return;
  }
  if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint')
    refuse('is not a value a record holds');
  try {
    JSON.stringify(value);
  } catch {
    refuse('is not a value a record holds (not JSON)');
  }
}

export class Collection<R extends object = StoreRecord> {
  constructor(
    protected readonly store: Store,
    readonly kind: Kind,
    /** What a bare string or number means for this kind ('v0' → { ifname: 'v0' }). */
    private readonly shorthand: (spec: string | number) => Filter,
    protected readonly extra?: Extra,
  ) {}

  /** The first record matching a name, index, prefix or partial spec; undefined when none. */
  get(spec: string | number | Filter): R | undefined {
    for (const r of this.iterate(this.filterOf(spec), 1)) return r;
    return undefined;
  }

  list(filter: string | number | Filter = {}): R[] {
    return [...this.iterate(this.filterOf(filter))];
  }

  count(filter: string | number | Filter = {}): number {
    const q = this.query(this.filterOf(filter));
    if (Object.keys(q.rest).length === 0) {
      const row = this.store.sql(`SELECT count(*) AS n FROM ${this.kind.table} t WHERE ${q.where}`).get(...q.params) as {
        n: number;
      };
      return row.n;
    }
    let n = 0;
    for (const _ of this.iterate(this.filterOf(filter))) n++;
    return n;
  }

  /** The stored bodies of the matching rows, undecoded (SQL filter fields only). */
  rows(filter: Filter = {}): Buffer[] {
    const q = this.query(this.filterOf(filter, false));
    const rest = [...Object.keys(q.rest), ...Object.keys(filter).filter((k) => this.kind.recordTests?.[k])];
    if (rest.length) throw new ValidationError(`rows(): only indexed fields filter here, not ${rest.join(', ')}`, rest[0]);
    return this.store
      .sql(`SELECT t.body FROM ${this.kind.table} t WHERE ${q.where}`)
      .pluck()
      .all(...q.params) as Buffer[];
  }

  /** Records one at a time (for very long lists). */
  *iterate(filter: Filter = {}, limit = Number.POSITIVE_INFINITY): Generator<R> {
    const q = this.query(filter);
    const sql = `SELECT t.ns AS ns, n.name AS netns, t.body AS body FROM ${this.kind.table} t JOIN namespaces n ON n.id = t.ns WHERE ${q.where} ORDER BY t.ns, t.id`;
    let found = 0;
    const restEmpty = Object.keys(q.rest).length === 0 && q.tests.length === 0;
    const memo = new Map<string, unknown>();
    for (const row of this.store.sql(sql).iterate(...q.params) as Iterable<{ ns: number; netns: string; body: Buffer }>) {
      const extra = this.extra;
      const rec = toRecord(this.kind, row.netns, row.body, extra && ((r) => extra(row.ns, row.body, r, memo)));
      if (!restEmpty && (!matchesAll(rec, q.rest) || !q.tests.every((t) => t(rec)))) continue;
      yield rec as R;
      if (++found >= limit) return;
    }
  }

  protected filterOf(spec: string | number | Filter, shorthand = true): Filter {
    if (shorthand && (typeof spec === 'string' || typeof spec === 'number')) return this.shorthand(spec);
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      throw new ValidationError(`${this.kind.table}: a filter is a name, an index or an object, not ${shown(spec)}`);
    }
    return spec;
  }

  private query(filter: Filter): Query {
    // Every index starts with ns: naming the namespaces lets SQLite use them.
    const clauses = filter.netns === undefined ? ['t.ns IN (SELECT id FROM namespaces)'] : [];
    const params: unknown[] = [];
    const rest: Filter = {};
    const tests: ((rec: Record<string, unknown>) => boolean)[] = [];
    const known = knownFields(this.kind);
    for (const [field, value] of Object.entries(filter)) {
      if (value === undefined) continue;
      if (!known.has(field)) {
        throw new ValidationError(
          `${this.kind.table}: no record has a field "${field}" to filter on (fields: ${[...known].sort().join(', ')})`,
          field,
        );
      }
      const toSql = this.kind.sqlFields[field];
      checkFilterValue(this.kind.table, field, value, field === 'netns' || toSql !== undefined);
      const test = this.kind.recordTests?.[field];
      if (test) {
        tests.push(test(value));
        continue;
      }
      if (field === 'netns') {
        clauses.push('t.ns IN (SELECT id FROM namespaces WHERE name = ?)');
        params.push(String(value));
        continue;
      }
      if (toSql) {
        const { sql, params: p } = toSql(value);
        clauses.push(sql);
        params.push(...p);
      } else {
        rest[field] = value;
      }
    }
    return { where: clauses.join(' AND '), params, rest, tests };
  }
}
