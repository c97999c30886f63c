/**
 * Readers of single values of a lab file: each checks one value, reports
 * what is wrong with it at its place, and gives the value or undefined, so
 * that reading goes on and every problem of the file is found in one pass.
 */
import type { Path } from './locate.js';
import type { Problems } from './problems.js';
import { didYouMean } from './suggest.js';
import type { Read } from './units.js';

export type YamlMap = Record<string, unknown>;

export function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describe(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return JSON.stringify(value);
}

/** A map, or undefined (reported as `what`) when it is something else. */
export function readMap(p: Problems, value: unknown, path: Path, what: string): YamlMap | undefined {
  if (isMap(value)) return value;
  p.error(path, `${what} is a map of fields, got ${describe(value)}`);
  return undefined;
}

/** A list, or undefined (reported) when it is something else. */
export function readList(p: Problems, value: unknown, path: Path, what: string): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  p.error(path, `${what} is a list, got ${describe(value)}`);
  return undefined;
}

/**
 * Reports every key of `map` not in `allowed`, at the key, with the closest
 * allowed key as a suggestion; `elsewhere(key)` may explain a key that is
 * right somewhere else ("program is a field of bmv2 nodes").
 */
export function checkKeys(
  p: Problems,
  map: YamlMap,
  path: Path,
  allowed: readonly string[],
  elsewhere?: (key: string) => string | undefined,
): void {
  for (const key of Object.keys(map)) {
    if (allowed.includes(key)) continue;
    const why = elsewhere?.(key);
    p.error([...path, key], why ?? `unknown field "${key}"${didYouMean(key, allowed)}`, 'key');
  }
}

export function readString(p: Problems, value: unknown, path: Path, what: string): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value;
  p.error(path, `${what} is a non-empty string, got ${describe(value)}`);
  return undefined;
}

export function readInt(p: Problems, value: unknown, path: Path, what: string, min: number, max: number): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  p.error(path, `${what} is an integer in ${min}..${max}, got ${describe(value)}`);
  return undefined;
}

export function readBool(p: Problems, value: unknown, path: Path, what: string): boolean | undefined {
  if (typeof value === 'boolean') return value;
  p.error(path, `${what} is true or false, got ${describe(value)}`);
  return undefined;
}

/** A value with a unit, through one of units.ts's readers. */
export function readUnit<T>(p: Problems, value: unknown, path: Path, reader: (v: unknown) => Read<T>): T | undefined {
  const r = reader(value);
  if ('value' in r) return r.value;
  p.error(path, r.problem);
  return undefined;
}
