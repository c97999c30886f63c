/**
 * Specs are declared once, with zod: the declaration is both the TypeScript
 * type a caller writes against (`z.input<typeof LinkSpec>`) and the check
 * run on whatever reaches the call at run time. A typo such as `mut: 1400`
 * fails at compile time and, from JavaScript or JSON, with a
 * ValidationError naming the field, before anything touches the kernel.
 *
 * This module holds what every spec shares: the conversion of zod's issues
 * into one ValidationError, and the field types (interface names, addresses,
 * prefixes, MACs, bounded integers) with the kernel's own rules.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { type Prefix, parseIp, parseMac, parsePrefix } from './netlink/codec/address.js';

export { z };

/**
 * Checks `input` against `schema` and returns the parsed (normalised)
 * value; a ValidationError naming the first refused field otherwise. `what`
 * says whose input it is ('link add', 'tx.addRoute').
 */
export function parseSpec<S extends z.ZodType>(schema: S, input: unknown, what: string, field?: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw validationError(r.error, what, field);
}

/**
 * zod's issues as one ValidationError: the first issue names the field (or
 * `field`, when the value checked is a field on its own), the rest follow.
 */
export function validationError(error: z.ZodError, what: string, whole?: string): ValidationError {
  const all = meant(error.issues);
  const issues = all.slice(0, 3).map((i) => describeIssue(i, what));
  const first = all[0];
  const path = first ? fieldOf(first) : undefined;
  const field = whole && path ? `${whole}.${path}` : (whole ?? path);
  const more = all.length > 3 ? ` (+${all.length - 3} more)` : '';
  return new ValidationError(issues.join('; ') + more, field);
}

/**
 * A union's issue ("Invalid input", no field) replaced by the issues of the
 * member the input meant: the one whose type it has (an object for an
 * object member), the one it came closest to when several.
 */
function meant(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union' || !issue.errors.length) return [issue];
    const at = issue.path.length;
    const members = issue.errors.map((errs) => errs.map((e) => ({ ...e, path: [...issue.path, ...e.path] })));
    const wrongType = (errs: z.core.$ZodIssue[]) =>
      errs.some((e) => (e.code === 'invalid_type' || e.code === 'invalid_value') && e.path.length === at);
    const typed = members.filter((errs) => !wrongType(errs));
    // Of the members the input has the type of, the one it misses least (each field it does not know counts
    // twice: a member without them is the one meant); none: the union's own message.
    if (!typed.length) return [issue];
    const misses = (errs: z.core.$ZodIssue[]) =>
      errs.reduce((n, e) => n + (e.code === 'unrecognized_keys' ? 2 * e.keys.length : 1), 0);
    const best = typed.reduce((a, b) => (misses(b) < misses(a) ? b : a));
    return meant(best as z.core.$ZodIssue[]);
  });
}

function fieldOf(issue: z.core.$ZodIssue): string | undefined {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') path.push(String(issue.keys[0]));
  return path.length ? path.join('.') : undefined;
}

function describeIssue(issue: z.core.$ZodIssue, what: string): string {
  const at = issue.path.map(String).join('.');
  const where = at ? `${what}: ${at}` : what;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  return `${where}: ${issue.message}`;
}

/** What a value looked like, for messages (never throws: BigInt, circular, symbols). */
export function shown(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  // JSON would show NaN and Infinity as null, -0 as 0.
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'symbol' || typeof value === 'function') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

const IFNAMSIZ = 16;

/** Why `value` is not an interface name the kernel takes (its dev_valid_name()), or undefined. */
export function ifnameProblem(value: string): string | undefined {
  if (value.length === 0) return 'an interface name cannot be empty';
  if (Buffer.byteLength(value) >= IFNAMSIZ) return `"${value}" is longer than 15 bytes, the kernel's limit for interface names`;
  // A NUL would end the name in the kernel's copy of it ('x\0y' is 'x').
  if (value === '.' || value === '..' || /[/:\s\0]/.test(value)) {
    return `${shown(value)} is not a valid interface name (no '/', ':', NUL or whitespace, not '.' or '..')`;
  }
  return undefined;
}

/** An interface name: 1..15 bytes, no '/', ':' or whitespace. */
export const ifname = z
  .string({ error: (i) => `an interface name is a string, not ${shown(i.input)}` })
  .refine((v) => ifnameProblem(v) === undefined, { error: (i) => ifnameProblem(i.input as string) as string });

/** An integer in min..max (the kernel's field width). */
export function int(min: number, max: number) {
  return z
    .number({ error: (i) => `expected an integer in ${min}..${max}, got ${shown(i.input)}` })
    .refine((v) => Number.isInteger(v) && v >= min && v <= max, {
      error: (i) => `expected an integer in ${min}..${max}, got ${shown(i.input)}`,
    });
}

export const u8 = int(0, 0xff);
export const u16 = int(0, 0xffff);
export const u32 = int(0, 0xffffffff);

/** An IP address ('10.0.0.1', '2001:db8::1'), of one family when given. */
export function ipAddress(family?: 4 | 6) {
  return z
    .string({ error: (i) => `expected an IP address, got ${shown(i.input)}` })
    .refine((v) => familyOf(parseIp(v)) !== undefined && (!family || familyOf(parseIp(v)) === family), {
      error: (i) => {
        const got = familyOf(parseIp(i.input as string));
        return got ? `${i.input} is IPv${got} where IPv${family} is needed` : `${shown(i.input)} is not an IP address`;
      },
    });
}

/** 'a/len', or a bare address meaning a host prefix; parsed into a Prefix. */
export function prefix(family?: 4 | 6) {
  return z
    .string({ error: (i) => `expected an address or a prefix like 10.0.0.0/24, got ${shown(i.input)}` })
    .transform((v, ctx): Prefix => {
      const p = parsePrefix(v);
      if (!p) ctx.addIssue({ code: 'custom', message: `${shown(v)} is not an address or a prefix like 10.0.0.0/24` });
      else if (family && p.family !== family)
        ctx.addIssue({ code: 'custom', message: `${v} is IPv${p.family} where IPv${family} is needed` });
      return p as Prefix;
    });
}

/** A 6-byte link-layer address like 02:00:00:00:00:01. */
export const mac = z
  .string({ error: (i) => `expected a MAC address like 02:00:00:00:00:01, got ${shown(i.input)}` })
  .refine((v) => parseMac(v)?.length === 6, {
    error: (i) => `${shown(i.input)} is not a MAC address like 02:00:00:00:00:01`,
  });

/** A spec object: unknown fields are refused (a typo is an error, never a silent no-op). */
export function spec<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, {
    error: (i) => (i.code === 'invalid_type' ? `expected an object, got ${shown(i.input)}` : undefined),
  });
}

/** 'up' or 'down'. */
export const linkState = z.enum(['up', 'down'], { error: (i) => `expected 'up' or 'down', got ${shown(i.input)}` });

function familyOf(bytes: Buffer | undefined): 4 | 6 | undefined {
  if (!bytes) return undefined;
  return bytes.length === 4 ? 4 : 6;
}
