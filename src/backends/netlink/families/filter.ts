/**
 * Traffic-control filters: RTM_NEWTFILTER / RTM_DELTFILTER / RTM_GETTFILTER
 * with struct tcmsg. iproute2 equivalent: `tc filter add|replace|del|show`.
 *
 * One classifier is built, u32, with one kind of action, mirred: what
 * `tc filter add dev a0 parent ffff: protocol all u32 match u32 0 0 action
 * mirred egress redirect dev b0` sends (DummyNet's forward), byte for byte.
 * matchall, flower, basic and fw are missing from the kernels netstate is
 * tested on; u32 with a match-all key does the same job. Other classifiers
 * and actions still decode (their options as hex).
 */
import { ValidationError } from '../../../errors.js';
import {
  field,
  ifindex,
  ifname,
  ifRef,
  literal,
  parseSpec,
  Refusal,
  s32,
  shown,
  spec,
  text,
  u16,
  u32,
  type z,
} from '../../schema.js';
import { type Attrs, type Body, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, NLM_F } from '../constants.js';
import { type BuildContext, type Command, type Family, keepMatching, NEW_FLAGS, type Request } from './family.js';
import { formatHandle, tcaSchema } from './qdisc.js';
import { U32 } from './validate.js';

export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

/** Where filters hang: the ingress qdisc's block (`parent ffff:`), clsact's ingress and egress blocks. */
export const FILTER_PARENT_INGRESS_QDISC = 0xffff0000;
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;
export const FILTER_PARENT_INGRESS = 0xfffffff2;
export const FILTER_PARENT_EGRESS = 0xfffffff3;

/** Ethernet protocols as tc names them (`protocol all`); the kernel gets them in network byte order. */
export const FILTER_PROTOCOLS: Readonly<Record<string, number>> = {
  all: 0x0003,
  ip: 0x0800,
  ipv6: 0x86dd,
  arp: 0x0806,
  '802.1q': 0x8100,
  '802.1ad': 0x88a8,
  mpls_uc: 0x8847,
};

function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/** tcm_info of a filter: TC_H_MAKE(prio << 16, htons(protocol)). */
export function filterInfo(priority: number, protocol: number): number {
  return ((priority << 16) | swap16(protocol)) >>> 0;
}

/** A filter's priority and protocol (host order) from its tcm_info. */
export function infoParts(info: number): { priority: number; protocol: number } {
  return { priority: info >>> 16, protocol: swap16(info & 0xffff) };
}

export function protocolName(protocol: number): string {
  for (const [name, n] of Object.entries(FILTER_PROTOCOLS)) if (n === protocol) return name;
  return `0x${protocol.toString(16).padStart(4, '0')}`;
}

// ---------------------------------------------------------------- actions

/** TC_ACT_* verdicts. */
const TC_ACT_PIPE = 3;
const TC_ACT_STOLEN = 4;
/** TCA_EGRESS_REDIR, TCA_EGRESS_MIRROR, TCA_INGRESS_REDIR, TCA_INGRESS_MIRROR. */
const MIRRED_EACTIONS: Record<string, number> = {
  'egress redirect': 1,
  'egress mirror': 2,
  'ingress redirect': 3,
  'ingress mirror': 4,
};

const tcfT = struct('tcf_t', 'install:u64 lastuse:u64 expires:u64 firstuse:u64');
export const tcMirred = struct('tc_mirred', 'index:u32 capab:u32 action:s32 refcnt:s32 bindcnt:s32 eaction:s32 ifindex:u32');

const mirredOptions = schema('TCA_MIRRED', [
  [1, 'tm', 'struct', { struct: tcfT }],
  [2, 'parms', 'struct', { struct: tcMirred }],
  [3, 'pad', 'binary'],
  [4, 'blockid', 'u32'],
]);

export const actionSchema = schema('TCA_ACT', [
  [1, 'kind', 'asciiz'],
  [2, 'options', 'nested', { schema: { by: 'kind', schemas: { mirred: mirredOptions } }, nestedFlag: true }],
  [3, 'index', 'u32'],
  [4, 'stats', 'binary'],
  [5, 'pad', 'binary'],
  [6, 'cookie', 'binary'],
  [7, 'flags', 'binary'],
  [8, 'hw_stats', 'binary'],
  [9, 'used_hw_stats', 'binary'],
  [10, 'in_hw_count', 'u32'],
]);

/** TCA_ACT_MAX_PRIO: actions are nested under their order, 1 to 32. */
const MAX_ACTIONS = 32;

const actionList = schema(
  'TCA_ACT_TAB',
  Array.from({ length: MAX_ACTIONS }, (_, i) => [i + 1, String(i + 1), 'nested', { schema: actionSchema }] as const),
);

// ---------------------------------------------------------------- u32

export const u32Options = schema('TCA_U32', [
  [1, 'classid', 'u32'],
  [2, 'hash', 'u32'],
  [3, 'link', 'u32'],
  [4, 'divisor', 'u32'],
  /** struct tc_u32_sel and its keys: variable length, see encodeSel/decodeSel. */
  [5, 'sel', 'binary'],
  [6, 'police', 'binary'],
  [7, 'act', 'nested', { schema: actionList }],
  [8, 'indev', 'asciiz'],
  [9, 'pcnt', 'binary'],
  [10, 'mark', 'binary'],
  [11, 'flags', 'u32'],
  [12, 'pad', 'binary'],
]);

const TC_U32_TERMINAL = 1;
const SEL_HEADER = 16;
const SEL_KEY = 16;

/** One u32 key: the 32-bit word at byte offset `at` of the packet, under `mask`, equals `value`. */
export interface U32Key {
  value: number;
  mask: number;
  at: number;
}

/** struct tc_u32_sel with its keys, as tc packs it (`match u32 V M at A`). */
export function encodeSel(keys: readonly U32Key[], terminal: boolean): Buffer {
  const b = Buffer.alloc(SEL_HEADER + SEL_KEY * keys.length);
  b[0] = terminal ? TC_U32_TERMINAL : 0;
  b[2] = keys.length;
  keys.forEach((k, i) => {
    const at = SEL_HEADER + SEL_KEY * i;
    b.writeUInt32BE(k.mask >>> 0, at);
    b.writeUInt32BE((k.value & k.mask) >>> 0, at + 4);
    b.writeInt32LE(k.at, at + 8);
  });
  return b;
}

export function decodeSel(hex: string): { terminal: boolean; keys: U32Key[] } | undefined {
  const b = Buffer.from(hex, 'hex');
  if (b.length < SEL_HEADER) return undefined;
  const n = b[2] as number;
  const keys: U32Key[] = [];
  for (let i = 0; i < n && SEL_HEADER + SEL_KEY * (i + 1) <= b.length; i++) {
    const at = SEL_HEADER + SEL_KEY * i;
    keys.push({ value: b.readUInt32BE(at + 4), mask: b.readUInt32BE(at), at: b.readInt32LE(at + 8) });
  }
  return { terminal: ((b[0] as number) & TC_U32_TERMINAL) !== 0, keys };
}

/** A u32 handle as tc prints it: '800:' (a hash table), '800::800' (a key node). */
export function formatU32Handle(h: number): string {
  const htid = h >>> 20;
  const hash = (h >>> 12) & 0xff;
  const node = h & 0xfff;
  let out = htid ? `${htid.toString(16)}:` : '';
  if (hash || node) {
    if (hash) out += hash.toString(16);
    if (node) out += `:${node.toString(16)}`;
  }
  return out || '0';
}

/** '800::800', '800:', '1:2:3' (hex, as tc reads them) or the u32 itself. */
function u32HandleNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= U32 ? v : undefined;
  const m = typeof v === 'string' ? /^([0-9a-f]{1,3})?:([0-9a-f]{1,2})?(?::([0-9a-f]{1,3}))?$/i.exec(v) : null;
  if (!m) return undefined;
  const [htid, hash, node] = [m[1], m[2], m[3]].map((x) => Number.parseInt(x || '0', 16)) as [number, number, number];
  return ((htid << 20) | (hash << 12) | node) >>> 0;
}

// ---------------------------------------------------------------- the body and records

export const filterBody = tcaSchema({ u32: u32Options });

/** An action as a filter record shows it. */
export interface ActionRecord {
  order: number;
  kind: string;
  /** The action's index in the kernel's table of that kind. */
  index?: number;
  /** mirred: 'redirect' or 'mirror', to the `ifindex` device, on its 'egress' or 'ingress'. */
  action?: string;
  direction?: string;
  ifindex?: number;
  [field: string]: unknown;
}

/** The record a filter decodes to. */
export interface FilterRecord {
  /** The interface's index. */
  index: number;
  /** 'ingress', 'egress' (clsact), or the parent as tc writes it. */
  parent: string;
  kind: string;
  protocol: string;
  priority: number;
  /** '800::800' for u32, else hex. */
  handle: string;
  chain?: number;
  /** u32: its keys. */
  match?: U32Key[];
  actions?: ActionRecord[];
  /** TCA_OPTIONS as decoded (per kind). */
  options?: unknown;
  [field: string]: unknown;
}

function parentName(parent: number): string {
  if (parent === FILTER_PARENT_INGRESS || parent === FILTER_PARENT_INGRESS_QDISC) return 'ingress';
  if (parent === FILTER_PARENT_EGRESS) return 'egress';
  return formatHandle(parent);
}

function actionsOf(list: unknown): ActionRecord[] {
  const out: ActionRecord[] = [];
  for (const [order, a] of Object.entries((list ?? {}) as Record<string, Attrs>)) {
    if (!a || typeof a !== 'object') continue;
    const rec: ActionRecord = { order: Number(order), kind: String(a.kind ?? '') };
    if (a.index !== undefined) rec.index = a.index as number;
    const parms = (a.options as Attrs | undefined)?.parms as Record<string, number> | undefined;
    if (rec.kind === 'mirred' && parms && typeof parms === 'object') {
      const e = Object.entries(MIRRED_EACTIONS).find(([, n]) => n === parms.eaction)?.[0] ?? 'egress redirect';
      const [direction, action] = e.split(' ') as [string, string];
      Object.assign(rec, { action, direction, ifindex: parms.ifindex, index: parms.index });
    }
    out.push(rec);
  }
  return out;
}

export function filterToRecord(body: Body): FilterRecord {
  const h = body.header;
  const {
    kind,
    options,
    stats: _s,
    stats2: _t,
    xstats: _x,
    pad: _p,
    ...attrs
  } = body.attrs as Attrs & {
    kind: string;
    options?: unknown;
  };
  const { priority, protocol } = infoParts(h.info as number);
  const handle = h.handle as number;
  const rec: FilterRecord = {
    index: h.ifindex as number,
    parent: parentName(h.parent as number),
    kind,
    protocol: protocolName(protocol),
    priority,
    handle: kind === 'u32' ? formatU32Handle(handle) : handle.toString(16),
    ...attrs,
  };
  if (options !== undefined && typeof options === 'object') {
    rec.options = options;
    const o = options as Attrs;
    if (kind === 'u32' && typeof o.sel === 'string') {
      const sel = decodeSel(o.sel);
      if (sel) rec.match = sel.keys;
    }
    if (o.act !== undefined) rec.actions = actionsOf(o.act);
  }
  return rec;
}

// ---------------------------------------------------------------- specs

/** A filter's parent: 'ingress' (the ingress qdisc, `parent ffff:`), 'egress' (clsact), a handle, or the u32. */
const filterParent = field<string | number, number>((v) => {
  if (v === 'ingress') return FILTER_PARENT_INGRESS_QDISC;
  if (v === 'egress') return FILTER_PARENT_EGRESS;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= U32 ? v : new Refusal(`${shown(v)} is not a parent`);
  const m = typeof v === 'string' ? /^([0-9a-f]{1,4})?:([0-9a-f]{0,4})$/i.exec(v) : null;
  if (!m) return new Refusal(`${shown(v)} is not a parent like 'ingress', 'egress' or 'ffff:'`);
  return ((Number.parseInt(m[1] || '0', 16) << 16) | Number.parseInt(m[2] || '0', 16)) >>> 0;
});

const protocolField = field<string | number, number>((v) => {
  if (typeof v === 'string' && Object.hasOwn(FILTER_PROTOCOLS, v)) return FILTER_PROTOCOLS[v] as number;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v;
  return new Refusal(`${shown(v)} is not a protocol (${Object.keys(FILTER_PROTOCOLS).join(', ')}, or an ethertype number)`);
});

const u32Handle = field<string | number, number>(
  (v) => u32HandleNumber(v) ?? new Refusal(`${shown(v)} is not a u32 handle like '800::800'`),
);

const direction = field<'egress' | 'ingress', 'egress' | 'ingress'>((v) =>
  v === 'egress' || v === 'ingress' ? v : new Refusal(`expected 'egress' or 'ingress', got ${shown(v)}`),
);
const mirredAction = field<'redirect' | 'mirror', 'redirect' | 'mirror'>((v) =>
  v === 'redirect' || v === 'mirror' ? v : new Refusal(`expected 'redirect' or 'mirror', got ${shown(v)}`),
);

/** `action mirred egress redirect dev b0`: the device by name or index. */
export const MirredSpec = spec({
  kind: literal('mirred'),
  direction: direction.optional(),
  action: mirredAction.optional(),
  dev: ifRef,
});

/** `match u32 VALUE MASK at OFFSET` */
export const U32KeySpec = spec({ value: u32, mask: u32, at: s32.optional() });

const matchField = field<'all' | readonly z.input<typeof U32KeySpec>[], U32Key[]>((v) => {
  if (v === 'all') return [{ value: 0, mask: 0, at: 0 }];
  if (!Array.isArray(v) || v.length === 0 || v.length > 128) {
    return new Refusal(`expected 'all' or a list of 1 to 128 keys { value, mask, at }, got ${shown(v)}`);
  }
  const keys: U32Key[] = [];
  for (const k of v) {
    const r = U32KeySpec.safeParse(k);
    if (!r.success) return new Refusal(`${shown(k)} is not a key { value, mask, at }`);
    keys.push({ value: r.data.value, mask: r.data.mask, at: r.data.at ?? 0 });
  }
  return keys;
});

const base = {
  ifname: ifname.optional(),
  index: ifindex.optional(),
  parent: filterParent.optional(),
  protocol: protocolField.optional(),
  priority: u16.optional(),
  handle: u32Handle.optional(),
};

/**
 * `tc filter add dev a0 parent ffff: protocol all u32 match u32 0 0 action
 * mirred egress redirect dev b0` is `{ ifname: 'a0', kind: 'u32', match:
 * 'all', action: { kind: 'mirred', dev: 'b0' } }` (parent 'ingress' and
 * protocol 'all' are the defaults).
 */
export const U32FilterSpec = spec({
  ...base,
  kind: literal('u32'),
  match: matchField.optional(),
  action: MirredSpec,
});
export type U32FilterSpec = z.input<typeof U32FilterSpec>;
export type FilterSpec = U32FilterSpec;

/** `tc filter del`: a whole priority (its protocol given), or one filter by handle within it. */
export const FilterKey = spec({ ...base, kind: text(15, 'a classifier kind').optional() });
export type FilterKey = z.input<typeof FilterKey>;

/** `tc filter show dev a0 parent ffff:`: the kernel dumps one device's filters under one parent. */
export const FilterFilter = spec({ ...base, kind: text(15, 'a classifier kind').optional() });
export type FilterFilter = z.input<typeof FilterFilter>;

async function build(cmd: Command, input: unknown, ctx: BuildContext): Promise<Request> {
  const header: Record<string, number> = { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: 0, handle: 0, parent: 0, info: 0 };
  if (cmd === 'dump' || cmd === 'get') {
    const f = parseSpec(FilterFilter, input, `filter ${cmd}`);
    const dev = deviceOf(f, cmd);
    if (dev === undefined) {
      throw new ValidationError(`filter ${cmd}: name the interface (the kernel lists one device's filters)`, 'ifname');
    }
    header.ifindex = await ctx.index(dev, 'ifname');
    header.parent = f.parent ?? FILTER_PARENT_INGRESS_QDISC;
    const keep = keepMatching({
      kind: f.kind,
      priority: f.priority,
      protocol: f.protocol === undefined ? undefined : protocolName(f.protocol),
      handle: f.handle === undefined ? undefined : formatU32Handle(f.handle),
    });
    return { type: RTM_GETTFILTER, flags: NEW_FLAGS.dump, body: { header, attrs: {} }, keep };
  }
  const what = `filter ${cmd}`;
  const s =
    cmd === 'del'
      ? parseSpec(FilterKey, input, what)
      : (parseSpec(U32FilterSpec, input, what) as z.output<typeof U32FilterSpec> & { kind: string });
  const dev = deviceOf(s, cmd);
  if (dev === undefined) throw new ValidationError(`${what}: name the interface with ifname or index`, 'ifname');
  header.ifindex = await ctx.index(dev, 'ifname');
  header.parent = s.parent ?? FILTER_PARENT_INGRESS_QDISC;
  header.handle = s.handle ?? 0;
  const protocol = s.protocol ?? (cmd === 'del' ? 0 : FILTER_PROTOCOLS.all);
  header.info = filterInfo(s.priority ?? 0, protocol as number);
  if (cmd === 'del' && s.handle !== undefined && s.priority === undefined) {
    throw new ValidationError(`${what}: a filter deleted by handle needs its priority (and protocol)`, 'priority');
  }
  const attrs: Attrs = {};
  if (s.kind !== undefined) attrs.kind = s.kind;
  if (cmd !== 'del') {
    const f = s as z.output<typeof U32FilterSpec>;
    attrs.options = { act: { 1: await mirred(f.action, ctx) }, sel: encodeSel(f.match ?? [{ value: 0, mask: 0, at: 0 }], true) };
  }
  return { type: cmd === 'del' ? RTM_DELTFILTER : RTM_NEWTFILTER, flags: FILTER_FLAGS[cmd], body: { header, attrs } };
}

/** tc's flags: a filter `replace` is CREATE alone, a `change` neither CREATE nor REPLACE. */
const FILTER_FLAGS: Record<'add' | 'set' | 'replace' | 'del', number> = {
  add: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
  replace: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE,
  set: NLM_F.REQUEST | NLM_F.ACK,
  del: NLM_F.REQUEST | NLM_F.ACK,
};

async function mirred(a: z.output<typeof MirredSpec>, ctx: BuildContext): Promise<Attrs> {
  const direction = a.direction ?? 'egress';
  const action = a.action ?? 'redirect';
  return {
    kind: 'mirred',
    options: {
      parms: {
        index: 0,
        capab: 0,
        // tc's defaults: a redirect steals the packet, a mirror lets it go on.
        action: action === 'redirect' ? TC_ACT_STOLEN : TC_ACT_PIPE,
        refcnt: 0,
        bindcnt: 0,
        eaction: MIRRED_EACTIONS[`${direction} ${action}`] as number,
        ifindex: await ctx.index(a.dev, 'action.dev'),
      },
    },
  };
}

function deviceOf(s: { ifname?: string; index?: number }, cmd: Command): string | number | undefined {
  if (s.ifname !== undefined && s.index !== undefined) {
    throw new ValidationError(`filter ${cmd}: name the interface once, by index or by ifname`, 'ifname');
  }
  return s.index ?? s.ifname;
}

/** Only for the option lists of error messages: the classifiers built here. */
export const FILTER_KINDS = ['u32'] as const;

export const filter: Family<FilterRecord> = {
  name: 'filter',
  types: { new: RTM_NEWTFILTER, del: RTM_DELTFILTER, get: RTM_GETTFILTER },
  body: filterBody,
  build,
  toRecord: filterToRecord,
};

/** A dump of one device's filters under one parent (what a store asks again when an event cannot be trusted). */
export function filterDumpQuery(index: number, parent: number): { type: number; flags: number; body: Body } {
  return {
    type: RTM_GETTFILTER,
    flags: NEW_FLAGS.dump,
    body: { header: { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: index, handle: 0, parent, info: 0 }, attrs: {} },
  };
}
