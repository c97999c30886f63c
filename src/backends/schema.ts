/**
 * Specs are declared once, with zod: the declaration is both the TypeScript
 * type a caller writes against (`z.input<typeof LinkSpec>`) and the check
 * run on whatever reaches the call at run time. A typo such as `mut: 1400`
 * fails at compile time and, from JavaScript or JSON, with a
 * ValidationError naming the field, before anything touches the kernel.
 *
 * This module holds what every spec shares: the conversion of zod's issues
 * into one ValidationError, and the field types with the kernel's own rules:
 * interface names and indexes, addresses, prefixes, MACs, bounded integers,
 * booleans, bounded text and binary, tc rates, sizes, times and percentages.
 * Each field type refuses every value of another JavaScript type (BigInt,
 * NaN, Infinity, symbols, functions, null, arrays, objects) with a sentence
 * that shows the value, and parses what it accepts into what the encoder
 * needs. They are general on purpose: the staging side of transactions
 * declares its specs with the same ones.
 */
import { z } from 'zod';
import { NetStateError, ValidationError } from '../errors.js';
import { type Prefix, parseIp, parseMac, parsePrefix } from './netlink/codec/address.js';
import { parsePercent, parseRate, parseSize, parseTime } from './netlink/families/tc-units.js';

export { z };

// ---------------------------------------------------------------- checking a spec

/**
 * Checks `input` against `schema` and returns the parsed (normalised)
 * value; a ValidationError naming the first refused field otherwise. `what`
 * says whose input it is ('link add', 'tx.addRoute'). Never throws anything
 * else: a getter or Proxy of the caller's that throws while being read is a
 * ValidationError too (with the original as its `cause`).
 */
export function parseSpec<S extends z.ZodType>(schema: S, input: unknown, what: string, at?: string): z.output<S> {
  let r: z.ZodSafeParseResult<z.output<S>>;
  try {
    const fast = fastSpec(schema, input);
    if (fast !== SLOW) return fast as z.output<S>;
    r = schema.safeParse(input) as z.ZodSafeParseResult<z.output<S>>;
  } catch (e) {
    if (e instanceof NetStateError) throw e;
    throw Object.assign(new ValidationError(`${what}: the spec could not be read: ${errorText(e)}`), { cause: e });
  }
  if (r.success) return r.data;
  throw validationError(r.error, what, at);
}

// ---------------------------------------------------------------- the fast path

/**
 * zod parses a strict object by running every field of its shape, given or
 * not (a route spec has 26), which costs a batch of 100 000 routes more than
 * building and encoding them. A spec made with `spec()` is parsed here
 * instead when its input is a plain object whose every field is accepted:
 * only the given fields run, through the very parse functions of their
 * field types (or zod itself for nested schemas). Anything refused, and any
 * other input, goes to zod, which then names the problem. Same declaration,
 * same answers; the output's key order follows the input's.
 */
const SLOW = Symbol('slow');

/** field() schemas and their parse functions. */
const FIELD_PARSERS = new WeakMap<object, (value: unknown) => unknown>();
/** spec() schemas and their shapes. */
const SPEC_SHAPES = new WeakMap<object, z.core.$ZodLooseShape>();
/** Where a spec() schema keeps its compiled parser (a property: a WeakMap lookup per parse costs more). */
const COMPILED = Symbol('netstate.fastSpec');
type FastParser = (given: Record<string, unknown>) => unknown;

/**
 * The fast parser of a spec() schema, compiled on first use: a switch over
 * the given (own) keys, each case calling its field's parse function and
 * storing under a constant name (dynamic keyed stores cost as much as the
 * parsing). Keys inherited from a polluted Object.prototype are not the
 * caller's input and are not looked at here (zod would refuse them).
 */
function compiled(schema: object): FastParser | undefined {
  const done = (schema as { [COMPILED]?: FastParser })[COMPILED];
  if (done) return done;
  const shape = SPEC_SHAPES.get(schema);
  if (!shape) return undefined;
  const parsers: ((value: unknown) => unknown)[] = [];
  const nested: z.ZodType[] = [];
  const cases: string[] = [];
  const required: string[] = [];
  // The fields most specs give come first: a switch tries its cases in order.
  const keys = Object.keys(shape).sort((a, b) => hotness(a) - hotness(b));
  for (const key of keys) {
    const s = shape[key] as z.ZodType;
    const optional = s instanceof z.ZodOptional;
    const inner = optional ? (s as z.ZodOptional<z.ZodType>).unwrap() : (s as z.ZodType);
    const k = JSON.stringify(key);
    const parse = FIELD_PARSERS.get(inner);
    const value = parse ? `P[${parsers.push(parse) - 1}](value)` : `nested(N[${nested.push(inner) - 1}], value)`;
    cases.push(
      `case ${k}: {${optional ? ' if (value === undefined) break;' : ''} const v = ${value}; if (v === SLOW || v instanceof Refusal) return SLOW; out[${k}] = v; break; }`,
    );
    if (!optional) required.push(`out[${k}] === undefined`);
  }
  const body = `return function fastSpec(given) {
    const out = {};
    const keys = Object.keys(given);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const value = given[key];
      switch (key) {
        ${cases.join('\n        ')}
        default: return SLOW;
      }
    }
    ${required.length ? `if (${required.join(' || ')}) return SLOW;` : ''}
    return out;
  };`;
  const parser = new Function('P', 'N', 'Refusal', 'SLOW', 'nested', body)(
    parsers,
    nested,
    Refusal,
    SLOW,
    nestedSpec,
  ) as FastParser;
  Object.defineProperty(schema, COMPILED, { value: parser });
  return parser;
}

const HOT = [
  'dst',
  'gateway',
  'table',
  'family',
  'ifname',
  'address',
  'oif',
  'dev',
  'kind',
  'state',
  'mtu',
  'priority',
  'metric',
];

function hotness(key: string): number {
  const i = HOT.indexOf(key);
  return i < 0 ? HOT.length : i;
}

/** A nested schema's value: by its own fast parser, or by zod (SLOW when zod refuses it). */
function nestedSpec(schema: z.ZodType, value: unknown): unknown {
  const fast = fastSpec(schema, value);
  if (fast !== SLOW) return fast;
  const r = schema.safeParse(value);
  return r.success ? r.data : SLOW;
}

/** The last schema parsed and its parser: a batch parses one schema 100 000 times in a row. */
let lastSchema: object | undefined;
let lastParser: FastParser | undefined;

function fastSpec(schema: object, input: unknown): unknown {
  if (input === null || typeof input !== 'object') return SLOW;
  const proto = Object.getPrototypeOf(input);
  if (proto !== Object.prototype && proto !== null) return SLOW;
  let parser: FastParser | undefined;
  if (schema === lastSchema) parser = lastParser;
  else {
    parser = compiled(schema);
    lastSchema = schema;
    lastParser = parser;
  }
  return parser ? parser(input as Record<string, unknown>) : SLOW;
}

/** zod's issues as one ValidationError: the first issue names the field, the rest follow. */
export function validationError(error: z.ZodError, what: string, at?: string): ValidationError {
  const own = meant(error.issues);
  const all = at ? own.map((i) => ({ ...i, path: [...at.split('.'), ...i.path] }) as z.core.$ZodIssue) : own;
  const issues = all.slice(0, 3).map((i) => describeIssue(i, what));
  const first = all[0];
  const field = first ? fieldOf(first) : undefined;
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
  if (issue.code === 'unrecognized_keys' && issue.message.startsWith('Unrecognized key')) {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  return `${where}: ${issue.message}`;
}

function errorText(e: unknown): string {
  try {
    return e instanceof Error ? e.message : shown(e);
  } catch {
    return 'an exception';
  }
}

/** What a value looked like, for messages (never throws: BigInt, circular, symbols, huge strings). */
export function shown(value: unknown): string {
  let text: string;
  if (typeof value === 'bigint') text = `${value}n`;
  else if (typeof value === 'symbol') text = value.toString();
  else if (typeof value === 'function') text = `a function`;
  else if (typeof value === 'number')
    text = Object.is(value, -0) ? '-0' : String(value); // NaN, Infinity, -0 as themselves
  else text = boundedJson(value) ?? safeTag(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * JSON of at most a few hundred values, or undefined: an object whose parts
 * are shared (a DAG) would make JSON.stringify take exponential time.
 */
export function boundedJson(value: unknown, budget = 200): string | undefined {
  let left = budget;
  try {
    return JSON.stringify(value, (_k, v) => {
      if (--left < 0) throw new RangeError('too big to show');
      return typeof v === 'bigint' ? `${v}n` : v;
    });
  } catch {
    return undefined;
  }
}

function safeTag(value: unknown): string {
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return '(unprintable)';
  }
}

// ---------------------------------------------------------------- building field types

/** Why a field type refused a value: field parsers return one instead of throwing. */
export class Refusal {
  constructor(readonly message: string) {}
}

/**
 * A field type written as one parsing function: `parse` returns the parsed
 * value or a Refusal. One call per value and no chained refinements, which
 * is what keeps a batch of 100 000 routes fast. `I` is the TypeScript type
 * callers write (z.input), `O` what the builder gets (z.output). `undefined`
 * reaches `parse` only for a required field (`.optional()` skips it).
 * `parse` must never return a Promise: zod would take it for an asynchronous
 * parse. A field that passes objects through refuses them (see passedThrough).
 */
export function field<I, O>(parse: (value: unknown) => O | Refusal): z.ZodType<O, I> {
  // A bare transform: piping z.unknown() into it costs ten times as much per value (zod 4.6).
  const schema = z.transform((value: unknown, ctx) => {
    const out = parse(value);
    if (out instanceof Refusal) {
      ctx.addIssue({ code: 'custom', message: out.message, input: value });
      return z.NEVER;
    }
    return out;
  });
  FIELD_PARSERS.set(schema, parse);
  return schema as unknown as z.ZodType<O, I>;
}

function required(what: string): Refusal {
  return new Refusal(`${what} is required`);
}

/**
 * A spec object: unknown fields are refused (a typo is an error, never a
 * silent no-op), and the message lists the known ones. `unknown` may say it
 * differently ('not an option of bridge').
 */
export function spec<T extends z.core.$ZodLooseShape>(shape: T, unknown?: (key: string) => string) {
  const known = Object.keys(shape).sort().join(', ');
  const schema = z.strictObject(shape, {
    error: (i) => {
      if (i.code === 'invalid_type') return `expected an object, got ${shown(i.input)}`;
      if (i.code === 'unrecognized_keys') {
        const key = String(i.keys[0]);
        return unknown ? unknown(key) : `unknown field "${key}" (known: ${known})`;
      }
      return undefined;
    },
  });
  SPEC_SHAPES.set(schema, shape);
  return schema;
}

/**
 * An object a field passes through as it is (options checked later against
 * their kind): refused when it is a Promise, which zod would otherwise await.
 */
export function passedThrough<T extends object>(v: T, what: string): T | Refusal {
  return v instanceof Promise ? new Refusal(`expected ${what}, got a Promise`) : v;
}

/** The keys of `input` that `parsed` kept, in the caller's order (attribute order follows it on the wire). */
export function inInputOrder<T extends object>(input: unknown, parsed: T): T {
  if (input === null || typeof input !== 'object') return parsed;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) if (key in parsed) out[key] = (parsed as Record<string, unknown>)[key];
  return out as T;
}

// ---------------------------------------------------------------- numbers and booleans

function intParser(min: number, max: number, what = 'an integer') {
  return (v: unknown): number | Refusal => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    if (v === undefined) return required(`${what} in ${min}..${max}`);
    return new Refusal(`expected ${what} in ${min}..${max}, got ${shown(v)}`);
  };
}

/** An integer in min..max (the kernel's field width, or its accepted range). */
export function int(min: number, max: number, what?: string): z.ZodType<number, number> {
  return field(intParser(min, max, what));
}

export const u8 = int(0, 0xff);
export const u16 = int(0, 0xffff);
export const u32 = int(0, 0xffffffff);
export const s32 = int(-0x80000000, 0x7fffffff);

const U64_MAX = (1n << 64n) - 1n;

/** A u64: a safe integer, or a bigint for values above 2^53 (as the decoder gives them back). */
export const u64 = field<number | bigint, number | bigint>((v) => {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
  return new Refusal(`expected an integer in 0..2^64-1 (a bigint above 2^53), got ${shown(v)}`);
});

/** An on/off option: true or false, or 1 or 0 as the kernel reports it. Parsed into a boolean. */
export const flag = field<boolean | 0 | 1, boolean>((v) => {
  if (v === true || v === 1) return true;
  if (v === false || v === 0) return false;
  return new Refusal(`expected true or false (or 1 or 0), got ${shown(v)}`);
});

/** An on/off option sent as a u8 0 or 1 (most IFLA_*_DATA booleans). */
export const bit = field<boolean | 0 | 1, 0 | 1>((v) => {
  if (v === true || v === 1) return 1;
  if (v === false || v === 0) return 0;
  return new Refusal(`expected true or false (or 1 or 0), got ${shown(v)}`);
});

/** A netlink flag attribute (present or absent): true, or false to leave it out. */
export const presence = field<boolean, boolean>((v) =>
  typeof v === 'boolean' ? v : new Refusal(`expected true or false, got ${shown(v)}`),
);

/**
 * A name from `names` or its number (also as a decimal string, as iproute2
 * reads them: table '100'); numbers in 0..max. Parsed into the number.
 */
export function named<K extends string>(
  names: Readonly<Record<K, number>>,
  what: string,
  max = 0xff,
): z.ZodType<number, K | number | `${number}`> {
  const list = `${Object.keys(names).join(', ')}, or 0..${max}`;
  return field((v) => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return v;
    if (typeof v === 'string') {
      if (Object.hasOwn(names, v)) return names[v as K];
      if (/^(0|[1-9]\d{0,9})$/.test(v) && Number(v) <= max) return Number(v);
    }
    return new Refusal(`${shown(v)} is not a ${what} (one of ${list})`);
  });
}

/** Exactly `value` (a discriminating field such as a qdisc's kind). */
export function literal<const V extends string | number | boolean>(value: V): z.ZodType<V, V> {
  return field((v) => (v === value ? value : new Refusal(`expected ${shown(value)}, got ${shown(v)}`)));
}

/** One of `names` (exactly one of the values listed, by name or by number). */
export function choice<K extends string, N extends number>(
  names: Readonly<Record<K, N>>,
  what: string,
): z.ZodType<number, K | N> {
  const values = new Set<number>(Object.values(names));
  const list = Object.entries(names)
    .map(([k, n]) => `${k} (${n})`)
    .join(', ');
  return field((v) => {
    if (typeof v === 'string' && Object.hasOwn(names, v)) return names[v as K];
    if (typeof v === 'number' && values.has(v)) return v;
    return new Refusal(`${shown(v)} is not a ${what} (one of ${list})`);
  });
}

// ---------------------------------------------------------------- interfaces

const IFNAMSIZ = 16;

/** Why `value` is not an interface name the kernel takes (its dev_valid_name()), or undefined. */
export function ifnameProblem(value: string): string | undefined {
  if (value.length === 0) return 'an interface name cannot be empty';
  if (Buffer.byteLength(value) >= IFNAMSIZ) {
    return `"${value.slice(0, 40)}" is longer than 15 bytes, the kernel's limit for interface names`;
  }
  // The kernel stops reading a name at a NUL: 'a\0b' would name the link 'a'.
  if (value === '.' || value === '..' || /[/:\s\0]/.test(value)) {
    return `${JSON.stringify(value)} is not a valid interface name (no '/', ':', whitespace or NUL, not '.' or '..')`;
  }
  return undefined;
}

function ifnameParser(v: unknown): string | Refusal {
  if (typeof v !== 'string')
    return v === undefined ? required('an interface name') : new Refusal(`an interface name is a string, not ${shown(v)}`);
  const problem = ifnameProblem(v);
  return problem ? new Refusal(problem) : v;
}

/** An interface name: 1..15 bytes, no '/', ':', whitespace or NUL. */
export const ifname = field<string, string>(ifnameParser);

export const IFINDEX_MAX = 0x7fffffff;

/** An interface index: 1..2^31-1 (the kernel's int, 0 meaning none). */
export const ifindex = int(1, IFINDEX_MAX, 'an interface index');

/** An interface name or index, or why not. */
export function parseIfRef(v: unknown): string | number | Refusal {
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= 1 && v <= IFINDEX_MAX
      ? v
      : new Refusal(`${shown(v)} is not an interface index (1..${IFINDEX_MAX})`);
  }
  if (typeof v === 'string') return ifnameParser(v);
  return new Refusal(`expected an interface name or index, got ${shown(v)}`);
}

/** An interface by name or by index; the builder resolves names in the request's namespace. */
export const ifRef = field<string | number, string | number>(parseIfRef);

/** MTU: what the kernel accepts for any device lies in 68..2^31-1; a device may narrow it further. */
export const mtu = int(68, 0x7fffffff, 'an MTU');

/** 'up' or 'down'. */
export const linkState = field<'up' | 'down', 'up' | 'down'>((v) =>
  v === 'up' || v === 'down' ? v : new Refusal(`expected 'up' or 'down', got ${shown(v)}`),
);

// ---------------------------------------------------------------- addresses

/** 4 or 6 from 'inet'/'inet6' (also 'ipv4'/'ipv6', 4/6, AF_INET 2 / AF_INET6 10). */
export const family = field<'inet' | 'inet6' | 'ipv4' | 'ipv6' | 2 | 4 | 6 | 10, 4 | 6>((v) => {
  if (v === 'inet' || v === 'ipv4' || v === 2 || v === 4) return 4;
  if (v === 'inet6' || v === 'ipv6' || v === 10 || v === 6) return 6;
  return new Refusal(`${shown(v)} is not an address family ('inet' or 'inet6')`);
});

function familyMismatch(got: 4 | 6, want: 4 | 6 | undefined, text: string): Refusal | undefined {
  return want && got !== want ? new Refusal(`${text} is IPv${got} where IPv${want} is needed`) : undefined;
}

/** An IP address ('10.0.0.1', '2001:db8::1'), of one family when given; kept as written. */
export function ipAddress(want?: 4 | 6): z.ZodType<string, string> {
  return field((v) => {
    const bytes = typeof v === 'string' ? parseIp(v) : undefined;
    if (!bytes) return new Refusal(`${shown(v)} is not an IP address`);
    return familyMismatch(bytes.length === 4 ? 4 : 6, want, v as string) ?? (v as string);
  });
}

/** 'a/len', or a bare address meaning a host prefix; parsed into a Prefix (bytes, canonical text, length). */
export function prefix(want?: 4 | 6): z.ZodType<Prefix, string> {
  return field((v) => {
    const p = typeof v === 'string' ? parsePrefix(v) : undefined;
    if (!p) return new Refusal(`${shown(v)} is not an address or a prefix like 10.0.0.0/24`);
    return familyMismatch(p.family, want, v as string) ?? p;
  });
}

/** A prefix, or 'default' (any destination; its family then comes from elsewhere). */
export function prefixOrDefault(want?: 4 | 6): z.ZodType<Prefix | 'default', string> {
  return field((v) => {
    if (v === 'default') return 'default';
    const q = typeof v === 'string' ? parsePrefix(v) : undefined;
    if (!q) return new Refusal(`${shown(v)} is not 'default', an address or a prefix like 10.0.0.0/24`);
    return familyMismatch(q.family, want, v as string) ?? q;
  });
}

/** One address (a full-length prefix such as '10.0.0.2/32' is taken too), parsed into a Prefix. */
export function hostAddress(want?: 4 | 6): z.ZodType<Prefix, string> {
  return field((v) => {
    const p = typeof v === 'string' ? parsePrefix(v) : undefined;
    if (!p) return new Refusal(`${shown(v)} is not an IP address`);
    if (p.length !== p.bytes.length * 8) return new Refusal(`${v} is a prefix; an address is needed here`);
    return familyMismatch(p.family, want, v as string) ?? p;
  });
}

/** A 6-byte link-layer address like 02:00:00:00:00:01. */
export const mac = field<string, string>((v) =>
  typeof v === 'string' && parseMac(v)?.length === 6 ? v : new Refusal(`${shown(v)} is not a MAC address like 02:00:00:00:00:01`),
);

// ---------------------------------------------------------------- text and bytes

/** Text of at most `maxBytes` UTF-8 bytes, without NUL (the kernel would cut it there). */
export function text(maxBytes: number, what = 'text'): z.ZodType<string, string> {
  return field((v) => {
    if (typeof v !== 'string') return new Refusal(`expected ${what} (a string), got ${shown(v)}`);
    if (v.includes('\0')) return new Refusal(`${what} cannot contain a NUL character`);
    if (Buffer.byteLength(v) > maxBytes) return new Refusal(`${what} is longer than ${maxBytes} bytes`);
    return v;
  });
}

/** Raw bytes: a Buffer, or an even-length hex string; at most `maxBytes`. */
export function binary(maxBytes: number): z.ZodType<string | Buffer, string | Buffer> {
  return field((v) => {
    if (Buffer.isBuffer(v)) return v.length <= maxBytes ? v : new Refusal(`more than ${maxBytes} bytes`);
    if (typeof v === 'string' && v.length % 2 === 0 && /^[0-9a-f]*$/i.test(v)) {
      return v.length / 2 <= maxBytes ? v : new Refusal(`more than ${maxBytes} bytes`);
    }
    return new Refusal(`expected bytes as a hex string or a Buffer, got ${shown(v)}`);
  });
}

/** A list of at most `max` items of `item`. */
export function list<T extends z.ZodType>(item: T, max: number, what = 'a list') {
  return z.array(item, { error: (i) => `expected ${what}, got ${shown(i.input)}` }).max(max, `${what} of at most ${max} items`);
}

// ---------------------------------------------------------------- traffic control

/** A tc rate: '10mbit', '1gbit', '500kbps', or bits per second; parsed into bytes per second (1..2^53-1). */
export const tcRate = field<string | number, number>((v) => {
  const r = parseRate(v);
  return r ?? new Refusal(`${shown(v)} is not a rate like '10mbit', '1gbit' or bits per second (8 bit/s to 72 Pbit/s)`);
});

/** A tc size: 32768, '32kb', '1mb' (kb = 1024 bytes); parsed into bytes (0..2^32-1). */
export const tcSize = field<string | number, number>((v) => {
  const r = parseSize(v);
  return r ?? new Refusal(`${shown(v)} is not a size like 32768 or '32kb' (0 to 4 GiB)`);
});

/** A tc time: '50ms', '1s', '100us', or milliseconds; parsed into microseconds (0..2^32-1). */
export const tcTime = field<string | number, number>((v) => {
  const r = parseTime(v);
  return r ?? new Refusal(`${shown(v)} is not a time like '50ms', '1s' or milliseconds (up to 4294 s)`);
});

/** A percentage: 1, '1%', '0.5%'; parsed into the kernel's u32 probability scale. */
export const tcPercent = field<string | number, number>((v) => {
  const r = parsePercent(v);
  return r ?? new Refusal(`${shown(v)} is not a percentage in 0..100`);
});
