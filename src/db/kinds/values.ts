/** Spellings users write in filters, turned into column values. */
import { normalizeIp, parseIp, parsePrefix } from '../../backends/netlink/codec/address.js';
import { FAMILY_NAMES } from '../../backends/netlink/constants.js';
import { ValidationError } from '../../errors.js';
import { prefixKey } from '../raw.js';

const FAMILIES: Record<string, number> = { inet: 2, inet6: 10, ipv4: 2, ipv6: 10, '4': 2, '6': 10 };

/** 'inet' | 'inet6' | 4 | 6 | 2 | 10 → AF_INET / AF_INET6 */
export function familyNumber(value: unknown): number {
  if (value === 2 || value === 10) return value;
  const n = FAMILIES[String(value)];
  if (n === undefined) throw new ValidationError(`family: ${JSON.stringify(value)} is not inet or inet6`, 'family');
  return n;
}

export function ipText(value: unknown, field: string): string {
  const text = typeof value === 'string' ? normalizeIp(value) : undefined;
  if (text === undefined) throw new ValidationError(`${field}: ${JSON.stringify(value)} is not an IP address`, field);
  return text;
}

/** An address as the route columns store it (IPv4 integer, IPv6 bytes). */
export function ipColumn(value: unknown, field: string): number | Buffer {
  const bytes = typeof value === 'string' ? parseIp(value) : undefined;
  if (!bytes) throw new ValidationError(`${field}: ${JSON.stringify(value)} is not an IP address`, field);
  return prefixKey(bytes, bytes.length === 4 ? 2 : 10, -1);
}

/**
 * A prefix ('10.0.0.0/8', a bare address, or 'default') as the key values it
 * may have: one per family for 'default', else one.
 */
export function prefixColumns(value: unknown, field: string): { family: number; key: number | Buffer }[] {
  if (value === 'default' || value === 'any') {
    return [
      { family: 2, key: prefixKey(undefined, 2, 0) },
      { family: 10, key: prefixKey(undefined, 10, 0) },
    ];
  }
  const p = typeof value === 'string' ? parsePrefix(value) : undefined;
  if (!p)
    throw new ValidationError(`${field}: ${JSON.stringify(value)} is not a prefix (a.b.c.d/len, x::/len or default)`, field);
  const family = p.bytes.length === 4 ? 2 : 10;
  return [{ family, key: prefixKey(p.bytes, family, p.length) }];
}

/**
 * The key column of one prefix of a known family ('10.1.0.0/16', 'default'),
 * as the route rows hold it. Dotted-quad prefixes are read without a
 * library call or a buffer: this runs once per route of a 100 000-route commit.
 */
export function prefixColumn(family: 2 | 10, text: string): number | Buffer {
  if (family === 2) {
    const key = ipv4PrefixKey(text);
    if (key !== undefined) return key;
  }
  const alts = prefixColumns(text, 'dst');
  return (alts.find((a) => a.family === family) ?? (alts[0] as { key: number | Buffer })).key;
}

/** 'a.b.c.d/len' as address * 256 + len (the IPv4 route key); undefined for anything else. */
function ipv4PrefixKey(text: string): number | undefined {
  let address = 0;
  let part = 0;
  let parts = 0;
  let digits = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else if (c === 46 /* . */ || c === 47 /* / */) {
      if (digits === 0) return undefined;
      address = address * 256 + part;
      part = 0;
      digits = 0;
      parts++;
      if (c === 47) break;
      if (parts > 3) return undefined;
    } else {
      return undefined;
    }
  }
  if (parts !== 4 || i >= text.length) return undefined;
  let length = 0;
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57 || ++digits > 2) return undefined;
    length = length * 10 + (c - 48);
  }
  if (digits === 0 || length > 32) return undefined;
  return address * 256 + length;
}

/**
 * "Any family", spelt so that SQLite can use the (ns, family, idx, ...) keys
 * of addresses and neighbours to find one link's rows: with no family named
 * it walks every row of the namespace instead.
 */
export const ANY_FAMILY = `family IN (${Object.keys(FAMILY_NAMES).join(', ')})`;
