/**
 * A link as `ip link` prints it (iproute2's print_linkinfo), two lines:
 *
 *   2: d1@d0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP mode DEFAULT group default qlen 1000
 *       link/ether f6:da:c3:56:46:b3 brd ff:ff:ff:ff:ff:ff
 *
 * (The store keeps no qdisc: it is left out.)
 */
import type { StoreRecord } from '../index.js';
import { type FormatContext, words } from './format-context.js';

const IFF_UP = 0x1;
const IFF_POINTOPOINT = 0x10;
const IFF_RUNNING = 0x40;

/** IFF_* in the order iproute2 prints them (RUNNING never: NO-CARRIER says its absence). */
const FLAG_ORDER: [string, number][] = [
  ['LOOPBACK', 0x8],
  ['BROADCAST', 0x2],
  ['POINTOPOINT', 0x10],
  ['MULTICAST', 0x1000],
  ['NOARP', 0x80],
  ['ALLMULTI', 0x200],
  ['PROMISC', 0x100],
  ['MASTER', 0x400],
  ['SLAVE', 0x800],
  ['DEBUG', 0x4],
  ['DYNAMIC', 0x8000],
  ['AUTOMEDIA', 0x4000],
  ['PORTSEL', 0x2000],
  ['NOTRAILERS', 0x20],
  ['UP', 0x1],
  ['LOWER_UP', 0x10000],
  ['DORMANT', 0x20000],
  ['ECHO', 0x40000],
];

/** ARPHRD_* names (iproute2's ll_types). */
const LINK_TYPES: Record<number, string> = {
  1: 'ether',
  24: 'ieee1394',
  32: 'infiniband',
  512: 'ppp',
  768: 'ipip',
  769: 'tunnel6',
  772: 'loopback',
  776: 'sit',
  778: 'gre',
  800: 'ieee802.11',
  823: 'gre6',
  65534: 'none',
  65535: 'void',
};

export function linkFlags(value: unknown): string {
  let flags = typeof value === 'number' ? value : 0;
  const names: string[] = [];
  if (flags & IFF_UP && !(flags & IFF_RUNNING)) names.push('NO-CARRIER');
  flags &= ~IFF_RUNNING;
  for (const [name, bit] of FLAG_ORDER) {
    if (flags & bit) {
      names.push(name);
      flags &= ~bit;
    }
  }
  if (flags) names.push(flags.toString(16));
  return `<${names.join(',')}>`;
}

/** The first line: index, name (with the link it sits on), flags and state. `mode` belongs to `ip link` only. */
export function linkHeader(r: StoreRecord, ctx: FormatContext, withMode: boolean): string {
  const netns = String(r.netns);
  let name = String(r.ifname);
  if (r.link !== undefined) {
    if (r.link === 0) name += '@NONE';
    else if (r.link_netnsid !== undefined) name += `@if${r.link}`;
    else name += `@${ctx.ifname(netns, r.link)}`;
  }
  return words(
    `${r.index}: ${name}: ${linkFlags(r.flags)}`,
    r.mtu !== undefined && `mtu ${r.mtu}`,
    r.master !== undefined && `master ${ctx.ifname(netns, r.master)}`,
    r.operstate !== undefined && `state ${r.operstate}`,
    withMode && r.linkmode !== undefined && `mode ${r.linkmode === 1 ? 'DORMANT' : 'DEFAULT'}`,
    r.group !== undefined && `group ${r.group === 0 ? 'default' : r.group}`,
    r.txqlen !== undefined && `qlen ${r.txqlen}`,
  );
}

/** The second line: link type and addresses. */
export function linkLayer(r: StoreRecord): string {
  const type = LINK_TYPES[r.ifi_type as number] ?? `[${r.ifi_type}]`;
  const brd = (r.flags as number) & IFF_POINTOPOINT ? 'peer' : 'brd';
  return `    ${words(
    `link/${type}`,
    r.address as string | undefined,
    r.broadcast !== undefined && `${brd} ${r.broadcast}`,
    r.link_netnsid !== undefined && `link-netnsid ${r.link_netnsid}`,
  )}`;
}

export function formatLink(r: StoreRecord, ctx: FormatContext): string {
  return `${linkHeader(r, ctx, true)}\n${linkLayer(r)}`;
}
