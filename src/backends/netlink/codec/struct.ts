/**
 * Fixed-layout C structs (ifinfomsg, rtmsg, rtnexthop, tc_ratespec, ...)
 * described as data: an ordered list of named fields. No padding is implied;
 * write explicit `pad` fields where the C struct has holes.
 */
export type ScalarType = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 'be16' | 'be32';

export const SCALAR_SIZE: Record<ScalarType, number> = {
  u8: 1,
  s8: 1,
  u16: 2,
  s16: 2,
  be16: 2,
  u32: 4,
  s32: 4,
  be32: 4,
  u64: 8,
};

export type StructValue = Record<string, number>;

export interface StructField {
  name: string;
  type: ScalarType;
}

/** u64 values above 2^53 would lose precision as numbers; they stay bigint. */
export function readScalar(buf: Buffer, off: number, type: ScalarType): number {
  switch (type) {
    case 'u8':
      return buf[off] as number;
    case 's8':
      return buf.readInt8(off);
    case 'u16':
      return buf.readUInt16LE(off);
    case 's16':
      return buf.readInt16LE(off);
    case 'be16':
      return buf.readUInt16BE(off);
    case 'u32':
      return buf.readUInt32LE(off);
    case 's32':
      return buf.readInt32LE(off);
    case 'be32':
      return buf.readUInt32BE(off);
    case 'u64': {
      const v = buf.readBigUInt64LE(off);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : (v as unknown as number);
    }
  }
}

export function writeScalar(buf: Buffer, off: number, type: ScalarType, value: number | bigint): void {
  switch (type) {
    case 'u8':
      buf.writeUInt8(Number(value) & 0xff, off);
      return;
    case 's8':
      buf.writeInt8(Number(value), off);
      return;
    case 'u16':
      buf.writeUInt16LE(Number(value) & 0xffff, off);
      return;
    case 's16':
      buf.writeInt16LE(Number(value), off);
      return;
    case 'be16':
      buf.writeUInt16BE(Number(value) & 0xffff, off);
      return;
    case 'u32':
      buf.writeUInt32LE(Number(value) >>> 0, off);
      return;
    case 's32':
      buf.writeInt32LE(Number(value) | 0, off);
      return;
    case 'be32':
      buf.writeUInt32BE(Number(value) >>> 0, off);
      return;
    case 'u64':
      buf.writeBigUInt64LE(BigInt(value), off);
      return;
  }
}

export class Struct {
  readonly size: number;
  private readonly offsets: number[];

  constructor(
    readonly name: string,
    readonly fields: readonly StructField[],
  ) {
    let off = 0;
    this.offsets = fields.map((f) => {
      const at = off;
      off += SCALAR_SIZE[f.type];
      return at;
    });
    this.size = off;
  }

  /** Field names, for callers that route spec keys to the header. */
  has(name: string): boolean {
    return this.fields.some((f) => f.name === name);
  }

  decode(buf: Buffer, off: number): StructValue {
    const out: StructValue = {};
    for (let i = 0; i < this.fields.length; i++) {
      const f = this.fields[i] as StructField;
      out[f.name] = readScalar(buf, off + (this.offsets[i] as number), f.type);
    }
    return out;
  }

  /** Missing fields encode as zero. */
  encode(value: Partial<StructValue>, buf: Buffer, off: number): void {
    for (let i = 0; i < this.fields.length; i++) {
      const f = this.fields[i] as StructField;
      writeScalar(buf, off + (this.offsets[i] as number), f.type, value[f.name] ?? 0);
    }
  }

  toBuffer(value: Partial<StructValue>): Buffer {
    const buf = Buffer.alloc(this.size);
    this.encode(value, buf, 0);
    return buf;
  }
}

/** `struct('ifinfomsg', 'family:u8 pad:u8 ifi_type:u16 index:s32 flags:u32 change:u32')` */
export function struct(name: string, layout: string): Struct {
  const fields = layout
    .trim()
    .split(/\s+/)
    .map((item) => {
      const [field, type] = item.split(':') as [string, ScalarType];
      if (!(type in SCALAR_SIZE)) throw new Error(`struct ${name}: unknown type ${type}`);
      return { name: field, type };
    });
  return new Struct(name, fields);
}
