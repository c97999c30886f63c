/** Addresses (`ip address`): one row per interface, address and prefix length. */
import { FAMILY_NAMES } from '../../backends/netlink/constants.js';
import { bodyWithout } from '../raw.js';
import { byIfname, decodeMessageBody, eq, type Kind, type RowValues } from './kind.js';
import { familyNumber } from './values.js';

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
    index: eq('idx'),
    ifindex: eq('idx'),
    ifname: byIfname('idx'),
    dev: (v) => (typeof v === 'number' ? eq('idx')(v) : byIfname('idx')(v)),
    prefixlen: eq('prefixlen'),
    address: (v) => {
      const [addr, plen] = String(v).split('/');
      if (plen === undefined) return { sql: 't.address = ?', params: [addr] };
      return { sql: 't.address = ? AND t.prefixlen = ?', params: [addr, Number(plen)] };
    },
  },
};
