/**
 * Routes (`ip route`): one row per kernel identity — family, table,
 * destination, source prefix, tos, priority, type, and for IPv6 the device
 * (the gateway is not part of it). Read straight from the message bytes:
 * this runs a million times when a full routing table is loaded.
 */
import { ROUTE_TYPES } from '../../backends/netlink/families/names.js';
import { tableNumber } from '../../backends/netlink/families/route.js';
import { bodyWithout, forEachAttr, ipKey, NLMSG_HDRLEN, prefixKey } from '../raw.js';
import { byIfname, eq, type FieldToSql, type Kind, type RowValues } from './kind.js';
import { familyNumber, ipColumn, prefixColumns } from './values.js';

const RTA_DST = 1;
const RTA_SRC = 2;
const RTA_OIF = 4;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_MULTIPATH = 9;
const RTA_CACHEINFO = 12;
const RTA_TABLE = 15;
const RTMSG_LEN = 12;

/** Usage counters and timers of IPv6 routes change with traffic, not with events. */
const VOLATILE = new Set([RTA_CACHEINFO]);

/** Where each attribute of the message being read sits: offset and length by RTA_* type (-1: absent). */
const RTA_MAX = 32;
const at = new Int32Array(RTA_MAX).fill(-1);
const len = new Int32Array(RTA_MAX);

function scan(type: number, offset: number, length: number): void {
  if (type < RTA_MAX) {
    at[type] = offset;
    len[type] = length;
  }
}

const u32 = (buf: Buffer, type: number, absent: number): number =>
  (at[type] as number) < 0 ? absent : buf.readUInt32LE(at[type] as number);

/** A prefix attribute (RTA_DST/RTA_SRC) and its length from the header, as a key column. */
function keyOf(buf: Buffer, type: number, family: number, plen: number): number | Buffer {
  const offset = at[type] as number;
  return offset < 0 ? prefixKey(undefined, family, plen) : ipKey(buf, offset, len[type] as number, plen);
}

function prefixField(column: string): FieldToSql {
  return (value) => {
    const alts = prefixColumns(value, column);
    return {
      sql: `(${alts.map(() => `(t.family = ? AND t.${column} = ?)`).join(' OR ')})`,
      params: alts.flatMap((a) => [a.family, a.key]),
    };
  };
}

export const routes: Kind = {
  name: 'route',
  table: 'routes',
  family: 'route',
  columns: [
    ['family', 'INTEGER NOT NULL'],
    ['tbl', 'INTEGER NOT NULL'],
    ['dst', 'NOT NULL'],
    ['src', 'NOT NULL'],
    ['tos', 'INTEGER NOT NULL'],
    ['priority', 'INTEGER NOT NULL'],
    ['type', 'INTEGER NOT NULL'],
    ['dev', 'INTEGER NOT NULL'],
    ['oif', 'INTEGER'],
    ['prefsrc', ''],
  ],
  // The kernel keeps routes to one prefix through different devices apart: IPv6 does
  // (fe80::/64 on every link, same metric), and so does IPv4 when a route is appended
  // (two links with addresses in one subnet each get a connected route to it). The device
  // is part of the row's identity; a replace that moves a route to another device says so
  // (NLM_F_REPLACE), and the applier drops the row it replaced.
  // Table first: `list({ table })` and `get(dst)` (table main) walk the index from there.
  key: ['tbl', 'family', 'dst', 'src', 'tos', 'priority', 'type', 'dev'],
  indexes: [['oif'], ['prefsrc']],
  headerLen: RTMSG_LEN,
  row(buf, off, length): RowValues | undefined {
    const h = off + NLMSG_HDRLEN;
    const family = buf[h] as number;
    if (family !== 2 && family !== 10) return undefined; // multicast routing tables (ipmr) are not kept
    at.fill(-1);
    forEachAttr(buf, h + RTMSG_LEN, off + length, scan);
    const oif = u32(buf, RTA_OIF, -1);
    return [
      family,
      u32(buf, RTA_TABLE, buf[h + 4] as number),
      keyOf(buf, RTA_DST, family, buf[h + 1] as number),
      keyOf(buf, RTA_SRC, family, buf[h + 2] as number),
      buf[h + 3],
      u32(buf, RTA_PRIORITY, 0),
      buf[h + 7],
      Math.max(oif, 0),
      oif >= 0 ? oif : null,
      (at[RTA_PREFSRC] as number) < 0 ? null : ipKey(buf, at[RTA_PREFSRC] as number, len[RTA_PREFSRC] as number),
      (at[RTA_CACHEINFO] as number) < 0 ? buf.subarray(h, off + length) : bodyWithout(buf, off, length, RTMSG_LEN, VOLATILE),
    ];
  },
  extraOifs: multipathOifs,
  recordFields: ['dev'],
  sqlFields: {
    family: eq('family', familyNumber),
    table: (v) => (v === 'all' ? { sql: '1', params: [] } : eq('tbl', tableNumber)(v)),
    dst: prefixField('dst'),
    src: prefixField('src'),
    tos: eq('tos'),
    priority: eq('priority'),
    metric: eq('priority'),
    type: eq('type', (v) => ROUTE_TYPES.number(v, 'type')),
    oif: byIfname('oif'),
    dev: byIfname('oif'),
    ifname: byIfname('oif'),
    prefsrc: eq('prefsrc', (v) => ipColumn(v, 'prefsrc')),
  },
};

/** RTA_MULTIPATH hops' interface indexes (for cascades on a link's removal). */
export function multipathOifs(body: Buffer): number[] {
  const oifs: number[] = [];
  forEachAttr(body, RTMSG_LEN, body.length, (type, at, len) => {
    if (type !== RTA_MULTIPATH) return;
    let p = at;
    while (p + 8 <= at + len) {
      const hlen = body.readUInt16LE(p);
      if (hlen < 8) break;
      oifs.push(body.readInt32LE(p + 4));
      p += (hlen + 3) & ~3;
    }
  });
  return oifs;
}
