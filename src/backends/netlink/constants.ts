/** Numbers from <linux/netlink.h> and <linux/rtnetlink.h>. */

export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;

/** setsockopt(SOL_NETLINK, ...) */
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F = {
  REQUEST: 0x01,
  MULTI: 0x02,
  ACK: 0x04,
  ECHO: 0x08,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  // GET requests
  ROOT: 0x100,
  MATCH: 0x200,
  ATOMIC: 0x400,
  DUMP: 0x300,
  // NEW requests
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // ACK messages
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

/** Names of request flags, for error messages ('REQUEST|ACK|CREATE|EXCL'). */
export function flagNames(flags: number, isGet: boolean): string[] {
  const names: string[] = [];
  const table: [number, string][] = [
    [NLM_F.REQUEST, 'REQUEST'],
    [NLM_F.MULTI, 'MULTI'],
    [NLM_F.ACK, 'ACK'],
    [NLM_F.ECHO, 'ECHO'],
  ];
  if (isGet) {
    if ((flags & NLM_F.DUMP) === NLM_F.DUMP) table.push([NLM_F.DUMP, 'DUMP']);
  } else {
    table.push([NLM_F.REPLACE, 'REPLACE'], [NLM_F.EXCL, 'EXCL'], [NLM_F.CREATE, 'CREATE'], [NLM_F.APPEND, 'APPEND']);
  }
  for (const [bit, name] of table) if ((flags & bit) === bit) names.push(name);
  return names;
}

/** Multicast groups (RTNLGRP_*), joined with NETLINK_ADD_MEMBERSHIP. */
export const RTNLGRP = {
  LINK: 1,
  NEIGH: 3,
  /** Traffic control: qdiscs, classes, filters, chains. */
  TC: 4,
  IPV4_IFADDR: 5,
  IPV4_ROUTE: 7,
  IPV4_RULE: 8,
  IPV6_IFADDR: 9,
  IPV6_ROUTE: 11,
  IPV6_RULE: 19,
} as const;

export type RtnlGroup = keyof typeof RTNLGRP;

/** The groups `events$` follows unless told otherwise. */
export const DEFAULT_GROUPS: RtnlGroup[] = [
  'LINK',
  'IPV4_IFADDR',
  'IPV6_IFADDR',
  'IPV4_ROUTE',
  'IPV6_ROUTE',
  'IPV4_RULE',
  'IPV6_RULE',
  'NEIGH',
  'TC',
];

export const AF = { UNSPEC: 0, INET: 2, BRIDGE: 7, INET6: 10, MPLS: 28 } as const;

/** 'inet' / 'inet6' as iproute2 prints them; other families by number. */
export const FAMILY_NAMES: Record<number, string> = {
  0: 'unspec',
  2: 'inet',
  7: 'bridge',
  10: 'inet6',
  28: 'mpls',
  128: 'ipmr',
  129: 'ip6mr',
};
