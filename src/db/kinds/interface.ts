/** Interfaces (`ip link`): one row per ifindex and namespace. */

import { readLink } from '../../backends/netlink/families/link-bytes.js';
import { ValidationError } from '../../errors.js';
import { bodyWithout } from '../raw.js';
import { byIfname, eq, type Kind, type RowValues } from './kind.js';

const AF_UNSPEC = 0;
const IFF_UP = 1;

/**
 * Attributes left out of the stored body: counters (stats, stats64, the
 * per-family stats inside af_spec), the qdisc (a qdisc change sends no link
 * event), and what only notifications carry (the event reason, the netns ids
 * and new index of a move).
 */
const VOLATILE = new Set([
  6 /* QDISC */, 7 /* STATS */, 23 /* STATS64 */, 26 /* AF_SPEC */, 44 /* EVENT */, 45 /* NEW_NETNSID */, 46 /* IF_NETNSID */,
  49 /* NEW_IFINDEX */,
]);

/** The interface a name or index spec means: an index column value or an ifname. */
function ifindexOrName(value: unknown): { sql: string; params: unknown[] } {
  if (typeof value === 'number') return { sql: 't.idx = ?', params: [value] };
  return { sql: 't.ifname = ?', params: [String(value)] };
}

export const interfaces: Kind = {
  name: 'interface',
  table: 'interfaces',
  family: 'link',
  columns: [
    ['idx', 'INTEGER NOT NULL'],
    ['ifname', 'TEXT NOT NULL'],
    ['kind', 'TEXT'],
    ['master', 'INTEGER'],
    ['link', 'INTEGER'],
    ['flags', 'INTEGER NOT NULL'],
  ],
  key: ['idx'],
  indexes: [['ifname'], ['master']],
  headerLen: 16,
  row(buf, off, len): RowValues | undefined {
    // Only AF_UNSPEC messages describe the link. A bridge reports its ports with family
    // AF_BRIDGE (and its RTM_DELLINK means "left the bridge", not "deleted"); IPv6 sends
    // partial RTM_NEWLINKs of family AF_INET6 (addrconf state), even for a link being
    // unregistered: taken for link records, they bring deleted links back.
    if (buf[off + 16] !== AF_UNSPEC) return undefined;
    const link = readLink(buf, off + 16, off + len);
    return [
      link.index,
      link.ifname ?? '',
      link.kind ?? null,
      link.master ?? null,
      link.link ?? null,
      link.flags >>> 0,
      bodyWithout(buf, off, len, 16, VOLATILE),
    ];
  },
  recordFields: ['state', 'kind', 'data', 'slave_kind', 'slave_data', 'altnames', 'ipaddr'],
  sqlFields: {
    index: eq('idx'),
    ifindex: eq('idx'),
    ifname: eq('ifname'),
    kind: eq('kind'),
    link: byIfname('link'),
    master: byIfname('master'),
    state: (v) => {
      if (v !== 'up' && v !== 'down') throw new ValidationError(`state: "${String(v)}" is not up or down`, 'state');
      return { sql: `(t.flags & ${IFF_UP}) ${v === 'up' ? '!=' : '='} 0`, params: [] };
    },
    dev: ifindexOrName,
  },
};
