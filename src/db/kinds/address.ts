/** Addresses (`ip address`): one row per interface, address and prefix length. */
import { FAMILY_NAMES } from '../../backends/netlink/constants.js';
import { bodyWithout } from '../raw.js';
import { decodeMessageBody, eq, type Kind, LINK_FIELDS, type RowValues } from './kind.js';
import { familyNumber, ipText } from './values.js';

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
