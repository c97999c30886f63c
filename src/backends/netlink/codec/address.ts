/**
 * IP and link-layer addresses between wire bytes and the strings users write.
 * Parsing uses ipaddr.js; IPv4 formatting is hand-written because it sits on
 * the hot path of every route dump.
 */
import ipaddr from 'ipaddr.js';

export function formatIp(buf: Buffer, off: number, len: number): string | undefined {
  if (len === 4) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  if (len === 16) return ipaddr.fromByteArray(Array.from(buf.subarray(off, off + 16))).toString();
  return undefined;
}

/** Dotted-quad IPv4 without a library call: this runs for every route of a 100k batch. */
function parseIpv4(text: string): Buffer | undefined {
  const out = Buffer.allocUnsafe(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      // '10.0.0.01' is refused, as inet_pton refuses it (some parsers read a leading 0 as octal).
      if (digits === 1 && value === 0) return undefined;
      value = value * 10 + (c - 48);
      if (value > 255) return undefined;
      digits++;
    } else {
      return undefined;
    }
  }
  if (part !== 3 || digits === 0) return undefined;
  out[3] = value;
  return out;
}

/** 4 or 16 bytes for a v4 or v6 address string; undefined when it is not one. */
export function parseIp(text: string): Buffer | undefined {
  if (typeof text !== 'string') return undefined;
  if (!text.includes(':')) return parseIpv4(text);
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  return Buffer.from(ipaddr.IPv6.parse(text).toByteArray());
}

export function ipFamilyOf(text: string): 4 | 6 | undefined {
  const bytes = parseIp(text);
  if (!bytes) return undefined;
  return bytes.length === 4 ? 4 : 6;
}

/** Normalises an address string as the kernel will report it back ('::0001' -> '::1'). */
export function normalizeIp(text: string): string | undefined {
  const bytes = parseIp(text);
  return bytes ? formatIp(bytes, 0, bytes.length) : undefined;
}

export interface Prefix {
  address: string;
  bytes: Buffer;
  length: number;
  family: 4 | 6;
}

/** '10.0.0.0/24' or a bare address (full-length prefix). */
export function parsePrefix(text: string): Prefix | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIp(addr);
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    // '/024' is refused: iproute2 reads a leading 0 as octal (20), others as decimal.
    if (!/^(0|[1-9]\d{0,2})$/.test(lenText)) return undefined;
    length = Number(lenText);
    if (length > max) return undefined;
  }
  return { address: formatIp(bytes, 0, bytes.length) as string, bytes, length, family: bytes.length === 4 ? 4 : 6 };
}

/** Hex pairs with colons, any length (Ethernet, InfiniBand, tunnel endpoints). */
export function formatMac(buf: Buffer, off: number, len: number): string {
  let out = '';
  for (let i = 0; i < len; i++) {
    const b = buf[off + i] as number;
    out += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return out;
}

export function parseMac(text: string): Buffer | undefined {
  if (typeof text !== 'string' || !/^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})*$/.test(text)) return undefined;
  return Buffer.from(text.split(':').map((h) => Number.parseInt(h, 16)));
}

/** A 6-byte unicast Ethernet address (no multicast bit). */
export function isUnicastMac(bytes: Buffer): boolean {
  return bytes.length === 6 && ((bytes[0] as number) & 1) === 0;
}
