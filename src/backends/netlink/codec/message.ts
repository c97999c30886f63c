/**
 * Whole netlink messages: nlmsghdr + a family body (fixed header and
 * attributes), or an ack/error with its extended-ack attributes. The codec
 * never does I/O: bytes in, plain objects out, and back.
 */

import { NLM_F, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from '../constants.js';
import { address } from '../families/address.js';
import type { Family } from '../families/family.js';
import { filter } from '../families/filter.js';
import { link, RTM_SETLINK } from '../families/link.js';
import { RTM_DELLINKPROP, RTM_NEWLINKPROP } from '../families/link-property.js';
import { neighbour } from '../families/neighbour.js';
import { qdisc } from '../families/qdisc.js';
import { route } from '../families/route.js';
import { rule } from '../families/rule.js';
import { type Body, decodeAttrs, decodeSchema, encodeSchema, type Schema, schema } from './attributes.js';
import { NLMSG_HDRLEN, readHeader, writeHeader } from './header.js';
import { Writer } from './writer.js';

export const FAMILIES = { link, address, route, rule, neighbour, qdisc, filter } as const;
export type FamilyName = keyof typeof FAMILIES;

interface TypeInfo {
  name: string;
  family?: Family<object>;
}

const TYPES = new Map<number, TypeInfo>([
  [NLMSG_NOOP, { name: 'NLMSG_NOOP' }],
  [NLMSG_ERROR, { name: 'NLMSG_ERROR' }],
  [NLMSG_DONE, { name: 'NLMSG_DONE' }],
  [NLMSG_OVERRUN, { name: 'NLMSG_OVERRUN' }],
  [RTM_SETLINK, { name: 'RTM_SETLINK', family: link as Family<object> }],
  [RTM_NEWLINKPROP, { name: 'RTM_NEWLINKPROP', family: link as Family<object> }],
  [RTM_DELLINKPROP, { name: 'RTM_DELLINKPROP', family: link as Family<object> }],
]);
const TYPE_NUMBERS = new Map<string, number>();
const FAMILY_TAGS: Record<FamilyName, string> = {
  link: 'LINK',
  address: 'ADDR',
  route: 'ROUTE',
  rule: 'RULE',
  neighbour: 'NEIGH',
  qdisc: 'QDISC',
  filter: 'TFILTER',
};
for (const [key, fam] of Object.entries(FAMILIES) as [FamilyName, Family<object>][]) {
  const tag = FAMILY_TAGS[key];
  TYPES.set(fam.types.new, { name: `RTM_NEW${tag}`, family: fam });
  TYPES.set(fam.types.del, { name: `RTM_DEL${tag}`, family: fam });
  TYPES.set(fam.types.get, { name: `RTM_GET${tag}`, family: fam });
}
for (const [n, info] of TYPES) TYPE_NUMBERS.set(info.name, n);

export function typeName(type: number): string {
  return TYPES.get(type)?.name ?? `NLMSG_${type}`;
}

export function typeNumber(type: string | number): number {
  if (typeof type === 'number') return type;
  const n = TYPE_NUMBERS.get(type);
  if (n === undefined) throw new Error(`unknown netlink message type ${type}`);
  return n;
}

export function familyOfType(type: number): Family<object> | undefined {
  return TYPES.get(type)?.family;
}

/** NLMSGERR_ATTR_*: the extended ack. */
export const extackSchema: Schema = schema('NLMSGERR_ATTR', [
  [1, 'msg', 'asciiz'],
  [2, 'offset', 'u32'],
  [3, 'cookie', 'binary'],
  [4, 'policy', 'binary'],
  [5, 'miss_type', 'u32'],
  [6, 'miss_nest', 'u32'],
]);

export interface Ack {
  /** 0 for success, else the negative errno. */
  error: number;
  /** The echoed request's header (and, uncapped, its body as hex). */
  request?: { len: number; type: number; flags: number; seq: number; pid: number };
  extack?: { msg?: string; offset?: number; [k: string]: unknown };
}

export interface Message {
  /** 'RTM_NEWLINK', 'NLMSG_ERROR', ... */
  type: string;
  flags: number;
  seq: number;
  pid: number;
  /** Family messages: the decoded ifinfomsg/rtmsg/... and attributes. */
  body?: Body;
  /** NLMSG_ERROR and NLMSG_DONE. */
  ack?: Ack;
  /** A message of a type the codec does not know, as hex. */
  raw?: string;
}

/** Decodes one message at `off`; the caller advances by NLMSG_ALIGN(len). */
export function decodeMessage(buf: Buffer, off: number): Message {
  const h = readHeader(buf, off);
  const end = off + h.len;
  const start = off + NLMSG_HDRLEN;
  const msg: Message = { type: typeName(h.type), flags: h.flags, seq: h.seq, pid: h.pid };
  if (h.type === NLMSG_ERROR) {
    msg.ack = decodeError(buf, start, end, h.flags);
  } else if (h.type === NLMSG_DONE) {
    const ack: Ack = { error: end - start >= 4 ? buf.readInt32LE(start) : 0 };
    if (h.flags & NLM_F.ACK_TLVS) ack.extack = decodeAttrs(extackSchema, buf, start + 4, end) as Ack['extack'];
    msg.ack = ack;
  } else {
    const fam = familyOfType(h.type);
    if (fam) msg.body = decodeSchema(fam.body, buf, start, end) as Body;
    else if (end > start) msg.raw = buf.toString('hex', start, end);
  }
  return msg;
}

function decodeError(buf: Buffer, off: number, end: number, flags: number): Ack {
  const ack: Ack = { error: buf.readInt32LE(off) };
  const reqOff = off + 4;
  if (reqOff + NLMSG_HDRLEN > end) return ack;
  ack.request = readHeader(buf, reqOff);
  // With NETLINK_CAP_ACK (NLM_F_CAPPED) only the request's header is echoed.
  const echoed = flags & NLM_F.CAPPED ? NLMSG_HDRLEN : ack.request.len;
  const tlvOff = reqOff + ((echoed + 3) & ~3);
  if (flags & NLM_F.ACK_TLVS && tlvOff < end) ack.extack = decodeAttrs(extackSchema, buf, tlvOff, end) as Ack['extack'];
  return ack;
}

/** All messages of one datagram. */
export function decodeAll(buf: Buffer, off = 0, end = buf.length): Message[] {
  const out: Message[] = [];
  while (off + NLMSG_HDRLEN <= end) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > end) break;
    out.push(decodeMessage(buf, off));
    off += (len + 3) & ~3;
  }
  return out;
}

export interface OutgoingMessage {
  type: string | number;
  flags: number;
  seq: number;
  pid?: number;
  body: Body;
}

/** Appends one message to `w`; returns its offset. */
export function encodeMessage(msg: OutgoingMessage, w: Writer): number {
  const type = typeNumber(msg.type);
  const fam = familyOfType(type);
  if (!fam) throw new Error(`cannot encode message type ${msg.type}`);
  const at = w.skip(NLMSG_HDRLEN);
  encodeSchema(fam.body, msg.body, w);
  writeHeader(w.buf, at, { len: w.pos - at, type, flags: msg.flags, seq: msg.seq, pid: msg.pid ?? 0 });
  w.align4();
  return at;
}

export function encodeToBuffer(msg: OutgoingMessage): Buffer {
  const w = new Writer(256);
  encodeMessage(msg, w);
  // The message's own length excludes trailing alignment padding.
  return w.slice(0).subarray(0, w.buf.readUInt32LE(0));
}
