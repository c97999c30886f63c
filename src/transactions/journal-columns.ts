/**
 * Records as columns, each a list of runs of one value: how the journal
 * writes 100 000 routes that differ in their destination only. Each field
 * costs one run per change of value instead of one copy per record, so the
 * columns of such a list are its destinations and a few runs.
 *
 * A run is `[count]` where the records lack the field (or are absent:
 * a step that removes an object has no target) and `[count, value]` where
 * they have it. A field whose value is `undefined` is lacking, as in JSON.
 */

/** A run of `count` records: without the field, or all with this value. */
type Run = [count: number] | [count: number, value: unknown];

export interface Columns {
  /** How many records. */
  n: number;
  /** Which records there are (value 1) and which are absent. */
  present: Run[];
  /** Per field, in the order fields first appear. */
  fields: [name: string, runs: Run[]][];
}

export function toColumns(records: readonly (Readonly<Record<string, unknown>> | undefined)[]): Columns {
  const present = new Runs();
  const fields = new Map<string, Runs>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (!r) continue;
    present.put(i, 1);
    for (const name in r) {
      const value = r[name];
      if (value === undefined) continue;
      let runs = fields.get(name);
      if (!runs) fields.set(name, (runs = new Runs()));
      runs.put(i, value);
    }
  }
  return {
    n: records.length,
    present: present.upTo(records.length),
    fields: [...fields].map(([name, runs]) => [name, runs.upTo(records.length)]),
  };
}

/** The records again; each gets its own copy of an object value. */
export function fromColumns(c: Columns): (Record<string, unknown> | undefined)[] {
  const records: (Record<string, unknown> | undefined)[] = new Array(c.n).fill(undefined);
  expand(c.present, c.n, (i) => {
    records[i] = {};
  });
  for (const [name, runs] of c.fields) {
    expand(runs, c.n, (i, value) => {
      const r = records[i];
      if (!r) throw new Error(`column ${name} has a value for record ${i}, which is absent`);
      r[name] = typeof value === 'object' && value !== null ? structuredClone(value) : value;
    });
  }
  return records;
}

function expand(runs: readonly Run[], n: number, each: (i: number, value: unknown) => void): void {
  let i = 0;
  for (const run of runs) {
    const [count] = run;
    if (run.length === 2) for (let k = 0; k < count; k++) each(i + k, run[1]);
    i += count;
  }
  if (i !== n) throw new Error(`a column covers ${i} records of ${n}`);
}

/** One column as it is built: records come in order, some skipped (they lack the field). */
class Runs {
  private readonly runs: Run[] = [];
  /** The next record's position. */
  private next = 0;
  /** The last run's value as JSON, when it is an object: objects are equal when their JSON is. */
  private lastJson: string | undefined;

  put(at: number, value: unknown): void {
    if (at > this.next) this.lacking(at - this.next);
    this.next = at + 1;
    const last = this.runs[this.runs.length - 1];
    if (typeof value === 'object' && value !== null) {
      // Most routes have no next hops: an empty list needs no JSON to compare.
      const json = Array.isArray(value) && value.length === 0 ? '[]' : JSON.stringify(value);
      if (last?.length === 2 && this.lastJson === json) last[0]++;
      else {
        this.runs.push([1, value]);
        this.lastJson = json;
      }
      return;
    }
    if (last?.length === 2 && last[1] === value) last[0]++;
    else {
      this.runs.push([1, value]);
      this.lastJson = undefined;
    }
  }

  /** The runs, with the records after the last one that had the field lacking it. */
  upTo(n: number): Run[] {
    if (n > this.next) this.lacking(n - this.next);
    this.next = n;
    return this.runs;
  }

  private lacking(count: number): void {
    const last = this.runs[this.runs.length - 1];
    if (last?.length === 1) last[0] += count;
    else this.runs.push([count]);
    this.lastJson = undefined;
  }
}
