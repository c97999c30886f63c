/**
 * What the store needs to know about one kind of kernel object: its table,
 * the columns that identify it (the kernel's own notion of identity) or that
 * queries and cascades look up, how a netlink message becomes a row, and how
 * a row becomes the record users see.
 *
 * Rows keep the object's netlink body as the kernel sent it (minus counters
 * that change with no event); records are decoded from it on demand.
 */

import type { Body } from '../../backends/netlink/codec/attributes.js';
import { decodeSchema } from '../../backends/netlink/codec/attributes.js';
import { FAMILIES, type FamilyName } from '../../backends/netlink/codec/message.js';
import type { Family } from '../../backends/netlink/families/family.js';
import { ANY_FAMILY } from './values.js';

export type KindName = 'interface' | 'address' | 'route' | 'rule' | 'neighbour' | 'qdisc' | 'filter';

/** A row as the store writes it: the column values in `columns` order, then the body. */
export type RowValues = unknown[];

/** A filter field translated to SQL on this kind's table (aliased `t`). */
export type FieldToSql = (value: unknown) => { sql: string; params: unknown[] };

export interface Kind {
  readonly name: KindName;
  /** Plural, as in `db.routes`, and the SQL table's name. */
  readonly table: string;
  /** The netlink family that dumps and encodes it. */
  readonly family: FamilyName;
  /** Column names with SQL types, in insert order; `ns` comes first and `body` last, implicitly. */
  readonly columns: readonly (readonly [name: string, sqlType: string])[];
  /** The columns (besides ns) that identify an object: one row per key. */
  readonly key: readonly string[];
  /** More indexes, as column lists (besides ns). */
  readonly indexes: readonly string[][];
  /** Length of the family header in the body (for attribute surgery). */
  readonly headerLen: number;
  /**
   * A NEW/DEL message (header included) to its row, or undefined when the
   * store does not keep it (bridge port notifications, multicast routing...).
   */
  row(buf: Buffer, off: number, len: number): RowValues | undefined;
  /**
   * True for an object the store does not show although the kernel has it
   * (a NEW message for it removes the row).
   */
  hidden?(buf: Buffer, off: number, len: number): boolean;
  /**
   * More interfaces an object goes through than its `oif` column says
   * (multipath hops), kept in `<table>_oifs` so a link's removal finds them.
   */
  extraOifs?(body: Buffer): number[];
  /**
   * Rows a removal takes with it that no message of their own removes (the
   * filters of an ingress qdisc deleted, all filters of a priority deleted at
   * once): `where` is SQL on their table, for the message's namespace.
   */
  cascade?(buf: Buffer, off: number, len: number): { kind: KindName; where: string; params: unknown[] }[];
  /**
   * The dumps that load this kind, when one dump of `{}` cannot (the kernel
   * lists filters one device and parent at a time); `read` queries the store,
   * whose kinds listed earlier are loaded already.
   */
  dumpSpecs?(read: (sql: string, ...params: unknown[]) => Record<string, unknown>[], ns: number): Record<string, unknown>[];
  /** Filter fields that SQL can answer; the others are matched on records. */
  readonly sqlFields: Readonly<Record<string, FieldToSql>>;
  /** Fields the records have besides the family's attributes and header (computed when decoded). */
  readonly recordFields?: readonly string[];
  /** Filter fields tested on the record by a predicate rather than compared (an address's `network`). */
  readonly recordTests?: Readonly<Record<string, (value: unknown) => (record: Record<string, unknown>) => boolean>>;
}

/** Decodes a stored body into the family's plain record. */
export function decodeBody(family: FamilyName, body: Buffer): Record<string, unknown> {
  const fam = FAMILIES[family] as unknown as Family<Record<string, unknown>>;
  return fam.toRecord(decodeSchema(fam.body, body, 0, body.length) as Body);
}

/** The decoded body of a message (header included). */
export function decodeMessageBody(family: FamilyName, buf: Buffer, off: number, len: number): Body {
  const fam = FAMILIES[family] as unknown as Family<Record<string, unknown>>;
  return decodeSchema(fam.body, buf, off + 16, off + len) as Body;
}

/** `column = ?` */
export function eq(column: string, convert: (v: unknown) => unknown = (v) => v): FieldToSql {
  return (value) => ({ sql: `t.${column} = ?`, params: [convert(value)] });
}

/** An interface given by index, or by name resolved inside the row's own namespace. */
export function byIfname(column: string): FieldToSql {
  return (value) =>
    typeof value === 'number'
      ? { sql: `t.${column} = ?`, params: [value] }
      : { sql: `t.${column} IN (SELECT i.idx FROM interfaces i WHERE i.ns = t.ns AND i.ifname = ?)`, params: [String(value)] };
}

/**
 * A field that names one link, on a kind keyed (ns, family, idx, ...)
 * (addresses, neighbours): every family is named too, so SQLite seeks
 * the link's rows instead of walking the namespace's.
 */
function ofLink(field: FieldToSql): FieldToSql {
  return (value) => {
    const { sql, params } = field(value);
    return { sql: `t.${ANY_FAMILY} AND ${sql}`, params };
  };
}

/** The filter fields that name a link, for kinds keyed (ns, family, idx, ...). */
export const LINK_FIELDS: Record<string, FieldToSql> = {
  index: ofLink(eq('idx')),
  ifindex: ofLink(eq('idx')),
  ifname: ofLink(byIfname('idx')),
  dev: ofLink(byIfname('idx')),
};
