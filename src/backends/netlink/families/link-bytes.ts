/**
 * A link message's fields read straight from its bytes (ifinfomsg and the
 * attributes below), for the paths that run once per link event or per
 * interface a commit confirms: a full decode costs twenty times more.
 */
import { formatMac } from '../codec/address.js';
import { forEachAttr } from '../codec/attributes.js';

export const IFINFOMSG_LEN = 16;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_MASTER = 10;
const IFLA_TXQLEN = 13;
const IFLA_LINKINFO = 18;
const IFLA_IFALIAS = 20;
const IFLA_INFO_KIND = 1;

export interface LinkBytes {
  index: number;
  /** IFF_* */
  flags: number;
  ifname?: string;
  kind?: string;
  master?: number;
  link?: number;
  mtu?: number;
  txqlen?: number;
  address?: string;
  ifalias?: string;
}

/** Reads the link whose ifinfomsg starts at `start` (a stored body: 0) and whose attributes end at `end`. */
export function readLink(buf: Buffer, start = 0, end = buf.length): LinkBytes {
  const link: LinkBytes = { index: buf.readInt32LE(start + 4), flags: buf.readUInt32LE(start + 8) };
  forEachAttr(buf, start + IFINFOMSG_LEN, end, (type, at, len) => {
    switch (type) {
      case IFLA_IFNAME:
        link.ifname = cString(buf, at, len);
        break;
      case IFLA_MTU:
        link.mtu = buf.readUInt32LE(at);
        break;
      case IFLA_LINK:
        link.link = buf.readInt32LE(at);
        break;
      case IFLA_MASTER:
        link.master = buf.readUInt32LE(at);
        break;
      case IFLA_TXQLEN:
        link.txqlen = buf.readUInt32LE(at);
        break;
      case IFLA_ADDRESS:
        link.address = formatMac(buf, at, len);
        break;
      case IFLA_IFALIAS:
        link.ifalias = cString(buf, at, len);
        break;
      case IFLA_LINKINFO:
        forEachAttr(buf, at, at + len, (inner, iat, ilen) => {
          if (inner === IFLA_INFO_KIND) link.kind = cString(buf, iat, ilen);
        });
        break;
    }
  });
  return link;
}

/** A NUL-terminated string attribute. */
function cString(buf: Buffer, at: number, len: number): string {
  const nul = buf.indexOf(0, at);
  return buf.toString('utf8', at, nul >= 0 && nul < at + len ? nul : at + len);
}
