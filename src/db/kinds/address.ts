/** Addresses (`ip address`): one row per interface, address and prefix length. */

import { parseIp, parsePrefix } from '../../backends/netlink/codec/address.js';
import { FAMILY_NAMES } from '../../backends/netlink/constants.js';
import { ValidationError } from '../../errors.js';
import { bodyWithout } from '../raw.js';
import { decodeMessageBody, eq, type Kind, LINK_FIELDS, type RowValues } from './kind.js';
import { familyNumber, ipText } from './values.js';

/** Whether the first `bits` bits of two addresses are the same. */
function samePrefix(a: Buffer, b: Buffer, bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const n = Math.min(8, bits - i);
    const mask = (0xff << (8 - n)) & 0xff;
    if (((a[i >> 3] as number) & mask) !== ((b[i >> 3] as number) & mask)) return false;
  }
  return true;
}

const NONE = new Set<number>();

export const addresses: Kind = {
  name: 'address',
  table: 'addresses',
  family: 'address',
  columns: [
    ['family', 'INTEGER NOT NULL'],
    ['idx', 'INTEGER NOT NULL'],
    ['address', 'TEXT NOT NULL'],
    ['prefixlen', 'INTEGER NOT NULL'],
  ],
  key: ['family', 'idx', 'address', 'prefixlen'],
  indexes: [['address']],
  headerLen: 8,
  row(buf, off, len): RowValues | undefined {
    const family = buf[off + 16] as number;
    if (!FAMILY_NAMES[family]) return undefined;
    const body = decodeMessageBody('address', buf, off, len);
    const a = body.attrs as { local?: string; address?: string };
    return [family, body.header.index, a.local ?? a.address ?? '', body.header.prefixlen, bodyWithout(buf, off, len, 8, NONE)];
  },
  recordFields: ['index', 'scope', 'flags', 'valid_lft', 'preferred_lft', 'family', 'prefixlen'],
  recordTests: {
    /** Addresses inside a prefix: `{ network: '10.0.0.0/24' }` (IPDB's wait for an address in a net). */
    network: (value) => {
      const net = parsePrefix(String(value));
      if (!net) throw new ValidationError(`network: ${JSON.stringify(value)} is not a prefix like 10.0.0.0/24`, 'network');
      return (rec) => {
        const a = parseIp(String(rec.local ?? rec.address));
        return a !== undefined && a.length === net.bytes.length && samePrefix(a, net.bytes, net.length);
      };
    },
  },
  sqlFields: {
    family: eq('family', familyNumber),
    ...LINK_FIELDS,
    prefixlen: eq('prefixlen'),
    // Compared in the kernel's spelling, so '2001:DB8::0001' finds 2001:db8::1.
    address: (v) => {
      const [addr, plen] = String(v).split('/');
      const text = ipText(addr, 'address');
      if (plen === undefined) return { sql: 't.address = ?', params: [text] };
      return { sql: 't.address = ? AND t.prefixlen = ?', params: [text, Number(plen)] };
    },
  },
};
