/**
 * Policy routing rules: RTM_NEWRULE / RTM_DELRULE / RTM_GETRULE with struct
 * fib_rule_hdr. iproute2 equivalent: `ip rule add|del|show`.
 *
 * Rules have no key in the kernel: a delete matches the whole attribute set,
 * and several rules may share a priority.
 */
import { ValidationError } from '../../../errors.js';
import { type Attrs, type Body, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, FAMILY_NAMES } from '../constants.js';
import { type BuildContext, type Command, type Family, matchesAll, NEW_FLAGS, type Request } from './family.js';
import { ROUTE_PROTOCOLS, RT_TABLE_MAIN, RULE_ACTIONS } from './names.js';
import { tableNumber } from './route.js';
import { checkFamily, checkIfname, checkInt, checkKnownKeys, checkPrefix, U8, U16, U32 } from './validate.js';

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

export interface RuleRecord {
  family: string;
  priority?: number;
  table: number;
  action: string | number;
  src?: string;
  dst?: string;
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
  const rec: RuleRecord = {
    family: FAMILY_NAMES[h.family as number] ?? String(h.family),
    table: table ?? (h.table as number),
    action: RULE_ACTIONS.name(h.action as number),
    tos: h.tos as number,
    flags: h.flags as number,
    ...attrs,
  };
  if (src !== undefined) rec.src = `${src}/${h.src_len}`;
  if (dst !== undefined) rec.dst = `${dst}/${h.dst_len}`;
  if (proto !== undefined) rec.proto = ROUTE_PROTOCOLS.name(proto);
  return rec;
}

const KEYS = new Set([
  'family',
  'priority',
  'pref',
  'table',
  'action',
  'src',
  'dst',
  'iifname',
  'oifname',
  'fwmark',
  'fwmask',
  'goto',
  'tos',
  'flags',
  'invert',
  'flow',
  'suppress_prefixlen',
  'suppress_ifgroup',
  'l3mdev',
  'uid_range',
  'ip_proto',
  'sport_range',
  'dport_range',
  'proto',
]);

/** The kernel's "not set" for suppress_prefixlen (-1 as a u32). */
function isNone(value: unknown): boolean {
  return value === 0xffffffff || value === -1;
}

/** { start, end }, [start, end], 'a-b' or a single number. */
function range(value: unknown, field: string, max: number): { start: number; end: number } {
  let start: unknown;
  let end: unknown;
  if (typeof value === 'number') start = end = value;
  else if (typeof value === 'string' && /^\d+(-\d+)?$/.test(value)) [start, end = start] = value.split('-').map(Number);
  else if (Array.isArray(value)) [start, end] = value;
  else if (value && typeof value === 'object') ({ start, end } = value as { start: unknown; end: unknown });
  const s = checkInt(start, `${field}.start`, 0, max);
  const e = checkInt(end, `${field}.end`, 0, max);
  if (s > e) throw new ValidationError(`${field}: start ${s} is above end ${e}`, field);
  return { start: s, end: e };
}

const IP_PROTOS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 };

async function build(cmd: Command, spec: Record<string, unknown>, _ctx: BuildContext): Promise<Request> {
  checkKnownKeys(spec, KEYS, `rule ${cmd}`);
  if (cmd === 'set' || cmd === 'replace') {
    throw new ValidationError(`rule ${cmd}: the kernel cannot change a rule in place; delete it and add the new one`);
  }
  let family = spec.family !== undefined ? checkFamily(spec.family) : undefined;
  const src = spec.src !== undefined ? checkPrefix(spec.src, 'src', family) : undefined;
  family ??= src?.family;
  const dst = spec.dst !== undefined ? checkPrefix(spec.dst, 'dst', family) : undefined;
  family ??= dst?.family;
  const header: Record<string, number> = {
    family: family === 6 ? AF.INET6 : family === 4 ? AF.INET : AF.UNSPEC,
    dst_len: 0,
    src_len: 0,
    tos: 0,
    table: 0,
    res1: 0,
    res2: 0,
    action: 0,
    flags: 0,
  };
  const attrs: Attrs = {};
  if (cmd === 'dump' || cmd === 'get') return { type: RTM_GETRULE, flags: NEW_FLAGS.dump, body: { header, attrs } };
  if (!family) throw new ValidationError(`rule ${cmd}: set family ('inet' or 'inet6') or give src/dst`, 'family');

  if (dst) {
    header.dst_len = dst.length;
    attrs.dst = dst.address;
  }
  if (src) {
    header.src_len = src.length;
    attrs.src = src.address;
  }
  if (spec.tos !== undefined) header.tos = checkInt(spec.tos, 'tos', 0, U8);
  if (spec.flags !== undefined) header.flags = checkInt(spec.flags, 'flags', 0, U32);
  if (spec.invert) header.flags = (header.flags as number) | FIB_RULE_INVERT;
  if (spec.fwmark !== undefined) attrs.fwmark = checkInt(spec.fwmark, 'fwmark', 0, U32);
  if (spec.fwmask !== undefined) {
    if (spec.fwmark === undefined) throw new ValidationError('fwmask: only with fwmark', 'fwmask');
    attrs.fwmask = checkInt(spec.fwmask, 'fwmask', 0, U32);
  }
  if (spec.iifname !== undefined) attrs.iifname = checkIfname(spec.iifname, 'iifname');
  if (spec.oifname !== undefined) attrs.oifname = checkIfname(spec.oifname, 'oifname');
  if (spec.l3mdev !== undefined) attrs.l3mdev = checkInt(Number(spec.l3mdev), 'l3mdev', 0, 1);
  if (spec.uid_range !== undefined) attrs.uid_range = range(spec.uid_range, 'uid_range', U32);
  if (spec.ip_proto !== undefined) {
    const p = typeof spec.ip_proto === 'string' ? IP_PROTOS[spec.ip_proto] : spec.ip_proto;
    attrs.ip_proto = checkInt(p, 'ip_proto', 0, U8);
  }
  if (spec.sport_range !== undefined) attrs.sport_range = range(spec.sport_range, 'sport_range', U16);
  if (spec.dport_range !== undefined) attrs.dport_range = range(spec.dport_range, 'dport_range', U16);
  if (spec.flow !== undefined) attrs.flow = checkInt(spec.flow, 'flow', 0, U32);
  if (spec.proto !== undefined) attrs.proto = ROUTE_PROTOCOLS.number(spec.proto, 'proto');
  // The kernel reports "none" as 0xffffffff in every dump; taking it back as "none" lets a
  // dumped rule be added again as it is.
  if (spec.suppress_prefixlen !== undefined && !isNone(spec.suppress_prefixlen))
    attrs.suppress_prefixlen = checkInt(spec.suppress_prefixlen, 'suppress_prefixlen', 0, 128);
  if (spec.suppress_ifgroup !== undefined) attrs.suppress_ifgroup = checkInt(spec.suppress_ifgroup, 'suppress_ifgroup', 0, U32);

  // As `ip rule`: a new rule looks up a table (main unless told) unless it is a goto or
  // another action; a delete leaves the action open so it matches any.
  if (cmd === 'add') header.action = 1;
  if (spec.goto !== undefined) {
    attrs.goto = checkInt(spec.goto, 'goto', 1, U32);
    header.action = 2;
  }
  if (spec.action !== undefined) header.action = RULE_ACTIONS.number(spec.action, 'action');
  if (spec.table !== undefined) {
    const t = tableNumber(spec.table);
    if (t < 256) header.table = t;
    else attrs.table = t;
  } else if (cmd === 'add' && header.action === 1 && !attrs.l3mdev) {
    header.table = RT_TABLE_MAIN;
  }
  // FRA_PRIORITY last, as `ip rule` writes it when given in its usual place.
  const priority = spec.priority ?? spec.pref;
  if (priority !== undefined) attrs.priority = checkInt(priority, 'priority', 0, U32);
  return {
    type: cmd === 'del' ? RTM_DELRULE : RTM_NEWRULE,
    flags: cmd === 'add' ? NEW_FLAGS.add : NEW_FLAGS.del,
    body: { header, attrs },
  };
}

async function filter(spec: Record<string, unknown>): Promise<(r: RuleRecord) => boolean> {
  const wanted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'family') wanted.family = checkFamily(value) === 4 ? 'inet' : 'inet6';
    else if (key === 'table') wanted.table = tableNumber(value);
    else if (key === 'pref') wanted.priority = value;
    else if (key === 'src' || key === 'dst') {
      const p = checkPrefix(value, key);
      wanted[key] = `${p.address}/${p.length}`;
    } else wanted[key] = value;
  }
  return (r) => matchesAll(r, wanted);
}

export const rule: Family<RuleRecord> = {
  name: 'rule',
  types: { new: RTM_NEWRULE, del: RTM_DELRULE, get: RTM_GETRULE },
  body: ruleBody,
  build,
  toRecord: ruleToRecord,
  filter,
};
