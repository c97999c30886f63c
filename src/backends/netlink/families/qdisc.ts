/**
 * Queueing disciplines: RTM_NEWQDISC / RTM_DELQDISC / RTM_GETQDISC with
 * struct tcmsg. iproute2 equivalent: `tc qdisc add|change|replace|del|show`.
 * Options per kind are schemas; the arithmetic (ticks, rate tables) is tc's.
 */
import { TcError, ValidationError } from '../../../errors.js';
import {
  field,
  ifindex,
  ifname,
  int,
  literal,
  parseSpec,
  Refusal,
  shown,
  spec,
  tcPercent,
  tcRate,
  tcSize,
  tcTime,
  text,
  u32,
  type z,
} from '../../schema.js';
import { type Attrs, type Body, type Schema, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, NLM_F } from '../constants.js';
import { type BuildContext, type Command, type Family, flagsFor, keepMatching, NEW_FLAGS, type Request } from './family.js';
import {
  rateTable,
  TC_LINKLAYER_ETHERNET,
  TIME_UNITS_PER_SEC,
  ticksPerUsec,
  ticksToUsec,
  usecToTicks,
  xmitTime,
} from './tc-units.js';
import { U32 } from './validate.js';

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

/**
 * The attributes of every tc message (struct tcmsg, then TCA_*): qdiscs,
 * classes and filters share them; only TCA_OPTIONS differs, by TCA_KIND.
 */
export function tcaSchema(options: Record<string, Schema>): Schema {
  return schema(
    'TCA',
    [
      [1, 'kind', 'asciiz'],
      [2, 'options', 'nested', { schema: { by: 'kind', schemas: options } }],
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
}

export const qdiscBody = tcaSchema(OPTION_SCHEMAS);

/** TCA_* that count traffic: they change with every packet and no event says so. */
export const TCA_COUNTERS = new Set([3 /* STATS */, 4 /* XSTATS */, 7 /* STATS2 */, 9 /* PAD */]);

/** '1:' -> 0x10000, '1:10' -> 0x10010 (hex, as tc reads them), 'root', 'ingress', 'clsact', 'none'; undefined otherwise. */
function handleNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= U32 ? value : undefined;
  if (value === 'root') return TC_H_ROOT;
  if (value === 'ingress' || value === 'clsact') return TC_H_INGRESS;
  if (value === 'none') return 0;
  const m = typeof value === 'string' ? /^([0-9a-f]{1,4})?:([0-9a-f]{0,4})$/i.exec(value) : null;
  if (!m) return undefined;
  return ((Number.parseInt(m[1] || '0', 16) << 16) | Number.parseInt(m[2] || '0', 16)) >>> 0;
}

export function parseHandle(value: unknown, field: string): number {
  const h = handleNumber(value);
  if (h === undefined) throw new ValidationError(`${field}: ${shown(value)} is not a handle like '1:' or '1:10'`, field);
  return h;
}

/** A tc handle or parent: '1:', '1:10' (hex), 'root', 'ingress', 'clsact', 'none', or the u32. */
export const tcHandle = field<string | number, number>(
  (v) => handleNumber(v) ?? new Refusal(`${shown(v)} is not a handle like '1:' or '1:10', 'root' or 'ingress'`),
);

export function formatHandle(h: number): string {
  if (h === TC_H_ROOT) return 'root';
  if (h === TC_H_INGRESS) return 'ingress';
  const major = h >>> 16;
  const minor = h & 0xffff;
  return `${major.toString(16)}:${minor ? minor.toString(16) : ''}`;
}

/** The record a qdisc decodes to. */
export interface QdiscRecord {
  /** The interface's index. */
  index: number;
  kind: string;
  /** '1:', 'ingress', ... as tc writes them. */
  handle: string;
  /** 'root', '1:1', ... */
  parent: string;
  /** TCA_OPTIONS as decoded (per kind). */
  options?: unknown;
  /** tbf, netem: the rate in bits per second. */
  rate?: number;
  /** tbf: the bucket, bytes. */
  burst?: number;
  /** tbf: bytes; netem: packets. */
  limit?: number;
  /** netem: milliseconds. */
  delay?: number;
  jitter?: number;
  /** netem: percent. */
  loss?: number;
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

/** What every qdisc spec has: the interface, the handle, the parent. */
const base = {
  ifname: ifname.optional(),
  index: ifindex.optional(),
  handle: tcHandle.optional(),
  parent: tcHandle.optional(),
};

/** The tc options of each kind netstate builds (`tc qdisc add ... tbf rate 10mbit burst 32kb latency 50ms`). */
export const TbfSpec = spec({
  ...base,
  kind: literal('tbf'),
  rate: tcRate.optional(),
  burst: tcSize.optional(),
  latency: tcTime.optional(),
  limit: tcSize.optional(),
  mtu: tcSize.optional(),
  peakrate: tcRate.optional(),
  mpu: tcSize.optional(),
});
export const NetemSpec = spec({
  ...base,
  kind: literal('netem'),
  delay: tcTime.optional(),
  jitter: tcTime.optional(),
  loss: tcPercent.optional(),
  limit: u32.optional(),
  rate: tcRate.optional(),
  duplicate: tcPercent.optional(),
  corrupt: tcPercent.optional(),
  reorder: tcPercent.optional(),
  gap: u32.optional(),
});
/** htb's `default 10` is a hex class minor, as tc reads it; numbers are taken as they are. */
const classMinor = field<string | number, number>((v) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v;
  if (typeof v === 'string' && /^[0-9a-f]{1,4}$/i.test(v)) return Number.parseInt(v, 16);
  return new Refusal(`${shown(v)} is not a class minor number like '10' (hex, as tc reads it)`);
});
export const HtbSpec = spec({
  ...base,
  kind: literal('htb'),
  default: classMinor.optional(),
  r2q: int(1, U32).optional(),
  direct_qlen: u32.optional(),
});
/** pfifo's limit is packets, bfifo's bytes. */
export const PfifoSpec = spec({ ...base, kind: literal('pfifo'), limit: u32.optional() });
export const BfifoSpec = spec({ ...base, kind: literal('bfifo'), limit: tcSize.optional() });
/** Kinds without options here. */
const BARE_KINDS = ['ingress', 'clsact', 'pfifo_fast', 'noqueue', 'fq_codel', 'red'] as const;
type BareKind = (typeof BARE_KINDS)[number];
const bareKind = field<BareKind, BareKind>((v) =>
  (BARE_KINDS as readonly unknown[]).includes(v) ? (v as BareKind) : new Refusal(`${shown(v)} takes no options here`),
);
export const BareQdiscSpec = spec({ ...base, kind: bareKind });
/** `qdisc del` needs no options: the interface, the parent or handle, and the kind if wanted. */
export const QdiscKey = spec({ ...base, kind: text(15, 'a qdisc kind').optional() });

const QDISC_SPECS = {
  tbf: TbfSpec,
  netem: NetemSpec,
  htb: HtbSpec,
  pfifo: PfifoSpec,
  bfifo: BfifoSpec,
  ingress: BareQdiscSpec,
  clsact: BareQdiscSpec,
  pfifo_fast: BareQdiscSpec,
  noqueue: BareQdiscSpec,
  fq_codel: BareQdiscSpec,
  red: BareQdiscSpec,
} as const;
type QdiscKind = keyof typeof QDISC_SPECS;

/** `qdisc add|set|replace`: one spec per kind, told apart by `kind`. */
export type QdiscSpec =
  | z.input<typeof TbfSpec>
  | z.input<typeof NetemSpec>
  | z.input<typeof HtbSpec>
  | z.input<typeof PfifoSpec>
  | z.input<typeof BfifoSpec>
  | z.input<typeof BareQdiscSpec>;
export type QdiscKey = z.input<typeof QdiscKey>;

/** `qdisc dump|get`: by interface in the kernel, the rest in record terms. */
export const QdiscFilter = spec({ ...base, kind: text(15, 'a qdisc kind').optional() });
export type QdiscFilter = z.input<typeof QdiscFilter>;

/** A tc figure that must fit the kernel's u32 field, or the spec is refused (tc would wrap it). */
function fitsU32(value: number, field: string, why: string): number {
  if (value > U32) throw new ValidationError(`${field}: ${why} exceeds the kernel's 32-bit field`, field);
  return value;
}

type Tbf = z.output<typeof TbfSpec>;
type Netem = z.output<typeof NetemSpec>;

function tbfOptionsOf(s: Tbf): Attrs {
  if (s.rate === undefined || s.burst === undefined) throw new ValidationError('tbf: rate and burst are required', 'rate');
  if ((s.latency === undefined) === (s.limit === undefined)) {
    throw new ValidationError('tbf: give exactly one of latency and limit', 'latency');
  }
  const rate64 = s.rate;
  const buffer = s.burst;
  const mpu = s.mpu ?? 0;
  let limit = s.limit ?? 0;
  if (s.latency !== undefined) {
    limit = fitsU32(
      Math.floor((rate64 * s.latency) / TIME_UNITS_PER_SEC + buffer),
      'latency',
      'the queue this latency makes at this rate',
    );
  }
  const rate = rate64 >= 2 ** 32 ? 0xffffffff : rate64;
  const { table, cellLog } = rateTable(rate, 0, mpu);
  // parms.buffer (ticks) wraps for big buckets as tc's does; the kernel takes TCA_TBF_BURST (bytes) instead.
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
    const prate64 = s.peakrate;
    const mtu = s.mtu;
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
  } else if (s.mtu !== undefined) {
    throw new ValidationError('tbf: mtu is the peak bucket: it goes with peakrate', 'mtu');
  }
  return options;
}

/** netem's times go out as u32 scheduler ticks; longer ones would need TCA_NETEM_LATENCY64, not built here. */
function netemTicks(usec: number | undefined, field: string): number {
  if (usec === undefined) return 0;
  const max = Math.floor(U32 / ticksPerUsec());
  if (Math.trunc(usec) > max) {
    throw new ValidationError(`${field}: netem takes at most ${(max / 1e6).toFixed(2)} s here (u32 scheduler ticks)`, field);
  }
  return usecToTicks(usec);
}

function netemOptionsOf(s: Netem): Body {
  const header: Record<string, number> = {
    latency: netemTicks(s.delay, 'delay'),
    limit: s.limit ?? 1000,
    loss: s.loss ?? 0,
    gap: s.gap ?? 0,
    duplicate: s.duplicate ?? 0,
    jitter: netemTicks(s.jitter, 'jitter'),
  };
  const attrs: Attrs = {};
  if (s.reorder !== undefined) attrs.reorder = { probability: s.reorder, correlation: 0 };
  if (s.corrupt !== undefined) attrs.corrupt = { probability: s.corrupt, correlation: 0 };
  if (s.rate !== undefined) {
    const rate64 = s.rate;
    attrs.rate = { rate: rate64 >= 2 ** 32 ? 0xffffffff : rate64, packet_overhead: 0, cell_size: 0, cell_overhead: 0 };
    if (rate64 >= 2 ** 32) attrs.rate64 = rate64;
  }
  return { header, attrs };
}

/** TCA_OPTIONS of a parsed spec, by kind (undefined: the kind has none). */
function options(kind: QdiscKind, s: Record<string, unknown>): unknown {
  switch (kind) {
    case 'tbf':
      return tbfOptionsOf(s as Tbf);
    case 'netem':
      return netemOptionsOf(s as Netem);
    case 'htb': {
      const h = s as z.output<typeof HtbSpec>;
      const out: Attrs = {
        init: { version: 3, rate2quantum: h.r2q ?? 10, defcls: h.default ?? 0, debug: 0, direct_pkts: 0 },
      };
      if (h.direct_qlen !== undefined) out.direct_qlen = h.direct_qlen;
      return out;
    }
    case 'pfifo':
    case 'bfifo': {
      const limit = s.limit as number | undefined;
      return limit === undefined ? undefined : { header: { limit }, attrs: {} };
    }
    default:
      return undefined;
  }
}

/** The kind a spec names, read before picking the spec that checks the rest. */
function kindOf(input: unknown, cmd: Command): QdiscKind | undefined {
  const kind = input !== null && typeof input === 'object' ? (input as { kind?: unknown }).kind : undefined;
  if (kind === undefined) return undefined;
  if (typeof kind !== 'string')
    throw new ValidationError(`qdisc ${cmd}: kind: expected a qdisc kind, got ${shown(kind)}`, 'kind');
  if (!Object.hasOwn(QDISC_SPECS, kind)) {
    throw new TcError(`qdisc kind ${shown(kind)} is not one netstate knows (${Object.keys(QDISC_SPECS).join(', ')})`);
  }
  return kind as QdiscKind;
}

async function build(cmd: Command, input: unknown, ctx: BuildContext): Promise<Request> {
  const header: Record<string, number> = { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: 0, handle: 0, parent: 0, info: 0 };
  if (cmd === 'dump' || cmd === 'get') {
    const f = parseSpec(QdiscFilter, input, `qdisc ${cmd}`);
    const dev = deviceOf(f, cmd);
    if (dev !== undefined) header.ifindex = await ctx.index(dev, 'ifname');
    const keep = keepMatching({
      index: dev !== undefined ? header.ifindex : undefined,
      kind: f.kind,
      handle: f.handle !== undefined ? formatHandle(f.handle) : undefined,
      parent: f.parent !== undefined ? formatHandle(f.parent) : undefined,
    });
    return { type: RTM_GETQDISC, flags: NEW_FLAGS.dump, body: { header, attrs: {} }, strict: true, keep };
  }
  const kind = kindOf(input, cmd);
  if (cmd !== 'del' && kind === undefined) {
    parseSpec(QdiscKey, input, `qdisc ${cmd}`); // a bad spec says what is wrong with it first
    throw new ValidationError(`qdisc ${cmd}: kind is required`, 'kind');
  }
  const what = `qdisc ${cmd}${kind ? ` ${kind}` : ''}`;
  const s = parseSpec(cmd === 'del' || kind === undefined ? QdiscKey : QDISC_SPECS[kind], input, what) as Record<
    string,
    unknown
  > &
    z.output<typeof QdiscKey>;
  const dev = deviceOf(s, cmd);
  if (dev === undefined) throw new ValidationError(`qdisc ${cmd}: name the interface with ifname or index`, 'ifname');
  header.ifindex = await ctx.index(dev, 'ifname');
  const isIngress = kind === 'ingress' || kind === 'clsact';
  header.parent = s.parent ?? (isIngress ? TC_H_INGRESS : TC_H_ROOT);
  header.handle = s.handle ?? (isIngress ? 0xffff0000 : 0);
  const attrs: Attrs = {};
  if (kind !== undefined) attrs.kind = kind;
  if (cmd !== 'del' && kind !== undefined) {
    const built = options(kind, s);
    if (built !== undefined) attrs.options = built;
  }
  // `tc qdisc change` is a NEW with neither CREATE nor REPLACE.
  const flags = cmd === 'set' ? NLM_F.REQUEST | NLM_F.ACK : flagsFor(cmd);
  return { type: cmd === 'del' ? RTM_DELQDISC : RTM_NEWQDISC, flags, body: { header, attrs } };
}

function deviceOf(s: { ifname?: string; index?: number }, cmd: Command): string | number | undefined {
  if (s.ifname !== undefined && s.index !== undefined) {
    throw new ValidationError(`qdisc ${cmd}: name the interface once, by index or by ifname`, 'ifname');
  }
  return s.index ?? s.ifname;
}

export const qdisc: Family<QdiscRecord> = {
  name: 'qdisc',
  types: { new: RTM_NEWQDISC, del: RTM_DELQDISC, get: RTM_GETQDISC },
  body: qdiscBody,
  build,
  toRecord: qdiscToRecord,
};

/**
 * The request for one link's root qdisc (`RTM_GETQDISC`, not a dump): the
 * kernel answers with the root, or with nothing but the ack when the root is
 * its built-in noop (a link never up).
 */
export function rootQdiscQuery(index: number): { type: number; flags: number; body: Body } {
  return {
    type: RTM_GETQDISC,
    flags: NLM_F.REQUEST | NLM_F.ACK,
    body: { header: { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: index, handle: 0, parent: TC_H_ROOT, info: 0 }, attrs: {} },
  };
}
