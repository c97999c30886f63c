/**
 * A link message's fields read straight from its bytes (ifinfomsg and the
 * attributes below), for the paths that run once per link event or per
 * interface a commit confirms: a full decode costs twenty times more.
 */
import { formatMac } from '../codec/address.js';
import { forEachAttr } from '../codec/attributes.js';

export const IFINFOMSG_LEN = 16;

const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;

export interface LinkBytes {
  index: number;
  /** IFF_* */
  flags: number;
  ifname?: string;
  kind?: string;
  master?: number;
  link?: number;
  /** Set when `link` is an index in another namespace (a veth whose peer lives elsewhere). */
  linkNetnsid?: number;
  mtu?: number;
  txqlen?: number;
  address?: string;
  ifalias?: string;
  /** IF_OPER_*: set by the kernel's delayed link update (linkwatch), after the carrier changed. */
  operstate?: number;
}

type Reader = (buf: Buffer, at: number, len: number) => string | number;
const u32: Reader = (buf, at) => buf.readUInt32LE(at);
const i32: Reader = (buf, at) => buf.readInt32LE(at);
const text: Reader = (buf, at, len) => cString(buf, at, len);
const u8: Reader = (buf, at) => buf[at] as number;

/** IFLA_* attribute → the field it fills and how it is read. */
const ATTRS: Record<number, [keyof LinkBytes, Reader]> = {
  1: ['address', formatMac],
  3: ['ifname', text],
  4: ['mtu', u32],
  5: ['link', i32],
  10: ['master', u32],
  13: ['txqlen', u32],
  16: ['operstate', u8],
  20: ['ifalias', text],
  37: ['linkNetnsid', i32],
};

/** Reads the link whose ifinfomsg starts at `start` (a stored body: 0) and whose attributes end at `end`. */
export function readLink(buf: Buffer, start = 0, end = buf.length): LinkBytes {
  const link: LinkBytes = { index: buf.readInt32LE(start + 4), flags: buf.readUInt32LE(start + 8) };
  const fields = link as unknown as Record<string, string | number>;
  forEachAttr(buf, start + IFINFOMSG_LEN, end, (type, at, len) => {
    const attr = ATTRS[type];
    if (attr) fields[attr[0]] = attr[1](buf, at, len);
    else if (type === IFLA_LINKINFO) {
      forEachAttr(buf, at, at + len, (inner, iat, ilen) => {
        if (inner === IFLA_INFO_KIND) link.kind = cString(buf, iat, ilen);
      });
    }
  });
  return link;
}

/** A NUL-terminated string attribute. */
function cString(buf: Buffer, at: number, len: number): string {
  const nul = buf.indexOf(0, at);
  return buf.toString('utf8', at, nul >= 0 && nul < at + len ? nul : at + len);
}
