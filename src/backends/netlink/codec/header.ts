/** struct nlmsghdr: u32 len, u16 type, u16 flags, u32 seq, u32 pid. */
export const NLMSG_HDRLEN = 16;

export interface NlmsgHeader {
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

export function readHeader(buf: Buffer, off: number): NlmsgHeader {
  return {
    len: buf.readUInt32LE(off),
    type: buf.readUInt16LE(off + 4),
    flags: buf.readUInt16LE(off + 6),
    seq: buf.readUInt32LE(off + 8),
    pid: buf.readUInt32LE(off + 12),
  };
}

export function writeHeader(buf: Buffer, off: number, h: NlmsgHeader): void {
  buf.writeUInt32LE(h.len, off);
  buf.writeUInt16LE(h.type, off + 4);
  buf.writeUInt16LE(h.flags, off + 6);
  buf.writeUInt32LE(h.seq >>> 0, off + 8);
  buf.writeUInt32LE(h.pid >>> 0, off + 12);
}
