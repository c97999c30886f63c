/**
 * Addresses and prefixes as a lab file writes them, read through the
 * project's own address schema (the same rules as every other spec), and
 * the subnet arithmetic the checks need.
 */
import { prefix } from '../../backends/schema.js';

/** An address or prefix read: normalised text, family, length and bytes. */
export interface Cidr {
  /** 'address/length', normalised: '2001:db8::1/64'. */
  text: string;
  address: string;
  family: 4 | 6;
  length: number;
  bytes: Buffer;
}

const anyPrefix = prefix();

/** 'a/len' (or a bare address, when `bareAllowed`), of `family` when given; or why not. */
export function readCidr(value: unknown, family: 4 | 6 | undefined, bareAllowed: boolean): Cidr | { problem: string } {
  if (typeof value !== 'string') return { problem: `expected an address like ${example(family)}, got ${JSON.stringify(value)}` };
  const r = anyPrefix.safeParse(value.trim());
  if (!r.success) return { problem: `"${value}" is not an address like ${example(family)}` };
  const p = r.data;
  if (family && p.family !== family) {
    return { problem: `${value} is an IPv${p.family} address in an ipv${family} field` };
  }
  if (!bareAllowed && !value.includes('/')) {
    return { problem: `${value} needs a prefix length, like ${p.address}/${p.family === 4 ? 24 : 64}` };
  }
  return { text: `${p.address}/${p.length}`, address: p.address, family: p.family, length: p.length, bytes: p.bytes };
}

function example(family: 4 | 6 | undefined): string {
  return family === 6 ? '2001:db8::1/64' : '10.0.0.1/24';
}

/** Whether the first `length` bits of `a` and `b` are equal. */
export function samePrefix(a: Buffer, b: Buffer, length: number): boolean {
  if (a.length !== b.length) return false;
  const whole = Math.floor(length / 8);
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = length % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole] as number) & mask) === ((b[whole] as number) & mask);
}

/** Whether `address` lies in the subnet of interface address `on` (its address and prefix length). */
export function inSubnet(address: Cidr, on: Cidr): boolean {
  return address.family === on.family && samePrefix(address.bytes, on.bytes, on.length);
}

/** Whether any bit after the first `length` is set (a route's destination must not have any). */
export function hostBitsSet(c: Cidr): boolean {
  for (let bit = c.length; bit < c.bytes.length * 8; bit++) {
    if (((c.bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
}

/** The prefix with its host bits cleared: 10.0.1.5/24 -> 10.0.1.0/24. */
export function networkOf(c: Cidr): string {
  const bytes = Buffer.from(c.bytes);
  for (let bit = c.length; bit < bytes.length * 8; bit++) bytes[bit >> 3] = (bytes[bit >> 3] as number) & ~(1 << (7 - (bit & 7)));
  return `${c.family === 4 ? [...bytes].join('.') : (readCidr(ipv6Text(bytes), 6, true) as Cidr).address}/${c.length}`;
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** IPv4 only: whether this is the network or broadcast address of its subnet (prefixes up to /30). */
export function isNetworkOrBroadcast(c: Cidr): boolean {
  if (c.family !== 4 || c.length > 30) return false;
  let allZero = true;
  let allOne = true;
  for (let bit = c.length; bit < 32; bit++) {
    const set = ((c.bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1;
    if (set) allZero = false;
    else allOne = false;
  }
  return allZero || allOne;
}

/** fe80::/10 */
export function isLinkLocal(c: Cidr): boolean {
  return c.family === 6 && c.bytes[0] === 0xfe && ((c.bytes[1] as number) & 0xc0) === 0x80;
}
