/** What every rtnetlink object module (link, address, route, ...) provides. */
import { ValidationError } from '../../../errors.js';
import type { Prefix } from '../codec/address.js';
import type { Body, Schema } from '../codec/attributes.js';
import { NLM_F } from '../constants.js';

export type Command = 'add' | 'set' | 'replace' | 'del' | 'get' | 'dump';
export const COMMANDS: readonly Command[] = ['add', 'set', 'replace', 'del', 'get', 'dump'];

/** Name and namespace resolution a builder may need; provided by the socket's owner. */
export interface BuildContext {
  /** ifindex of an interface name (numbers pass through) in the target namespace. */
  index(nameOrIndex: string | number, field: string): Promise<number>;
  /** An open fd on a named namespace; the caller closes it after sending. */
  netnsFd(name: string): number;
}

/** A request ready to encode: message type, flags and body. */
export interface Request {
  type: number;
  flags: number;
  body: Body;
  /** kernel-side filtered dump (NETLINK_GET_STRICT_CHK) */
  strict?: boolean;
  /** A dump's client-side filter, in record terms: what the kernel does not filter itself. */
  keep?: (record: Record<string, unknown>) => boolean;
}

export interface Family<R extends object = Record<string, unknown>> {
  /** 'link', 'address', ... */
  readonly name: string;
  readonly types: { new: number; del: number; get: number };
  readonly body: Schema;
  /**
   * Spec -> request. The spec is checked against the family's zod
   * declaration for `cmd` first: anything else is a ValidationError (or a
   * LinkError for an unknown interface), thrown before any kernel call.
   */
  build(cmd: Command, spec: unknown, ctx: BuildContext): Promise<Request>;
  /** Decoded body -> the plain record users see. */
  toRecord(body: Body): R;
}

/** A dump filter's `keep`: the record matches every wanted field (already normalised to record terms). */
export function keepMatching(wanted: Record<string, unknown>): ((record: Record<string, unknown>) => boolean) | undefined {
  for (const key in wanted) if (wanted[key] !== undefined) return (record) => matchesAll(record, wanted);
  return undefined;
}

/** Request flags per command, as iproute2 sends them. */
export const NEW_FLAGS = {
  add: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
  replace: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE,
  /** `ip route change`, `ip addr change`, `ip neigh change` */
  change: NLM_F.REQUEST | NLM_F.ACK | NLM_F.REPLACE,
  del: NLM_F.REQUEST | NLM_F.ACK,
  get: NLM_F.REQUEST,
  dump: NLM_F.REQUEST | NLM_F.DUMP,
} as const;

/** Flags of a NEW/DEL request per command; `set` is iproute2's `change` (REPLACE without CREATE). */
export function flagsFor(cmd: 'add' | 'replace' | 'set' | 'del'): number {
  return cmd === 'set' ? NEW_FLAGS.change : NEW_FLAGS[cmd];
}

/** Compares a record with a normalised filter, field by field. */
export function matchesAll(record: Record<string, unknown>, wanted: Record<string, unknown>): boolean {
  for (const key in wanted) {
    const want = wanted[key];
    if (want === undefined) continue;
    const got = record[key];
    if (got === want) continue;
    if (typeof want === 'object' && JSON.stringify(got) === JSON.stringify(want)) continue;
    return false;
  }
  return true;
}

/**
 * The value of a field that has two names (priority / metric, gateway / via):
 * whichever is given; both given and disagreeing is refused.
 */
export function either<T>(a: T | undefined, b: T | undefined, aName: string, bName: string): T | undefined {
  if (b === undefined) return a;
  if (a !== undefined && !sameValue(a, b)) {
    throw new ValidationError(`${bName}: ${aName} and ${bName} are two names of one field and disagree; give one`, bName);
  }
  return b;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const p = a as Prefix;
  const q = b as Prefix;
  return Buffer.isBuffer(p?.bytes) && Buffer.isBuffer(q?.bytes) && p.length === q.length && p.bytes.equals(q.bytes);
}

/** 'inet' / 'inet6', as records name families. */
export function familyName(f: 4 | 6): 'inet' | 'inet6' {
  return f === 4 ? 'inet' : 'inet6';
}
