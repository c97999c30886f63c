/**
 * The kernel's small enumerations with the names iproute2 prints for them
 * (/etc/iproute2/rt_protos, rt_scopes, rt_tables and rtnetlink.h).
 * Records carry the name; specs accept the name or the number.
 */
import { ValidationError } from '../../../errors.js';
import { named, shown, type z } from '../../schema.js';

export class NameTable<K extends string = string> {
  private readonly byName: Map<string, number>;
  private readonly byNumber: Map<number, string>;
  private readonly fields = new Map<number, z.ZodType<number, K | number | `${number}`>>();

  constructor(
    readonly what: string,
    readonly entries: Readonly<Record<K, number>>,
  ) {
    this.byName = new Map(Object.entries(entries));
    this.byNumber = new Map(Object.entries(entries).map(([k, v]) => [v as number, k]));
  }

  /** The name for a number, or the number itself when it has none. */
  name(value: number): string | number {
    return this.byNumber.get(value) ?? value;
  }

  /** A number for a name or number; ValidationError for anything else. */
  number(value: unknown, field: string, max = 255): number {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
    if (typeof value === 'string') {
      const n = this.byName.get(value);
      if (n !== undefined) return n;
      if (/^(0|[1-9]\d{0,9})$/.test(value) && Number(value) <= max) return Number(value);
    }
    throw new ValidationError(
      `${field}: ${shown(value)} is not a ${this.what} (one of ${[...this.byName.keys()].join(', ')}, or 0..${max})`,
      field,
    );
  }

  /** The spec field type: a name or a number in 0..max, parsed into the number. */
  field(max = 255): z.ZodType<number, K | number | `${number}`> {
    let f = this.fields.get(max);
    if (!f) this.fields.set(max, (f = named(this.entries, this.what, max)));
    return f;
  }
}

export const ROUTE_PROTOCOLS = new NameTable('route protocol', {
  unspec: 0,
  redirect: 1,
  kernel: 2,
  boot: 3,
  static: 4,
  gated: 8,
  ra: 9,
  mrt: 10,
  zebra: 11,
  bird: 12,
  dnrouted: 13,
  xorp: 14,
  ntk: 15,
  dhcp: 16,
  mrouted: 17,
  keepalived: 18,
  babel: 42,
  openr: 99,
  bgp: 186,
  isis: 187,
  ospf: 188,
  rip: 189,
  eigrp: 192,
});

export const ROUTE_SCOPES = new NameTable('scope', { universe: 0, global: 0, site: 200, link: 253, host: 254, nowhere: 255 });

export const ROUTE_TYPES = new NameTable('route type', {
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
  nat: 10,
  xresolve: 11,
});

export const ROUTE_TABLES = new NameTable('routing table', { unspec: 0, compat: 252, default: 253, main: 254, local: 255 });
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_MAX = 0xffffffff;

export const RULE_ACTIONS = new NameTable('rule action', {
  unspec: 0,
  to_tbl: 1,
  goto: 2,
  nop: 3,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
});

export const NEIGH_STATES = new NameTable('neighbour state', {
  none: 0x00,
  incomplete: 0x01,
  reachable: 0x02,
  stale: 0x04,
  delay: 0x08,
  probe: 0x10,
  failed: 0x20,
  noarp: 0x40,
  permanent: 0x80,
});

/** IN6_ADDR_GEN_MODE_*: `ip link set X addrgenmode ...`. */
export const ADDR_GEN_MODES = new NameTable('addr_gen_mode', {
  eui64: 0,
  none: 1,
  stable_secret: 2,
  random: 3,
});

export const OPERSTATES = new NameTable('operstate', {
  UNKNOWN: 0,
  NOTPRESENT: 1,
  DOWN: 2,
  LOWERLAYERDOWN: 3,
  TESTING: 4,
  DORMANT: 5,
  UP: 6,
});

/** IFA_F_* address flags by the names `ip addr` prints. */
export const ADDRESS_FLAGS: Record<string, number> = {
  secondary: 0x01,
  nodad: 0x02,
  optimistic: 0x04,
  dadfailed: 0x08,
  homeaddress: 0x10,
  deprecated: 0x20,
  tentative: 0x40,
  permanent: 0x80,
  managetempaddr: 0x100,
  noprefixroute: 0x200,
  mcautojoin: 0x400,
  stable_privacy: 0x800,
};

/** IFF_* link flags by the names iproute2 prints. */
export const LINK_FLAGS: Record<string, number> = {
  UP: 0x1,
  BROADCAST: 0x2,
  DEBUG: 0x4,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  NOTRAILERS: 0x20,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  ALLMULTI: 0x200,
  MASTER: 0x400,
  SLAVE: 0x800,
  MULTICAST: 0x1000,
  PORTSEL: 0x2000,
  AUTOMEDIA: 0x4000,
  DYNAMIC: 0x8000,
  LOWER_UP: 0x10000,
  DORMANT: 0x20000,
  ECHO: 0x40000,
};
export const IFF_UP = 0x1;

export function flagList(value: number, table: Record<string, number>): string[] {
  return Object.entries(table)
    .filter(([, bit]) => (value & bit) !== 0)
    .map(([name]) => name);
}
