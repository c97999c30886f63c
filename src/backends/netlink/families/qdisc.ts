/**
 * Queueing disciplines: RTM_NEWQDISC / RTM_DELQDISC / RTM_GETQDISC with
 * struct tcmsg. iproute2 equivalent: `tc qdisc add|change|replace|del|show`.
 * Options per kind are schemas; the arithmetic (ticks, rate tables) is tc's.
 */
import { TcError, ValidationError } from '../../../errors.js';
import { type Attrs, type Body, type Schema, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, NLM_F } from '../constants.js';
import { type BuildContext, type Command, type Family, flagsFor, matchesAll, NEW_FLAGS, type Request } from './family.js';
import {
  parsePercent,
  parseRate,
  parseSize,
  parseTime,
  rateTable,
  TC_LINKLAYER_ETHERNET,
  TIME_UNITS_PER_SEC,
  ticksToUsec,
  usecToTicks,
  xmitTime,
} from './tc-units.js';
import { checkInt, checkKnownKeys, U32 } from './validate.js';

export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;

export const tcmsg = struct('tcmsg', 'family:u8 pad1:u8 pad2:u16 ifindex:s32 handle:u32 parent:u32 info:u32');

export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
export const TC_H_CLSACT = TC_H_INGRESS;

const ratespec = (p: string) =>
  `${p}_cell_log:u8 ${p}_linklayer:u8 ${p}_overhead:u16 ${p}_cell_align:s16 ${p}_mpu:u16 ${p}_rate:u32`;

const tbfQopt = struct('tc_tbf_qopt', `${ratespec('rate')} ${ratespec('peak')} limit:u32 buffer:u32 mtu:u32`);

const tbfOptions = schema('TCA_TBF', [
  [1, 'parms', 'struct', { struct: tbfQopt }],
  [2, 'rtab', 'binary'],
  [3, 'ptab', 'binary'],
  [4, 'rate64', 'u64'],
  [5, 'prate64', 'u64'],
  [6, 'burst', 'u32'],
  [7, 'pburst', 'u32'],
  [8, 'pad', 'binary'],
]);

/** netem's options are a struct followed by attributes, inside TCA_OPTIONS. */
const netemOptions = schema(
  'TCA_NETEM',
  [
    [1, 'corr', 'struct', { struct: struct('tc_netem_corr', 'delay_corr:u32 loss_corr:u32 dup_corr:u32') }],
    [2, 'delay_dist', 'binary'],
    [3, 'reorder', 'struct', { struct: struct('tc_netem_reorder', 'probability:u32 correlation:u32') }],
    [4, 'corrupt', 'struct', { struct: struct('tc_netem_corrupt', 'probability:u32 correlation:u32') }],
    [5, 'loss', 'binary'],
    [6, 'rate', 'struct', { struct: struct('tc_netem_rate', 'rate:u32 packet_overhead:s32 cell_size:u32 cell_overhead:s32') }],
    [7, 'ecn', 'u32'],
    [8, 'rate64', 'u64'],
    [9, 'pad', 'binary'],
    [10, 'latency64', 'u64'],
    [11, 'jitter64', 'u64'],
    [12, 'slot', 'binary'],
    [13, 'slot_dist', 'binary'],
    [14, 'prng_seed', 'u64'],
  ],
  struct('tc_netem_qopt', 'latency:u32 limit:u32 loss:u32 gap:u32 duplicate:u32 jitter:u32'),
);

const htbOptions = schema('TCA_HTB', [
  [1, 'parms', 'binary'],
  [2, 'init', 'struct', { struct: struct('tc_htb_glob', 'version:u32 rate2quantum:u32 defcls:u32 debug:u32 direct_pkts:u32') }],
  [3, 'ctab', 'binary'],
  [4, 'rtab', 'binary'],
  [5, 'direct_qlen', 'u32'],
  [6, 'rate64', 'u64'],
  [7, 'ceil64', 'u64'],
  [8, 'pad', 'binary'],
  [9, 'offload', 'flag'],
]);

/** pfifo/bfifo: TCA_OPTIONS is a bare struct tc_fifo_qopt, no attributes. */
const fifoOptions = schema('TCA_FIFO', [], struct('tc_fifo_qopt', 'limit:u32'));

const OPTION_SCHEMAS: Record<string, Schema> = {
  tbf: tbfOptions,
  netem: netemOptions,
  htb: htbOptions,
  pfifo: fifoOptions,
  bfifo: fifoOptions,
};

export const qdiscBody = schema(
  'TCA',
  [
    [1, 'kind', 'asciiz'],
    [2, 'options', 'nested', { schema: { by: 'kind', schemas: OPTION_SCHEMAS } }],
    [3, 'stats', 'binary'],
    [4, 'xstats', 'binary'],
    [5, 'rate', 'binary'],
    [6, 'fcnt', 'binary'],
    [7, 'stats2', 'binary'],
    [8, 'stab', 'binary'],
    [9, 'pad', 'binary'],
    [10, 'dump_invisible', 'flag'],
    [11, 'chain', 'u32'],
    [12, 'hw_offload', 'u8'],
    [13, 'ingress_block', 'u32'],
    [14, 'egress_block', 'u32'],
    [15, 'dump_flags', 'binary'],
    [16, 'ext_warn_msg', 'asciiz'],
  ],
  tcmsg,
);

/** '1:' -> 0x10000, '1:10' -> 0x10010 (hex, as tc reads them), 'root', 'ingress', 'clsact'. */
export function parseHandle(value: unknown, field: string): number {
  if (typeof value === 'number') return checkInt(value, field, 0, U32);
  if (value === 'root') return TC_H_ROOT;
  if (value === 'ingress' || value === 'clsact') return TC_H_INGRESS;
  if (value === 'none') return 0;
  const m = typeof value === 'string' ? /^([0-9a-f]{1,4})?:([0-9a-f]{0,4})$/i.exec(value) : null;
  if (!m) throw new ValidationError(`${field}: ${JSON.stringify(value)} is not a handle like '1:' or '1:10'`, field);
  return ((Number.parseInt(m[1] || '0', 16) << 16) | Number.parseInt(m[2] || '0', 16)) >>> 0;
}

export function formatHandle(h: number): string {
  if (h === TC_H_ROOT) return 'root';
  if (h === TC_H_INGRESS) return 'ingress';
  const major = h >>> 16;
  const minor = h & 0xffff;
  return `${major.toString(16)}:${minor ? minor.toString(16) : ''}`;
}

export interface QdiscRecord {
  index: number;
  kind: string;
  handle: string;
  parent: string;
  options?: unknown;
  /** Friendly figures for kinds that have them (tbf, netem): rates in bits/s, times in ms. */
  [field: string]: unknown;
}

export function qdiscToRecord(body: Body): QdiscRecord {
  const h = body.header;
  const { kind, options, ...attrs } = body.attrs as Attrs & { kind: string; options?: unknown };
  const rec: QdiscRecord = {
    index: h.ifindex as number,
    kind,
    handle: formatHandle(h.handle as number),
    parent: formatHandle(h.parent as number),
    ...attrs,
  };
  if (options !== undefined && typeof options === 'object') {
    rec.options = options;
    Object.assign(rec, FRIENDLY[kind]?.(options as Attrs & Body) ?? {});
  }
  return rec;
}

const FRIENDLY: Record<string, (o: Attrs & Body) => Record<string, number | undefined>> = {
  tbf: (o) => {
    const p = o.parms as Record<string, number> | undefined;
    if (!p) return {};
    const rate = (o.rate64 as number | undefined) ?? (p.rate_rate as number);
    // The kernel reports the bucket in ticks, not TCA_TBF_BURST: convert back to bytes.
    const burst = (o.burst as number | undefined) ?? Math.round((ticksToUsec(p.buffer as number) * rate) / TIME_UNITS_PER_SEC);
    return { rate: rate * 8, burst, limit: p.limit as number };
  },
  netem: (o) => {
    const q = o.header;
    if (!q) return {};
    const out: Record<string, number> = {
      delay: ticksToUsec(q.latency as number) / 1000,
      jitter: ticksToUsec(q.jitter as number) / 1000,
      loss: ((q.loss as number) / 0xffffffff) * 100,
      limit: q.limit as number,
    };
    const r = o.attrs?.rate as Record<string, number> | undefined;
    if (r) out.rate = r.rate * 8;
    return out;
  },
};

const QDISC_KINDS = ['tbf', 'netem', 'htb', 'ingress', 'clsact', 'pfifo', 'bfifo', 'pfifo_fast', 'noqueue', 'fq_codel', 'red'];

type OptionBuilder = (spec: Record<string, unknown>) => unknown;

/** Per kind: the option keys it accepts and how they become TCA_OPTIONS. */
const OPTIONS: Record<string, { keys: string[]; build: OptionBuilder }> = {
  tbf: {
    keys: ['rate', 'burst', 'latency', 'limit', 'mtu', 'peakrate', 'mpu'],
    build: (s) => {
      if (s.rate === undefined || s.burst === undefined) throw new ValidationError('tbf: rate and burst are required', 'rate');
      if ((s.latency === undefined) === (s.limit === undefined)) {
        throw new ValidationError('tbf: give exactly one of latency and limit', 'latency');
      }
      const rate64 = parseRate(s.rate, 'rate');
      const buffer = parseSize(s.burst, 'burst');
      const mpu = s.mpu !== undefined ? parseSize(s.mpu, 'mpu') : 0;
      let limit = s.limit !== undefined ? parseSize(s.limit, 'limit') : 0;
      if (s.latency !== undefined) limit = Math.floor((rate64 * parseTime(s.latency, 'latency')) / TIME_UNITS_PER_SEC + buffer);
      const rate = rate64 >= 2 ** 32 ? 0xffffffff : rate64;
      const { table, cellLog } = rateTable(rate, 0, mpu);
      const parms: Record<string, number> = {
        rate_cell_log: cellLog,
        rate_linklayer: TC_LINKLAYER_ETHERNET,
        rate_cell_align: -1,
        rate_mpu: mpu,
        rate_rate: rate,
        limit,
        buffer: xmitTime(rate, buffer),
        mtu: 0,
      };
      const options: Attrs = { parms, burst: buffer };
      if (rate64 >= 2 ** 32) options.rate64 = rate64;
      options.rtab = table.toString('hex');
      if (s.peakrate !== undefined) {
        if (s.mtu === undefined) throw new ValidationError('tbf: peakrate needs mtu (the peak bucket size)', 'mtu');
        const prate64 = parseRate(s.peakrate, 'peakrate');
        const mtu = parseSize(s.mtu, 'mtu');
        const prate = prate64 >= 2 ** 32 ? 0xffffffff : prate64;
        const peak = rateTable(prate, mtu, mpu);
        Object.assign(parms, {
          peak_cell_log: peak.cellLog,
          peak_linklayer: TC_LINKLAYER_ETHERNET,
          peak_cell_align: -1,
          peak_mpu: mpu,
          peak_rate: prate,
          mtu: xmitTime(prate, mtu),
        });
        if (prate64 >= 2 ** 32) options.prate64 = prate64;
        options.pburst = mtu;
        options.ptab = peak.table.toString('hex');
      }
      return options;
    },
  },
  netem: {
    keys: ['delay', 'jitter', 'loss', 'limit', 'rate', 'duplicate', 'corrupt', 'reorder', 'gap'],
    build: (s) => {
      const header: Record<string, number> = {
        latency: s.delay !== undefined ? usecToTicks(parseTime(s.delay, 'delay')) : 0,
        limit: s.limit !== undefined ? checkInt(s.limit, 'limit', 0, U32) : 1000,
        loss: s.loss !== undefined ? parsePercent(s.loss, 'loss') : 0,
        gap: s.gap !== undefined ? checkInt(s.gap, 'gap', 0, U32) : 0,
        duplicate: s.duplicate !== undefined ? parsePercent(s.duplicate, 'duplicate') : 0,
        jitter: s.jitter !== undefined ? usecToTicks(parseTime(s.jitter, 'jitter')) : 0,
      };
      const attrs: Attrs = {};
      if (s.reorder !== undefined) attrs.reorder = { probability: parsePercent(s.reorder, 'reorder'), correlation: 0 };
      if (s.corrupt !== undefined) attrs.corrupt = { probability: parsePercent(s.corrupt, 'corrupt'), correlation: 0 };
      if (s.rate !== undefined) {
        const rate64 = parseRate(s.rate, 'rate');
        attrs.rate = { rate: rate64 >= 2 ** 32 ? 0xffffffff : rate64, packet_overhead: 0, cell_size: 0, cell_overhead: 0 };
        if (rate64 >= 2 ** 32) attrs.rate64 = rate64;
      }
      return { header, attrs };
    },
  },
  htb: {
    keys: ['default', 'r2q', 'direct_qlen'],
    build: (s) => {
      const options: Attrs = {
        init: {
          version: 3,
          rate2quantum: s.r2q !== undefined ? checkInt(s.r2q, 'r2q', 1, U32) : 10,
          defcls: s.default !== undefined ? parseMinor(s.default) : 0,
          debug: 0,
          direct_pkts: 0,
        },
      };
      if (s.direct_qlen !== undefined) options.direct_qlen = checkInt(s.direct_qlen, 'direct_qlen', 0, U32);
      return options;
    },
  },
  pfifo: { keys: ['limit'], build: (s) => fifoLimit(s, 'packets') },
  bfifo: { keys: ['limit'], build: (s) => fifoLimit(s, 'bytes') },
  ingress: { keys: [], build: () => undefined },
  clsact: { keys: [], build: () => undefined },
};

function fifoLimit(s: Record<string, unknown>, unit: 'packets' | 'bytes'): unknown {
  if (s.limit === undefined) return undefined;
  const limit = unit === 'bytes' ? parseSize(s.limit, 'limit') : checkInt(s.limit, 'limit', 0, U32);
  return { header: { limit }, attrs: {} };
}

/** htb's `default 10` is hex, as in tc; numbers are taken as they are. */
function parseMinor(value: unknown): number {
  if (typeof value === 'number') return checkInt(value, 'default', 0, 0xffff);
  if (typeof value === 'string' && /^[0-9a-f]{1,4}$/i.test(value)) return Number.parseInt(value, 16);
  throw new ValidationError(
    `default: ${JSON.stringify(value)} is not a class minor number like '10' (hex, as tc reads it)`,
    'default',
  );
}

const BASE_KEYS = ['ifname', 'index', 'kind', 'handle', 'parent'];

async function build(cmd: Command, spec: Record<string, unknown>, ctx: BuildContext): Promise<Request> {
  const header: Record<string, number> = { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: 0, handle: 0, parent: 0, info: 0 };
  const dev = spec.index ?? spec.ifname;
  if (dev !== undefined) header.ifindex = await ctx.index(dev as string | number, 'ifname');
  if (cmd === 'dump' || cmd === 'get') {
    return { type: RTM_GETQDISC, flags: NEW_FLAGS.dump, body: { header, attrs: {} }, strict: true };
  }
  if (dev === undefined) throw new ValidationError(`qdisc ${cmd}: name the interface with ifname or index`, 'ifname');
  const kind = spec.kind as string | undefined;
  if (cmd !== 'del' && kind === undefined) throw new ValidationError(`qdisc ${cmd}: kind is required`, 'kind');
  if (kind !== undefined && !QDISC_KINDS.includes(kind)) {
    throw new TcError(`qdisc kind "${kind}" is not one netstate knows (${QDISC_KINDS.join(', ')})`);
  }
  const options = kind ? OPTIONS[kind] : undefined;
  checkKnownKeys(spec, new Set([...BASE_KEYS, ...(options?.keys ?? [])]), `qdisc ${cmd} ${kind ?? ''}`.trim());

  const isIngress = kind === 'ingress' || kind === 'clsact';
  header.parent = spec.parent !== undefined ? parseHandle(spec.parent, 'parent') : isIngress ? TC_H_INGRESS : TC_H_ROOT;
  header.handle = spec.handle !== undefined ? parseHandle(spec.handle, 'handle') : isIngress ? 0xffff0000 : 0;
  const attrs: Attrs = {};
  if (kind !== undefined) attrs.kind = kind;
  if (cmd !== 'del' && options) {
    const built = options.build(spec);
    if (built !== undefined) attrs.options = built;
  }
  // `tc qdisc change` is a NEW with neither CREATE nor REPLACE.
  const flags = cmd === 'set' ? NLM_F.REQUEST | NLM_F.ACK : flagsFor(cmd);
  return { type: cmd === 'del' ? RTM_DELQDISC : RTM_NEWQDISC, flags, body: { header, attrs } };
}

async function filter(spec: Record<string, unknown>, ctx: BuildContext): Promise<(r: QdiscRecord) => boolean> {
  const wanted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'ifname' || key === 'index') wanted.index = await ctx.index(value as string | number, key);
    else if (key === 'handle' || key === 'parent') wanted[key] = formatHandle(parseHandle(value, key));
    else wanted[key] = value;
  }
  return (r) => matchesAll(r, wanted);
}

export const qdisc: Family<QdiscRecord> = {
  name: 'qdisc',
  types: { new: RTM_NEWQDISC, del: RTM_DELQDISC, get: RTM_GETQDISC },
  body: qdiscBody,
  build,
  toRecord: qdiscToRecord,
  filter,
};
