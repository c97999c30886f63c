/** Rows to the plain, frozen records users get. */
import type { Kind } from './kinds/kind.js';
import { decodeBody } from './kinds/kind.js';

export type StoreRecord = Readonly<Record<string, unknown>>;

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** What a collection adds to a decoded record (names for indexes, an interface's addresses); may change `rec`. */
export type Extra = (
  ns: number,
  body: Buffer,
  rec: Record<string, unknown>,
  memo: Map<string, unknown>,
) => Record<string, unknown> | undefined;

/** A record decoded from a stored body, with the namespace it lives in. */
export function toRecord(
  kind: Kind,
  netns: string,
  body: Buffer,
  extra?: Record<string, unknown> | ((rec: Record<string, unknown>) => Record<string, unknown> | undefined),
): StoreRecord {
  const rec = decodeBody(kind.family, body);
  const more = typeof extra === 'function' ? extra(rec) : extra;
  return deepFreeze({ netns, ...rec, ...more });
}
