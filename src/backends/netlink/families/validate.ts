/**
 * Checks for code that validates field by field (the transaction layer's
 * staging calls); each throws a ValidationError naming the field. The Rtnl
 * builders declare their specs with zod instead (../../schema.ts), and these
 * checks share its rules and its BigInt-safe messages.
 */
import { ValidationError } from '../../../errors.js';
import { ifnameProblem, shown } from '../../schema.js';
import { type Prefix, parseIp, parseMac, parsePrefix } from '../codec/address.js';

/** As the kernel's dev_valid_name(): 1..15 bytes, not '.'/'..', no '/', ':', whitespace or NUL. */
export function checkIfname(value: unknown, field = 'ifname'): string {
  if (typeof value !== 'string') {
    throw new ValidationError(`${field}: an interface name must be a non-empty string, got ${shown(value)}`, field);
  }
  const problem = ifnameProblem(value);
  if (problem) throw new ValidationError(`${field}: ${problem}`, field);
  return value;
}

export function checkInt(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${field}: expected an integer in ${min}..${max}, got ${shown(value)}`, field);
  }
  return value;
}

export const U8 = 0xff;
export const U16 = 0xffff;
export const U32 = 0xffffffff;

/** MTU: what the kernel accepts for any device lies in 68..2^31-1; a device may narrow it further. */
export function checkMtu(value: unknown, field = 'mtu'): number {
  return checkInt(value, field, 68, 0x7fffffff);
}

export function checkMac(value: unknown, field: string): string {
  const bytes = typeof value === 'string' ? parseMac(value) : undefined;
  if (bytes?.length !== 6) {
    throw new ValidationError(`${field}: ${shown(value)} is not a MAC address like 02:00:00:00:00:01`, field);
  }
  return value as string;
}

export function checkIp(value: unknown, field: string, family?: 4 | 6): string {
  const bytes = typeof value === 'string' ? parseIp(value) : undefined;
  if (!bytes) throw new ValidationError(`${field}: ${shown(value)} is not an IP address`, field);
  const got = bytes.length === 4 ? 4 : 6;
  if (family && got !== family) {
    throw new ValidationError(`${field}: ${value} is an IPv${got} address where IPv${family} is needed`, field);
  }
  return value as string;
}

/** 'a/len', or a bare address meaning a host prefix. */
export function checkPrefix(value: unknown, field: string, family?: 4 | 6): Prefix {
  const p = typeof value === 'string' ? parsePrefix(value) : undefined;
  if (!p) throw new ValidationError(`${field}: ${shown(value)} is not an address or a prefix like 10.0.0.0/24`, field);
  if (family && p.family !== family) {
    throw new ValidationError(`${field}: ${value} is IPv${p.family} where IPv${family} is needed`, field);
  }
  return p;
}

/** Refuses keys a builder does not know, so a typo is an error and not a silent no-op. */
export function checkKnownKeys(spec: object, known: ReadonlySet<string>, what: string): void {
  for (const key of Object.keys(spec)) {
    if (!known.has(key)) {
      throw new ValidationError(`${what}: unknown field "${key}" (known: ${[...known].sort().join(', ')})`, key);
    }
  }
}

export function checkObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(`${what}: expected an object, got ${shown(value)}`);
  }
  return value as Record<string, unknown>;
}

/** 4 or 6 from 'inet'/'inet6', 2/10, 4/6. */
export function checkFamily(value: unknown, field = 'family'): 4 | 6 {
  if (value === 'inet' || value === 2 || value === 4 || value === 'ipv4') return 4;
  if (value === 'inet6' || value === 10 || value === 6 || value === 'ipv6') return 6;
  throw new ValidationError(`${field}: ${shown(value)} is not an address family ('inet' or 'inet6')`, field);
}
