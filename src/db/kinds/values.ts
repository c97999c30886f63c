/** Spellings users write in filters, turned into column values. */
import { normalizeIp, parseIp, parsePrefix } from '../../backends/netlink/codec/address.js';
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
