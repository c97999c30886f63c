/**
 * Reading rtnetlink messages straight from their bytes, for the hot paths of
 * the store (a million routes are never decoded into objects to be stored).
 */

export const NLMSG_HDRLEN = 16;
const NLA_TYPE_MASK = 0x3fff;

export { forEachAttr } from '../backends/netlink/codec/attributes.js';

/**
 * The message's body (family header and attributes) without the attributes
 * whose type is in `drop`: counters and timestamps that change with no event,
 * and would make two reads of one unchanged object differ.
 */
export function bodyWithout(buf: Buffer, off: number, len: number, headerLen: number, drop: ReadonlySet<number>): Buffer {
  const start = off + NLMSG_HDRLEN;
  const end = off + len;
  let keep: [number, number][] | undefined;
  let at = start + headerLen;
  let kept = start + headerLen;
  while (at + 4 <= end) {
    const alen = buf.readUInt16LE(at);
    if (alen < 4 || at + alen > end) break;
    const next = Math.min(at + ((alen + 3) & ~3), end);
    if (drop.has(buf.readUInt16LE(at + 2) & NLA_TYPE_MASK)) {
      (keep ??= []).push([kept, at]);
      kept = next;
    }
    at = next;
  }
  if (!keep) return Buffer.from(buf.subarray(start, end));
  keep.push([kept, end]);
  const parts = [buf.subarray(start, start + headerLen), ...keep.map(([a, b]) => buf.subarray(a, b))];
  return Buffer.concat(parts);
}

/**
 * An address as a column value that sorts like the address: IPv4 as an
 * integer, IPv6 as 16 bytes. With the prefix length folded in (`withLen`),
 * it is the route's destination key; the kernel dumps in that order, so
 * inserts append to the index instead of scattering.
 */
export function ipKey(buf: Buffer, at: number, alen: number, plen = -1): number | Buffer {
  if (alen === 4) {
    const v = buf.readUInt32BE(at);
    return plen < 0 ? v : v * 256 + plen;
  }
  const out = Buffer.allocUnsafe(plen < 0 ? 16 : 17);
  buf.copy(out, 0, at, at + 16);
  if (plen >= 0) out[16] = plen;
  return out;
}

/** The key of a prefix given as bytes (4 or 16) and a length; a zero-length prefix has no bytes. */
export function prefixKey(bytes: Buffer | undefined, family: number, plen: number): number | Buffer {
  const size = family === 2 ? 4 : 16;
  const b = bytes ?? Buffer.alloc(size);
  return ipKey(b, 0, size, plen);
}

/** A stored body (family header, then attributes) without the attributes whose type is in `drop`. */
export function storedBodyWithout(body: Buffer, headerLen: number, drop: ReadonlySet<number>): Buffer {
  const msg = Buffer.alloc(NLMSG_HDRLEN + body.length);
  msg.writeUInt32LE(msg.length, 0);
  body.copy(msg, NLMSG_HDRLEN);
  return bodyWithout(msg, 0, msg.length, headerLen, drop);
}
