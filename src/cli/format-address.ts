/**
 * An address as `ip addr` prints it under its link (iproute2's
 * print_addrinfo):
 *
 *       inet 10.0.0.1/24 brd 10.0.0.255 scope global d0
 *          valid_lft forever preferred_lft forever
 */
import type { StoreRecord } from '../index.js';
import { type FormatContext, words } from './format-context.js';

const IFA_F_PERMANENT = 0x80;
const FOREVER = 0xffffffff;

/** IFA_F_* in iproute2's order; secondary is spelled temporary for IPv6; a missing permanent is printed as dynamic. */
const FLAGS: [number, string][] = [
  [0x01, 'secondary'],
  [0x02, 'nodad'],
  [0x04, 'optimistic'],
  [0x08, 'dadfailed'],
  [0x10, 'home'],
  [0x20, 'deprecated'],
  [0x40, 'tentative'],
  [IFA_F_PERMANENT, 'permanent'],
  [0x100, 'mngtmpaddr'],
  [0x200, 'noprefixroute'],
  [0x400, 'autojoin'],
  [0x800, 'stable-privacy'],
];

export function addressFlags(family: unknown, value: unknown): string {
  const flags = typeof value === 'number' ? value : 0;
  const out: string[] = [];
  for (const [bit, name] of FLAGS) {
    if (bit === IFA_F_PERMANENT) {
      if (!(flags & bit)) out.push('dynamic');
    } else if (flags & bit) {
      out.push(bit === 0x01 && family === 'inet6' ? 'temporary' : name);
    }
  }
  return words(...out);
}

const lifetime = (v: unknown): string => (v === undefined || v === FOREVER ? 'forever' : `${String(v)}sec`);

/** The address line (without the lifetimes). */
export function addressLine(r: StoreRecord): string {
  const local = (r.local ?? r.address) as string;
  const peer = r.local !== undefined && r.address !== undefined && r.address !== r.local;
  return words(
    String(r.family),
    peer ? `${local} peer ${r.address}/${r.prefixlen}` : `${local}/${r.prefixlen}`,
    r.broadcast !== undefined && `brd ${r.broadcast}`,
    r.anycast !== undefined && `any ${r.anycast}`,
    `scope ${r.scope}`,
    addressFlags(r.family, r.flags),
    r.label as string | undefined,
  );
}

const lifetimes = (r: StoreRecord): string =>
  `       valid_lft ${lifetime(r.valid_lft)} preferred_lft ${lifetime(r.preferred_lft)}`;

/** As under its link in `ip addr`: indented, with the lifetimes on a second line. */
export function formatAddress(r: StoreRecord): string {
  return `    ${addressLine(r)}\n${lifetimes(r)}`;
}

/** On its own, as `ip monitor` prints it: the link's index and name first. */
export function formatAddressAlone(r: StoreRecord, ctx: FormatContext): string {
  return `${r.index}: ${ctx.ifname(String(r.netns), r.index)}    ${addressLine(r)}\n${lifetimes(r)}`;
}
