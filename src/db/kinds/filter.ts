/**
 * Filters (`tc filter`) of the ingress qdisc and of clsact's two blocks: a
 * row per filter (for u32, per key node: its hash tables and the priority's
 * own entry are bookkeeping). Filters of classful root qdiscs are not kept.
 *
 * The kernel names a filter's parent as its requester did (`parent ffff:` or
 * `ingress`): rows say 'ingress' (ffff:fff2) or 'egress' (ffff:fff3). It
 * announces filters added and deleted, but not the filters that go with
 * their qdisc or their link, nor those of a whole priority deleted at once
 * (one message without a handle): those are cascades.
 */
import {
  FILTER_PARENT_EGRESS,
  FILTER_PARENT_INGRESS,
  FILTER_PROTOCOLS,
  filterInfo,
  TC_H_MIN_EGRESS,
} from '../../backends/netlink/families/filter.js';
import { TCA_COUNTERS } from '../../backends/netlink/families/qdisc.js';
import { ValidationError } from '../../errors.js';
import { bodyWithout, forEachAttr } from '../raw.js';
import { eq, type Kind, type RowValues } from './kind.js';
import { TC_LINK_FIELDS, TCMSG_LEN, tcKind } from './qdisc.js';

const TC_H_MAJ_INGRESS = 0xffff0000;
const TC_H_INGRESS = 0xfffffff1;
const PARENT_AT = 12;
const TCA_OPTIONS = 2;
const TCA_U32_ACT = 7;
const TCA_U32_PCNT = 9;
const TCA_ACT_KIND = 1;
const TCA_ACT_OPTIONS = 2;
const TCA_ACT_STATS = 4;
const TCA_MIRRED_TM = 1;
const TCA_MIRRED_PARMS = 2;
/** refcnt and bindcnt inside struct tc_mirred: they count other filters using the action. */
const MIRRED_COUNTS = [12, 20] as const;

/** The block a parent names: clsact's egress, or the ingress one (the ingress qdisc's, clsact's ingress). */
export function filterParentOf(parent: number): number | undefined {
  if ((parent & 0xffff0000) >>> 0 !== TC_H_MAJ_INGRESS) return undefined;
  return (parent & 0xffff) === TC_H_MIN_EGRESS ? FILTER_PARENT_EGRESS : FILTER_PARENT_INGRESS;
}

function zero(buf: Buffer, at: number, len: number): void {
  buf.fill(0, at, at + len);
}

/** Counters, timestamps and use counts inside the options move with traffic, with no event: zeroed. */
function quiet(body: Buffer, kind: string): void {
  forEachAttr(body, TCMSG_LEN, body.length, (type, at, len) => {
    if (type !== TCA_OPTIONS || kind !== 'u32') return;
    forEachAttr(body, at, at + len, (t, a, l) => {
      if (t === TCA_U32_PCNT) zero(body, a, l);
      if (t === TCA_U32_ACT) forEachAttr(body, a, a + l, (_order, x, xl) => quietAction(body, x, xl));
    });
  });
}

function quietAction(body: Buffer, at: number, len: number): void {
  let kind = '';
  forEachAttr(body, at, at + len, (type, a, l) => {
    if (type === TCA_ACT_KIND) kind = body.toString('utf8', a, a + l).replace(/\0+$/, '');
  });
  forEachAttr(body, at, at + len, (type, a, l) => {
    if (type === TCA_ACT_STATS) zero(body, a, l);
    if (type !== TCA_ACT_OPTIONS || kind !== 'mirred') return;
    forEachAttr(body, a, a + l, (t, x, xl) => {
      if (t === TCA_MIRRED_TM) zero(body, x, xl);
      if (t === TCA_MIRRED_PARMS && xl >= 28) for (const o of MIRRED_COUNTS) body.writeUInt32LE(0, x + o);
    });
  });
}

function parentColumn(value: unknown): number {
  if (value === 'ingress') return FILTER_PARENT_INGRESS;
  if (value === 'egress') return FILTER_PARENT_EGRESS;
  throw new ValidationError(`parent: ${JSON.stringify(value)} is not 'ingress' or 'egress'`, 'parent');
}

export const filters: Kind = {
  name: 'filter',
  table: 'filters',
  family: 'filter',
  columns: [
    ['idx', 'INTEGER NOT NULL'],
    ['parent', 'INTEGER NOT NULL'],
    /** tcm_info: the priority and protocol. */
    ['info', 'INTEGER NOT NULL'],
    ['handle', 'INTEGER NOT NULL'],
    ['kind', 'TEXT NOT NULL'],
  ],
  key: ['idx', 'parent', 'info', 'handle'],
  indexes: [],
  headerLen: TCMSG_LEN,
  row(buf, off, len): RowValues | undefined {
    const at = off + 16;
    const parent = filterParentOf(buf.readUInt32LE(at + PARENT_AT));
    const handle = buf.readUInt32LE(at + 8);
    if (parent === undefined || handle === 0) return undefined;
    const kind = tcKind(buf, off, len);
    // u32's hash tables (800:) are its own bookkeeping; its filters are the key nodes (800::800).
    if (kind === 'u32' && (handle & 0xfff) === 0) return undefined;
    const body = bodyWithout(buf, off, len, TCMSG_LEN, TCA_COUNTERS);
    body.writeUInt32LE(parent, PARENT_AT);
    quiet(body, kind);
    return [buf.readInt32LE(at + 4), parent, buf.readUInt32LE(at + 16), handle, kind, body];
  },
  cascade(buf, off) {
    const at = off + 16;
    const type = buf.readUInt16LE(off + 4);
    const index = buf.readInt32LE(at + 4);
    const parent = filterParentOf(buf.readUInt32LE(at + PARENT_AT));
    // RTM_DELTFILTER without a handle: a whole priority went.
    if (type !== 45 || parent === undefined || buf.readUInt32LE(at + 8) !== 0) return [];
    const info = buf.readUInt32LE(at + 16);
    // Without a protocol, every protocol of that priority.
    if ((info & 0xffff) === 0) {
      return [{ kind: 'filter', where: 'idx = ? AND parent = ? AND (info >> 16) = ?', params: [index, parent, info >>> 16] }];
    }
    return [{ kind: 'filter', where: 'idx = ? AND parent = ? AND info = ?', params: [index, parent, info] }];
  },
  dumpSpecs(read, ns) {
    const specs: Record<string, unknown>[] = [];
    for (const q of read('SELECT idx, kind FROM qdiscs WHERE ns = ? AND parent = ?', ns, TC_H_INGRESS)) {
      // ffff:fff2 names the ingress block of both (clsact has no block under ffff:0).
      specs.push({ index: q.idx, parent: FILTER_PARENT_INGRESS });
      if (q.kind === 'clsact') specs.push({ index: q.idx, parent: FILTER_PARENT_EGRESS });
    }
    return specs;
  },
  recordFields: ['ifname', 'index', 'match', 'actions', 'forward'],
  sqlFields: {
    ...TC_LINK_FIELDS,
    parent: eq('parent', parentColumn),
    priority: (v) => ({ sql: '(t.info >> 16) = ?', params: [Number(v)] }),
    protocol: (v) => {
      const p = typeof v === 'string' ? FILTER_PROTOCOLS[v] : typeof v === 'number' ? v : undefined;
      if (p === undefined) throw new ValidationError(`protocol: ${JSON.stringify(v)} is not a protocol`, 'protocol');
      return { sql: '(t.info & 65535) = ?', params: [filterInfo(0, p)] };
    },
  },
};

/**
 * The device a filter forwards everything to, as DummyNet's forward() makes
 * it: a match-all u32 (every key's mask 0) whose only action redirects to a
 * device's egress. Undefined for any other filter.
 */
export function forwardTarget(rec: Readonly<Record<string, unknown>>): number | undefined {
  if (rec.kind !== 'u32') return undefined;
  const keys = (rec.match as { mask: number }[] | undefined) ?? [];
  const actions = (rec.actions as { kind: string; action?: string; direction?: string; ifindex?: number }[] | undefined) ?? [];
  if (keys.some((k) => k.mask !== 0) || actions.length !== 1) return undefined;
  const a = actions[0] as (typeof actions)[number];
  return a.kind === 'mirred' && a.action === 'redirect' && a.direction === 'egress' ? a.ifindex : undefined;
}
