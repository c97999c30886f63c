/**
 * Queueing disciplines (`tc qdisc`): the root one and the ingress (or
 * clsact) one of each interface, a row each. Qdiscs under classes (an htb's
 * leaves) and the per-queue children of mq are not kept: class hierarchies
 * are not modelled.
 *
 * A link that was never up (or lost its root while down) has the kernel's
 * built-in `noop` root, which no dump or event shows: it has no row. The
 * default root a link gets when it comes up (noqueue for a veth) has
 * handle 0: and comes with no event (see Source's tc refresh).
 */
import { RTM_DELQDISC, TC_H_INGRESS, TC_H_ROOT, TCA_COUNTERS } from '../../backends/netlink/families/qdisc.js';
import { ValidationError } from '../../errors.js';
import { bodyWithout, forEachAttr } from '../raw.js';
import { byIfname, eq, type Kind, type RowValues } from './kind.js';

/** struct tcmsg */
export const TCMSG_LEN = 20;
/** tcm_info of a qdisc is its reference count: it moves with filters and classes, not with the qdisc. */
const INFO_AT = 16;
const TCA_KIND = 1;

/** TCA_KIND of a message (header included). */
export function tcKind(buf: Buffer, off: number, len: number): string {
  let kind = '';
  forEachAttr(buf, off + 16 + TCMSG_LEN, off + len, (type, at, alen) => {
    if (type !== TCA_KIND) return;
    let end = at + alen;
    while (end > at && buf[end - 1] === 0) end--;
    kind = buf.toString('utf8', at, end);
  });
  return kind;
}

/** 'root', 'ingress' ('clsact' too: it sits where ingress does) or the u32. */
function parentColumn(value: unknown): number {
  if (value === 'root') return TC_H_ROOT;
  if (value === 'ingress' || value === 'clsact') return TC_H_INGRESS;
  if (typeof value === 'number' && Number.isInteger(value)) return value >>> 0;
  throw new ValidationError(`parent: ${JSON.stringify(value)} is not 'root' or 'ingress'`, 'parent');
}

/** '1:', '8001:', 'ffff:', '0:' (hex, as tc writes them) or the u32. */
function handleColumn(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value >>> 0;
  const m = typeof value === 'string' ? /^([0-9a-f]{1,4}):([0-9a-f]{0,4})$/i.exec(value) : null;
  if (!m) throw new ValidationError(`handle: ${JSON.stringify(value)} is not a handle like '1:'`, 'handle');
  return ((Number.parseInt(m[1] as string, 16) << 16) | Number.parseInt(m[2] || '0', 16)) >>> 0;
}

/** What any traffic control record is found by: its link (index or name) and its kind. */
export const TC_LINK_FIELDS: Kind['sqlFields'] = {
  index: eq('idx'),
  ifindex: eq('idx'),
  ifname: byIfname('idx'),
  dev: byIfname('idx'),
  kind: eq('kind'),
};

export const qdiscs: Kind = {
  name: 'qdisc',
  table: 'qdiscs',
  family: 'qdisc',
  columns: [
    ['idx', 'INTEGER NOT NULL'],
    ['parent', 'INTEGER NOT NULL'],
    ['handle', 'INTEGER NOT NULL'],
    ['kind', 'TEXT NOT NULL'],
  ],
  key: ['idx', 'parent'],
  indexes: [],
  headerLen: TCMSG_LEN,
  row(buf, off, len): RowValues | undefined {
    const at = off + 16;
    const parent = buf.readUInt32LE(at + 12);
    if (parent !== TC_H_ROOT && parent !== TC_H_INGRESS) return undefined;
    const body = bodyWithout(buf, off, len, TCMSG_LEN, TCA_COUNTERS);
    body.writeUInt32LE(0, INFO_AT);
    return [buf.readInt32LE(at + 4), parent, buf.readUInt32LE(at + 8), tcKind(buf, off, len), body];
  },
  // An ingress or clsact qdisc deleted takes its filters, with no message for them.
  cascade(buf, off) {
    const at = off + 16;
    if (buf.readUInt16LE(off + 4) !== RTM_DELQDISC || buf.readUInt32LE(at + 12) !== TC_H_INGRESS) return [];
    return [{ kind: 'filter', where: 'idx = ?', params: [buf.readInt32LE(at + 4)] }];
  },
  recordFields: ['ifname', 'index', 'rate', 'burst', 'limit', 'delay', 'jitter', 'loss', 'default', 'forward'],
  sqlFields: {
    ...TC_LINK_FIELDS,
    parent: eq('parent', parentColumn),
    handle: eq('handle', handleColumn),
    /** The kernel's own root (handle 0:), not one anybody added. */
    default: (v) => ({ sql: v ? 't.handle = 0' : 't.handle != 0', params: [] }),
  },
};
