/** Neighbours (`ip neigh`, ARP and NDP): one row per interface and destination. */
import { bodyWithout } from '../raw.js';
import { decodeMessageBody, eq, type Kind, LINK_FIELDS, type RowValues } from './kind.js';
import { familyNumber, ipText } from './values.js';

/** Confirmed/used/updated timestamps and probe counters move with traffic, not with events. */
const NUD_NONE = 0;
const NUD_NOARP = 0x40;

const VOLATILE = new Set([3 /* NDA_CACHEINFO */, 4 /* NDA_PROBES */]);

export const neighbours: Kind = {
  name: 'neighbour',
  table: 'neighbours',
  family: 'neighbour',
  columns: [
    ['family', 'INTEGER NOT NULL'],
    ['idx', 'INTEGER NOT NULL'],
    ['dst', 'TEXT NOT NULL'],
  ],
  key: ['family', 'idx', 'dst'],
  indexes: [],
  headerLen: 12,
  row(buf, off, len): RowValues | undefined {
    const family = buf[off + 16] as number;
    // Bridge FDB entries (AF_BRIDGE) share the group; they are not neighbours.
    if (family !== 2 && family !== 10) return undefined;
    const body = decodeMessageBody('neighbour', buf, off, len);
    const a = body.attrs as { dst?: string };
    return [family, body.header.ifindex, a.dst ?? '', bodyWithout(buf, off, len, 12, VOLATILE)];
  },
  // NOARP entries (multicast and broadcast mappings) are created by the kernel with no
  // event, so they cannot be followed; `ip neigh show` hides them too, as it hides NONE.
  hidden(buf, off) {
    const state = buf.readUInt16LE(off + 16 + 8);
    return state === NUD_NONE || (state & NUD_NOARP) !== 0;
  },
  sqlFields: {
    family: eq('family', familyNumber),
    ...LINK_FIELDS,
    dst: eq('dst', (v) => ipText(v, 'dst')),
  },
};
