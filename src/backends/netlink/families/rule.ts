/**
 * Policy routing rules: RTM_NEWRULE / RTM_DELRULE / RTM_GETRULE with struct
 * fib_rule_hdr. iproute2 equivalent: `ip rule add|del|show`.
 *
 * Rules have no key in the kernel: a delete matches the whole attribute set,
 * and several rules may share a priority.
 */
import { ValidationError } from '../../../errors.js';
import {
  family,
  field,
  flag,
  ifname,
  int,
  named,
  parseSpec,
  prefix,
  Refusal,
  shown,
  spec,
  u8,
  u32,
  type z,
} from '../../schema.js';
import type { Prefix } from '../codec/address.js';
import { type Attrs, type Body, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, FAMILY_NAMES } from '../constants.js';
import {
  type BuildContext,
  type Command,
  either,
  type Family,
  familyName,
  keepMatching,
  NEW_FLAGS,
  type Request,
} from './family.js';
import { ROUTE_PROTOCOLS, ROUTE_TABLES, RT_TABLE_MAIN, RULE_ACTIONS } from './names.js';
import { U16, U32 } from './validate.js';

export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;

export const fibRuleHdr = struct(
  'fib_rule_hdr',
  'family:u8 dst_len:u8 src_len:u8 tos:u8 table:u8 res1:u8 res2:u8 action:u8 flags:u32',
);
const uidRange = struct('fib_rule_uid_range', 'start:u32 end:u32');
const portRange = struct('fib_rule_port_range', 'start:u16 end:u16');

export const ruleBody = schema(
  'FRA',
  [
    [1, 'dst', 'ip'],
    [2, 'src', 'ip'],
    [3, 'iifname', 'asciiz'],
    [4, 'goto', 'u32'],
    [6, 'priority', 'u32'],
    [10, 'fwmark', 'u32'],
    [11, 'flow', 'u32'],
    [12, 'tun_id', 'binary'],
    [13, 'suppress_ifgroup', 'u32'],
    [14, 'suppress_prefixlen', 'u32'],
    [15, 'table', 'u32'],
    [16, 'fwmask', 'u32'],
    [17, 'oifname', 'asciiz'],
    [18, 'pad', 'binary'],
    [19, 'l3mdev', 'u8'],
    [20, 'uid_range', 'struct', { struct: uidRange }],
    [21, 'proto', 'u8'],
    [22, 'ip_proto', 'u8'],
    [23, 'sport_range', 'struct', { struct: portRange }],
    [24, 'dport_range', 'struct', { struct: portRange }],
    [25, 'dscp', 'u8'],
    [26, 'flowlabel', 'be32'],
    [27, 'flowlabel_mask', 'be32'],
    [28, 'sport_mask', 'u16'],
    [29, 'dport_mask', 'u16'],
    [30, 'dscp_mask', 'u8'],
  ],
  fibRuleHdr,
);

/** FIB_RULE_INVERT: `ip rule add not ...` */
export const FIB_RULE_INVERT = 0x2;

/** The record a rule decodes to; fields without `?` are in every rule message of this kernel (6.18). */
export interface RuleRecord {
  family: string;
  /** Absent for the rule of priority 0 (the kernel leaves FRA_PRIORITY out when it is 0). */
  priority?: number;
  table: number;
  action: string | number;
  /** Who made it (FRA_PROTOCOL), by name: kernel, boot, static, ... */
  proto: string | number;
  /** 4294967295 when not set. */
  suppress_prefixlen: number;
  src?: string;
  dst?: string;
  iifname?: string;
  oifname?: string;
  fwmark?: number;
  fwmask?: number;
  goto?: number;
  tos: number;
  flags: number;
  [attr: string]: unknown;
}

export function ruleToRecord(body: Body): RuleRecord {
  const h = body.header;
  const { src, dst, table, proto, ...attrs } = body.attrs as Attrs & {
    src?: string;
    dst?: string;
    table?: number;
    proto?: number;
  };
  const rec = {
    family: FAMILY_NAMES[h.family as number] ?? String(h.family),
    table: table ?? (h.table as number),
    action: RULE_ACTIONS.name(h.action as number),
    tos: h.tos as number,
    flags: h.flags as number,
    ...attrs,
  } as RuleRecord;
  if (src !== undefined) rec.src = `${src}/${h.src_len}`;
  if (dst !== undefined) rec.dst = `${dst}/${h.dst_len}`;
  if (proto !== undefined) rec.proto = ROUTE_PROTOCOLS.name(proto);
  return rec;
}

/** The kernel's "not set" for suppress_prefixlen and suppress_ifgroup: -1, which dumps show as 0xffffffff. */
const NONE = 0xffffffff;

/** A u32 option whose "not set" is -1: the number, or undefined for -1 / 0xffffffff. */
function unlessNone(max: number) {
  return field<number, number | undefined>((v) => {
    if (v === -1 || v === NONE) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return v;
    return new Refusal(`expected an integer in 0..${max} (or -1 for none), got ${shown(v)}`);
  });
}

/** A range of `max`-bounded numbers: { start, end }, [start, end], 'a-b' or a single number. */
function range(max: number) {
  return field<number | string | [number, number] | { start: number; end: number }, { start: number; end: number }>((v) => {
    let start: unknown;
    let end: unknown;
    if (typeof v === 'number') start = end = v;
    else if (typeof v === 'string' && /^\d{1,10}(-\d{1,10})?$/.test(v)) [start, end = start] = v.split('-').map(Number);
    else if (Array.isArray(v) && v.length === 2) [start, end] = v;
    else if (
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      Object.keys(v).every((k) => k === 'start' || k === 'end')
    ) {
      ({ start, end } = v as { start: unknown; end: unknown });
    } else return new Refusal(`expected a range like '1000-2000', [a, b], { start, end } or a number, got ${shown(v)}`);
    const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
    if (!ok(start) || !ok(end)) return new Refusal(`a range of integers in 0..${max}, got ${shown(v)}`);
    if (start > end) return new Refusal(`start ${start} is above end ${end}`);
    return { start, end };
  });
}

const IP_PROTOS = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const;

const ruleFields = {
  /** 'inet' or 'inet6'; taken from src or dst when left out. */
  family: family.optional(),
  priority: u32.optional(),
  /** iproute2's name of priority. */
  pref: u32.optional(),
  /** A number (0..2^32-1) or a name: main, local, default. */
  table: ROUTE_TABLES.field(U32).optional(),
  /** to_tbl (lookup), goto, nop, blackhole, unreachable, prohibit, or the number. */
  action: RULE_ACTIONS.field().optional(),
  src: prefix().optional(),
  dst: prefix().optional(),
  iifname: ifname.optional(),
  oifname: ifname.optional(),
  fwmark: u32.optional(),
  fwmask: u32.optional(),
  /** The priority of the rule to jump to (action goto). */
  goto: int(1, U32).optional(),
  tos: u8.optional(),
  /** FIB_RULE_* bits. */
  flags: u32.optional(),
  /** `ip rule add not ...`: match what the rest does not. */
  invert: flag.optional(),
  /** Routing realm. */
  flow: u32.optional(),
  /** Ignore lookup results with a prefix this long or shorter (-1 or 0xffffffff: none, as dumps show it). */
  suppress_prefixlen: unlessNone(128).optional(),
  suppress_ifgroup: unlessNone(U32).optional(),
  /** Look up the table of the L3 master device (VRF) the packet came through. */
  l3mdev: flag.optional(),
  uid_range: range(U32).optional(),
  /** tcp, udp, icmp, icmpv6, sctp, or the number. */
  ip_proto: named(IP_PROTOS, 'IP protocol').optional(),
  sport_range: range(U16).optional(),
  dport_range: range(U16).optional(),
  /** Who made the rule (FRA_PROTOCOL): boot, static, kernel, ... */
  proto: ROUTE_PROTOCOLS.field().optional(),
};

/** `rule add|del`: like `ip rule add from 10.1.0.0/16 table 100 priority 1000`. */
export const RuleSpec = spec(ruleFields);
export type RuleSpec = z.input<typeof RuleSpec>;

/** `rule dump|get`: by family in the kernel, the rest in record terms. */
export const RuleFilter = spec({
  family: ruleFields.family,
  priority: ruleFields.priority,
  pref: ruleFields.pref,
  table: ruleFields.table,
  action: ruleFields.action,
  src: ruleFields.src,
  dst: ruleFields.dst,
  iifname: ruleFields.iifname,
  oifname: ruleFields.oifname,
  fwmark: ruleFields.fwmark,
  fwmask: ruleFields.fwmask,
  goto: ruleFields.goto,
  tos: ruleFields.tos,
  proto: ruleFields.proto,
});
export type RuleFilter = z.input<typeof RuleFilter>;

function familyOf(given: 4 | 6 | undefined, src: Prefix | undefined, dst: Prefix | undefined): 4 | 6 | undefined {
  let f = given;
  for (const [p, name] of [
    [src, 'src'],
    [dst, 'dst'],
  ] as const) {
    if (!p) continue;
    if (f && p.family !== f) throw new ValidationError(`${name}: ${p.address} is IPv${p.family} where IPv${f} is needed`, name);
    f = p.family;
  }
  return f;
}

/** A fib_rule_hdr of this family (none: AF_UNSPEC) with every other field zero. */
function fibRuleHeader(fam: 4 | 6 | undefined): Record<string, number> {
  const family = fam === 6 ? AF.INET6 : fam === 4 ? AF.INET : AF.UNSPEC;
  return { family, dst_len: 0, src_len: 0, tos: 0, table: 0, res1: 0, res2: 0, action: 0, flags: 0 };
}

async function build(cmd: Command, input: unknown, _ctx: BuildContext): Promise<Request> {
  if (cmd === 'dump' || cmd === 'get') return buildDump(parseSpec(RuleFilter, input, `rule ${cmd}`));
  if (cmd === 'set' || cmd === 'replace') {
    throw new ValidationError(`rule ${cmd}: the kernel cannot change a rule in place; delete it and add the new one`);
  }
  const s = parseSpec(RuleSpec, input, `rule ${cmd}`);
  const fam = familyOf(s.family, s.src, s.dst);
  const header = fibRuleHeader(fam);
  const attrs: Attrs = {};
  if (!fam) throw new ValidationError(`rule ${cmd}: set family ('inet' or 'inet6') or give src/dst`, 'family');

  if (s.dst) {
    header.dst_len = s.dst.length;
    attrs.dst = s.dst.address;
  }
  if (s.src) {
    header.src_len = s.src.length;
    attrs.src = s.src.address;
  }
  if (s.tos !== undefined) header.tos = s.tos;
  if (s.flags !== undefined) header.flags = s.flags;
  if (s.invert) header.flags = (header.flags as number) | FIB_RULE_INVERT;
  if (s.fwmark !== undefined) attrs.fwmark = s.fwmark;
  if (s.fwmask !== undefined) {
    if (s.fwmark === undefined) throw new ValidationError('fwmask: only with fwmark', 'fwmask');
    attrs.fwmask = s.fwmask;
  }
  if (s.iifname !== undefined) attrs.iifname = s.iifname;
  if (s.oifname !== undefined) attrs.oifname = s.oifname;
  if (s.l3mdev !== undefined) attrs.l3mdev = s.l3mdev ? 1 : 0;
  if (s.uid_range !== undefined) attrs.uid_range = s.uid_range;
  if (s.ip_proto !== undefined) attrs.ip_proto = s.ip_proto;
  if (s.sport_range !== undefined) attrs.sport_range = s.sport_range;
  if (s.dport_range !== undefined) attrs.dport_range = s.dport_range;
  if (s.flow !== undefined) attrs.flow = s.flow;
  if (s.proto !== undefined) attrs.proto = s.proto;
  // The kernel reports "none" as 0xffffffff in every dump; taking it back as "none" lets a
  // dumped rule be added again as it is.
  if (s.suppress_prefixlen !== undefined) attrs.suppress_prefixlen = s.suppress_prefixlen;
  if (s.suppress_ifgroup !== undefined) attrs.suppress_ifgroup = s.suppress_ifgroup;

  // As `ip rule`: a new rule looks up a table (main unless told) unless it is a goto or
  // another action; a delete leaves the action open so it matches any.
  if (cmd === 'add') header.action = 1;
  if (s.goto !== undefined) {
    attrs.goto = s.goto;
    header.action = 2;
  }
  if (s.action !== undefined) header.action = s.action;
  if (s.table !== undefined) {
    if (s.table < 256) header.table = s.table;
    else attrs.table = s.table;
  } else if (cmd === 'add' && header.action === 1 && !attrs.l3mdev) {
    header.table = RT_TABLE_MAIN;
  }
  // FRA_PRIORITY last, as `ip rule` writes it when given in its usual place.
  const priority = either(s.priority, s.pref, 'priority', 'pref');
  if (priority !== undefined) attrs.priority = priority;
  return {
    type: cmd === 'del' ? RTM_DELRULE : RTM_NEWRULE,
    flags: cmd === 'add' ? NEW_FLAGS.add : NEW_FLAGS.del,
    body: { header, attrs },
  };
}

async function buildDump(s: z.output<typeof RuleFilter>): Promise<Request> {
  const fam = familyOf(s.family, s.src, s.dst);
  const header = fibRuleHeader(fam);
  const keep = keepMatching({
    family: fam ? familyName(fam) : undefined,
    priority: either(s.priority, s.pref, 'priority', 'pref'),
    table: s.table,
    action: s.action !== undefined ? RULE_ACTIONS.name(s.action) : undefined,
    src: s.src ? `${s.src.address}/${s.src.length}` : undefined,
    dst: s.dst ? `${s.dst.address}/${s.dst.length}` : undefined,
    iifname: s.iifname,
    oifname: s.oifname,
    fwmark: s.fwmark,
    fwmask: s.fwmask,
    goto: s.goto,
    tos: s.tos,
    proto: s.proto !== undefined ? ROUTE_PROTOCOLS.name(s.proto) : undefined,
  });
  return { type: RTM_GETRULE, flags: NEW_FLAGS.dump, body: { header, attrs: {} }, keep };
}

export const rule: Family<RuleRecord> = {
  name: 'rule',
  types: { new: RTM_NEWRULE, del: RTM_DELRULE, get: RTM_GETRULE },
  body: ruleBody,
  build,
  toRecord: ruleToRecord,
};
