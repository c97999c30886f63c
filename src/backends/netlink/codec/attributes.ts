/**
 * Netlink attributes (struct nlattr: u16 len, u16 type, payload, padding to 4)
 * decoded and encoded by schema. A schema is data: one row per attribute with
 * its id, its name as users write it, and its payload type. Attributes the
 * schema does not know are kept under '#<type>' as hex, so nothing is dropped
 * and a decoded message encodes back to the same bytes.
 */
import { formatIp, formatMac, parseIp, parseMac } from './address.js';
import { readScalar, SCALAR_SIZE, type ScalarType, type Struct, writeScalar } from './struct.js';
import type { Writer } from './writer.js';

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = 0x3fff;
const NLA_HDRLEN = 4;

export type AttrType =
  | ScalarType
  /** NLA_STRING: encoded without a terminating NUL (trailing NULs are stripped on decode) */
  | 'string'
  /** NUL-terminated string */
  | 'asciiz'
  /** IPv4 or IPv6 address, by payload length */
  | 'ip'
  /** link-layer address of any length, 'aa:bb:...' */
  | 'mac'
  /** present or absent, no payload */
  | 'flag'
  /** kept as a hex string */
  | 'binary'
  /** attributes inside, by `schema` */
  | 'nested'
  /** one fixed struct, by `struct` */
  | 'struct'
  /** a sequence of length-prefixed structs each followed by attributes (rtnexthop) */
  | 'records';

/**
 * A nested schema picked by the value of an earlier sibling (IFLA_INFO_DATA by
 * IFLA_INFO_KIND). With several siblings, the first one present decides.
 */
export interface SchemaChoice {
  by: string | readonly string[];
  schemas: Readonly<Record<string, Schema>>;
}

export interface AttrSpec {
  id: number;
  name: string;
  type: AttrType;
  schema?: Schema | SchemaChoice;
  struct?: Struct;
  /** The attribute repeats; its values are collected into an array. */
  array?: boolean;
  /** Set NLA_F_NESTED on encode, as the reference encoder does. */
  nestedFlag?: boolean;
}

export type AttrRow = [id: number, name: string, type: AttrType, extra?: Partial<AttrSpec>];

export type Attrs = Record<string, unknown>;

/** A decoded body with a fixed header: `{ header, attrs }`. */
export interface Body {
  header: Record<string, number>;
  attrs: Attrs;
}

export class Schema {
  readonly byId: (AttrSpec | undefined)[] = [];
  readonly byName = new Map<string, AttrSpec>();
  readonly attrs: AttrSpec[];

  constructor(
    readonly name: string,
    rows: readonly AttrRow[],
    /** A fixed struct before the attributes (ifinfomsg, rtmsg, tc_netem_qopt...). */
    readonly header?: Struct,
  ) {
    this.attrs = rows.map(([id, attrName, type, extra]) => ({ id, name: attrName, type, ...extra }));
    for (const spec of this.attrs) {
      this.byId[spec.id] = spec;
      this.byName.set(spec.name, spec);
    }
  }

  /** Attribute names, for error messages that list what is allowed. */
  names(): string[] {
    return this.attrs.map((a) => a.name);
  }
}

export function schema(name: string, rows: readonly AttrRow[], header?: Struct): Schema {
  return new Schema(name, rows, header);
}

function isChoice(s: Schema | SchemaChoice | undefined): s is SchemaChoice {
  return s !== undefined && !(s instanceof Schema);
}

function resolveSchema(spec: AttrSpec, siblings: Attrs): Schema | undefined {
  const s = spec.schema;
  if (!isChoice(s)) return s;
  if (typeof s.by === 'string') {
    const key = siblings[s.by];
    return typeof key === 'string' ? s.schemas[key] : undefined;
  }
  for (const by of s.by) {
    const key = siblings[by];
    if (typeof key === 'string') return s.schemas[key];
  }
  return undefined;
}

// ---------------------------------------------------------------- decoding

/** Decodes a schema'd payload: `{header, attrs}` when it has a header, else the attrs. */
export function decodeSchema(sch: Schema, buf: Buffer, off: number, end: number): Body | Attrs {
  if (!sch.header) return decodeAttrs(sch, buf, off, end);
  const header = sch.header.decode(buf, off);
  const attrs = decodeAttrs(sch, buf, off + align4(sch.header.size), end);
  return { header, attrs };
}

export function decodeAttrs(sch: Schema, buf: Buffer, off: number, end: number): Attrs {
  const out: Attrs = {};
  while (off + NLA_HDRLEN <= end) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > end) break;
    const start = off + NLA_HDRLEN;
    const stop = off + len;
    const spec = sch.byId[rawType & NLA_TYPE_MASK];
    if (spec === undefined) {
      out[`#${rawType}`] = buf.toString('hex', start, stop);
    } else {
      const value = decodeValue(spec, buf, start, stop, out);
      if (spec.array) {
        const list = (out[spec.name] as unknown[] | undefined) ?? [];
        list.push(value);
        out[spec.name] = list;
      } else {
        out[spec.name] = value;
      }
    }
    off += align4(len);
  }
  return out;
}

function decodeValue(spec: AttrSpec, buf: Buffer, start: number, stop: number, siblings: Attrs): unknown {
  const len = stop - start;
  switch (spec.type) {
    case 'string':
    case 'asciiz': {
      let e = stop;
      while (e > start && buf[e - 1] === 0) e--;
      return buf.toString('utf8', start, e);
    }
    case 'ip':
      return formatIp(buf, start, len) ?? buf.toString('hex', start, stop);
    case 'mac':
      return formatMac(buf, start, len);
    case 'flag':
      return true;
    case 'binary':
      return buf.toString('hex', start, stop);
    case 'nested': {
      const sch = resolveSchema(spec, siblings);
      return sch ? decodeSchema(sch, buf, start, stop) : buf.toString('hex', start, stop);
    }
    case 'struct': {
      const st = spec.struct as Struct;
      return len >= st.size ? st.decode(buf, start) : buf.toString('hex', start, stop);
    }
    case 'records':
      return decodeRecords(spec, buf, start, stop, siblings);
    default:
      if (len < SCALAR_SIZE[spec.type]) return buf.toString('hex', start, stop);
      return readScalar(buf, start, spec.type);
  }
}

function decodeRecords(spec: AttrSpec, buf: Buffer, off: number, end: number, siblings: Attrs): Body[] {
  const st = spec.struct as Struct;
  const sch = resolveSchema(spec, siblings);
  const out: Body[] = [];
  while (off + st.size <= end) {
    const len = buf.readUInt16LE(off);
    if (len < st.size || off + len > end) break;
    const header = st.decode(buf, off);
    const attrs = sch ? decodeAttrs(sch, buf, off + align4(st.size), off + len) : {};
    out.push({ header, attrs });
    off += align4(len);
  }
  return out;
}

// ---------------------------------------------------------------- encoding

export function encodeSchema(sch: Schema, value: Body | Attrs, w: Writer): void {
  if (!sch.header) {
    encodeAttrs(sch, value as Attrs, w);
    return;
  }
  const body = value as Body;
  const at = w.skip(align4(sch.header.size));
  sch.header.encode(body.header ?? {}, w.buf, at);
  encodeAttrs(sch, body.attrs ?? {}, w);
}

export function encodeAttrs(sch: Schema, attrs: Attrs, w: Writer): void {
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined || value === false) continue;
    if (key.charCodeAt(0) === 35 /* '#' */) {
      writeRaw(w, Number(key.slice(1)), Buffer.from(value as string, 'hex'));
      continue;
    }
    const spec = sch.byName.get(key);
    if (!spec) throw new Error(`${sch.name}: no attribute named "${key}" (known: ${sch.names().join(', ')})`);
    if (spec.array && Array.isArray(value)) {
      for (const item of value) encodeAttr(spec, item, w, attrs);
    } else {
      encodeAttr(spec, value, w, attrs);
    }
  }
}

function writeRaw(w: Writer, type: number, payload: Buffer): void {
  const at = w.skip(NLA_HDRLEN);
  w.bytes(payload);
  w.buf.writeUInt16LE(NLA_HDRLEN + payload.length, at);
  w.buf.writeUInt16LE(type, at + 2);
  w.align4();
}

function encodeAttr(spec: AttrSpec, value: unknown, w: Writer, siblings: Attrs): void {
  const at = w.skip(NLA_HDRLEN);
  encodeValue(spec, value, w, siblings);
  w.buf.writeUInt16LE(w.pos - at, at);
  w.buf.writeUInt16LE(spec.id | (spec.nestedFlag ? NLA_F_NESTED : 0), at + 2);
  w.align4();
}

function encodeValue(spec: AttrSpec, value: unknown, w: Writer, siblings: Attrs): void {
  switch (spec.type) {
    case 'string':
    case 'asciiz': {
      const b = Buffer.from(String(value), 'utf8');
      w.bytes(b);
      if (spec.type === 'asciiz') w.skip(1);
      return;
    }
    case 'ip': {
      // Builders may hand over the bytes they already parsed.
      const b = Buffer.isBuffer(value) ? value : (parseIp(value as string) ?? Buffer.from(value as string, 'hex'));
      w.bytes(b);
      return;
    }
    case 'mac': {
      const b = parseMac(value as string);
      if (!b) throw new Error(`${spec.name}: "${value}" is not a link-layer address`);
      w.bytes(b);
      return;
    }
    case 'flag':
      return;
    case 'binary':
      w.bytes(Buffer.isBuffer(value) ? value : Buffer.from(value as string, 'hex'));
      return;
    case 'nested': {
      if (typeof value === 'string') {
        w.bytes(Buffer.from(value, 'hex'));
        return;
      }
      const sch = resolveSchema(spec, siblings);
      if (!sch) throw new Error(`${spec.name}: no schema for ${JSON.stringify(siblings)}`);
      encodeSchema(sch, value as Attrs, w);
      return;
    }
    case 'struct': {
      const st = spec.struct as Struct;
      if (typeof value === 'string') {
        w.bytes(Buffer.from(value, 'hex'));
        return;
      }
      const at = w.skip(st.size);
      st.encode(value as Record<string, number>, w.buf, at);
      return;
    }
    case 'records': {
      const st = spec.struct as Struct;
      const sch = resolveSchema(spec, siblings);
      for (const rec of value as Body[]) {
        const at = w.skip(align4(st.size));
        st.encode(rec.header, w.buf, at);
        if (sch) encodeAttrs(sch, rec.attrs ?? {}, w);
        w.buf.writeUInt16LE(w.pos - at, at); // rtnexthop.len covers the struct and its attributes
        w.align4();
      }
      return;
    }
    default: {
      const at = w.skip(SCALAR_SIZE[spec.type]);
      writeScalar(w.buf, at, spec.type, value as number);
    }
  }
}

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Calls `fn(type, valueOffset, valueLength)` for each attribute in [off, end). */
export function forEachAttr(buf: Buffer, off: number, end: number, fn: (type: number, at: number, len: number) => void): void {
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) return;
    fn(buf.readUInt16LE(off + 2) & 0x3fff /* NLA_TYPE_MASK */, off + 4, len - 4);
    off += (len + 3) & ~3;
  }
}
