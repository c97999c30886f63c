/**
 * The difference between two states of one object, as set operations, keyed
 * as IPDB keys them: for a set-valued field `ipaddr`, `'+ipaddr'` lists what
 * is added and `'-ipaddr'` what is removed; a changed scalar appears with its
 * new value. A created object shows only `+` sets and its fields; a removed
 * one is `{ remove: true }`. Pure and deterministic (sorted), so a review can
 * be printed, stored and compared.
 */

export type Plain = Readonly<Record<string, unknown>>;
export type ObjectDiff = Record<string, unknown>;

/** Canonical text of a value: sets are compared by their members' text. */
export function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : typeof v === 'bigint'
        ? `${v}n` // a u64 beyond 2^53, as records keep it
        : v,
  );
}

function members(value: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const m of (value as unknown[] | undefined) ?? []) out.set(canonical(m), m);
  return out;
}

function sortedValues(map: Map<string, unknown>, keep: (key: string) => boolean): unknown[] {
  return [...map.entries()]
    .filter(([k]) => keep(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, v]) => v);
}

/**
 * `before` → `after` for one object. `sets` names the fields compared as
 * sets. Returns undefined when nothing differs.
 */
export function diffObject(before: Plain | undefined, after: Plain | undefined, sets: readonly string[]): ObjectDiff | undefined {
  if (!before && !after) return undefined;
  if (!after) return { remove: true };
  const out: ObjectDiff = {};
  const setKeys = new Set(sets);
  for (const key of sets) {
    const was = members(before?.[key]);
    const is = members(after[key]);
    const added = sortedValues(is, (k) => !was.has(k));
    const removed = sortedValues(was, (k) => !is.has(k));
    if (added.length) out[`+${key}`] = added;
    if (removed.length) out[`-${key}`] = removed;
  }
  const fields = new Set([...Object.keys(after), ...(before ? Object.keys(before) : [])]);
  for (const key of [...fields].sort()) {
    if (setKeys.has(key)) continue;
    const was = before?.[key];
    const is = after[key];
    if (canonical(was) === canonical(is)) continue;
    if (is === undefined && !before) continue;
    out[key] = is === undefined ? null : is;
  }
  return Object.keys(out).length ? sortKeys(out) : undefined;
}

function sortKeys(o: ObjectDiff): ObjectDiff {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Diffs of many objects by name; names sorted, unchanged ones left out. */
export function diffCollection(
  before: ReadonlyMap<string, Plain>,
  after: ReadonlyMap<string, Plain>,
  sets: readonly string[],
): Record<string, ObjectDiff> {
  const out: Record<string, ObjectDiff> = {};
  for (const name of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const d = diffObject(before.get(name), after.get(name), sets);
    if (d) out[name] = d;
  }
  return out;
}
