/**
 * What the kernel will do on its own while a plan runs, predicted from the
 * store before the first request goes out (see KERNEL-NOTES.md, "Silent
 * removals"):
 *
 * - removing a primary IPv4 address removes its secondaries (the kernel's
 *   default, promote_secondaries=0);
 * - a link left without any IPv4 address, even for a moment between the
 *   removal and the addition phases (an address swap), loses every IPv4
 *   route through it;
 * - a removed address takes the routes that use it as preferred source;
 * - a link that goes away, moves, goes down or changes master loses its
 *   routes and neighbours; one that goes down also loses its IPv6 addresses
 *   (keep_addr_on_down=0);
 * - a lower link's smaller MTU caps the links stacked on it;
 * - a bridge whose MAC the kernel chose takes its lowest port's MAC, and
 *   all zeros when its last port leaves.
 *
 * Everything at risk is kept here, as stored rows, so a rollback puts it
 * back; what the target keeps although the kernel took it for a moment (a
 * secondary of a swapped primary, routes through a link whose only address
 * was swapped) the plan puts back itself.
 */
import type { Database } from '../db/database.js';
import { isLinkLocal, neighbourOf, uppersOf } from './current.js';
import type { Staging } from './plan.js';
import type { AddressAttributes, InterfaceTarget, NeighbourTarget, Staged } from './staged.js';

const IFA_F_SECONDARY = 0x01;
/** IFA_F_* bits a request can set, by the names `addIp` takes. */
const SETTABLE_FLAGS: Record<string, number> = {
  nodad: 0x02,
  homeaddress: 0x10,
  managetempaddr: 0x100,
  noprefixroute: 0x200,
  mcautojoin: 0x400,
};
const FOREVER = 0xffffffff;

/** One address the kernel may take, and what it takes to put it back as it was. */
export interface AddressAtRisk {
  netns: string;
  ifname: string;
  cidr: string;
  attrs: AddressAttributes;
  /** The target keeps it: the plan puts it back itself once the kernel took it. */
  kept: boolean;
}

/** One stored route the kernel may take. */
export interface RouteAtRisk {
  netns: string;
  body: Buffer;
  /** The target keeps what it depends on: the plan puts it back itself. */
  kept: boolean;
}

/** One neighbour the kernel may take; `kept`: the target keeps it, so the plan puts it back. */
export type NeighbourAtRisk = NeighbourTarget & { kept: boolean };

export interface SideEffects {
  routes: RouteAtRisk[];
  addresses: AddressAtRisk[];
  neighbours: NeighbourAtRisk[];
  /** MTUs of the links stacked on a changed one. */
  uppers: { netns: string; ifname: string; mtu: number }[];
  /** Interface names by index as they were: a link put back by a rollback may have a new index. */
  names: Map<string, Map<number, string>>;
}

/** One address as the kernel listed it: where, with which label, and what re-adding it needs. */
export interface ListedAddress {
  cidr: string;
  label?: string;
  attrs: AddressAttributes;
}

/**
 * Facts about addresses: from the store, and for the links a commit takes
 * addresses from (removes some, sets it down, renames it: a rename relabels
 * IPv4 addresses), the kernel's own list read before the first request:
 * its order and labels, which the store does not keep.
 */
export class AddressBook {
  private readonly lists = new Map<string, { netns: string; ifname: string; index: number; addresses: ListedAddress[] }>();

  constructor(private readonly db: Database) {}

  /** A book with the lists a journal entry kept (a recovery in another process). */
  static from(db: Database, lists: { netns: string; ifname: string; index: number; addresses: ListedAddress[] }[]): AddressBook {
    const book = new AddressBook(db);
    for (const l of lists) book.lists.set(`${l.netns}|${l.ifname}`, l);
    return book;
  }

  /** Reads the kernel's lists of the links whose addresses a commit may disturb. */
  async readLists(staging: Staging, dump: (netns: string, index: number) => Promise<Record<string, unknown>[]>): Promise<void> {
    for (const s of staging.interfaces) {
      const { base, target } = s;
      if (base?.index === undefined || !target || base.netns !== target.netns) continue;
      const disturbed =
        (base.state === 'up' && target.state === 'down') ||
        base.ifname !== target.ifname ||
        base.ipaddr.some((a) => !target.ipaddr.includes(a));
      if (!disturbed) continue;
      const addresses = (await dump(base.netns, base.index)).map((r) => {
        const cidr = `${r.local ?? r.address}/${r.prefixlen}`;
        return { cidr, label: r.label as string | undefined, attrs: attributesOf(r, base.ifname, cidr) };
      });
      this.lists.set(`${base.netns}|${base.ifname}`, { netns: base.netns, ifname: base.ifname, index: base.index, addresses });
    }
  }

  /** The links whose list was read, with it. */
  listed(): Iterable<{ netns: string; ifname: string; index: number; addresses: ListedAddress[] }> {
    return this.lists.values();
  }

  /** Where an address sits in its link's list (higher: later); -1 when not known. */
  rank(netns: string, ifname: string, cidr: string): number {
    return this.lists.get(`${netns}|${ifname}`)?.addresses.findIndex((a) => a.cidr === cidr) ?? -1;
  }

  private record(netns: string, ifname: string, cidr: string): Record<string, unknown> | undefined {
    const [address, plen] = cidr.split('/');
    return this.db.addresses.get({ netns, ifname, address, prefixlen: Number(plen) });
  }

  isSecondary(netns: string, ifname: string, cidr: string): boolean {
    return !!(((this.record(netns, ifname, cidr)?.flags as number | undefined) ?? 0) & IFA_F_SECONDARY);
  }

  /** What re-adding the address needs to make it as it was: label, broadcast, scope, flags, lifetimes. */
  attributes(netns: string, ifname: string, cidr: string): AddressAttributes {
    const listed = this.lists.get(`${netns}|${ifname}`)?.addresses.find((a) => a.cidr === cidr);
    if (listed) return listed.attrs;
    const r = this.record(netns, ifname, cidr);
    return r ? attributesOf(r, ifname, cidr) : {};
  }
}

/** An address record's attributes as an `addIp` would give them (the defaults left out). */
export function attributesOf(r: Record<string, unknown>, ifname: string, cidr: string): AddressAttributes {
  const out: AddressAttributes = {};
  if (typeof r.label === 'string' && r.label !== ifname) out.label = r.label;
  if (typeof r.broadcast === 'string') out.broadcast = r.broadcast;
  if (r.scope !== undefined && r.scope !== 'global' && r.scope !== 0 && !isLinkLocal(cidr)) out.scope = r.scope as string;
  const flags = Object.entries(SETTABLE_FLAGS)
    .filter(([, bit]) => ((r.flags as number) & bit) !== 0)
    .map(([name]) => name);
  if (flags.length) out.flags = flags;
  // The metric of the prefix route the kernel makes for it (`ip addr add ... metric N`).
  if (typeof r.rt_priority === 'number' && r.rt_priority !== 0) out.metric = r.rt_priority;
  // Finite lifetimes count down: what is left now is what a re-added address gets.
  if (typeof r.valid_lft === 'number' && r.valid_lft !== FOREVER) out.valid_lft = r.valid_lft;
  if (typeof r.preferred_lft === 'number' && r.preferred_lft !== FOREVER) out.preferred_lft = r.preferred_lft;
  return out;
}

const isIpv4 = (cidr: string): boolean => !cidr.includes(':');

/** The network an IPv4 'a/len' is in, as a number (for "same subnet as"). */
function network(cidr: string): string {
  const [a, len] = cidr.split('/') as [string, string];
  const n = a.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return `${(n & mask) >>> 0}/${bits}`;
}

/**
 * IPv4 addresses a commit adds to a link that would otherwise be left with
 * none between the removal and the addition phases (an address swap): those
 * in a subnet of their own go in first, so the link never loses its IPv4
 * routes. One in the subnet of a removed primary cannot: it would be that
 * primary's secondary, and go with it.
 */
export function addedFirst(base: InterfaceTarget, target: InterfaceTarget, book: AddressBook): string[] {
  const { netns, ifname } = base;
  const removed = base.ipaddr.filter((a) => isIpv4(a) && !target.ipaddr.includes(a));
  if (removed.length === 0) return [];
  const subnets = new Set(removed.filter((a) => !book.isSecondary(netns, ifname, a)).map(network));
  const left = base.ipaddr.filter(
    (a) => isIpv4(a) && !removed.includes(a) && !(book.isSecondary(netns, ifname, a) && subnets.has(network(a))),
  );
  if (left.length) return [];
  return target.ipaddr.filter((a) => isIpv4(a) && !base.ipaddr.includes(a) && !subnets.has(network(a)));
}

/** Changes after which the kernel removes every route and neighbour through a link. */
function takesLinkState({ base, target }: Staged<InterfaceTarget>): boolean {
  if (!base) return false;
  if (!target) return true;
  if (base.netns !== target.netns) return true;
  if (base.state === 'up' && target.state === 'down') return true;
  return base.master !== target.master;
}

/**
 * What the kernel may remove on its own when these links change, kept as
 * stored rows (decoded only if needed). Only what is at risk: a link can
 * carry a million routes, and removing one of its addresses takes only the
 * routes using it as source, unless the link is left without IPv4.
 */
export function predictSideEffects(db: Database, staging: Staging, book: AddressBook): SideEffects {
  const lists: RouteAtRisk[][] = [];
  const neighbours: NeighbourAtRisk[] = [];
  const names: SideEffects['names'] = new Map();
  const uppers: SideEffects['uppers'] = [];
  const addresses: AddressAtRisk[] = [];
  /** Routes taken for good (their preferred source goes): never put back by the plan, whatever else took them. */
  const lasting = new Set<string>();
  const take = (netns: string, rows: Buffer[], kept: boolean) => lists.push(rows.map((body) => ({ netns, body, kept })));
  for (const s of staging.interfaces) {
    if (!s.base) continue;
    const { netns, ifname } = s.base;
    // A lower link's new MTU caps the MTU of the links stacked on it, with no request of theirs.
    if (s.base.index !== undefined && (!s.target || s.target.mtu !== s.base.mtu || s.target.netns !== netns)) {
      for (const up of uppersOf(db, netns, s.base.index))
        uppers.push({ netns, ifname: up.ifname as string, mtu: up.mtu as number });
    }
    const index = s.base.index as number;
    const linkState = takesLinkState(s);
    if (linkState) {
      take(netns, db.routes.through(netns, index), false);
      for (const n of db.neighbours.list({ netns, ifname })) neighbours.push({ ...neighbourOf(db, n), kept: false });
      // Down, the link loses its IPv6 addresses (the kernel makes its link-local ones again when it comes up).
      if (s.target && s.target.netns === netns && s.base.state === 'up' && s.target.state === 'down') {
        for (const cidr of s.base.ipaddr) {
          if (isIpv4(cidr) || isLinkLocal(cidr)) continue;
          if (s.target.ipaddr.includes(cidr))
            addresses.push({ netns, ifname, cidr, attrs: book.attributes(netns, ifname, cidr), kept: false });
        }
      }
    }
    // What its addresses take with them, for a link that stays (one that goes or moves is put back whole).
    if (s.target && s.target.netns === netns) {
      const target = s.target;
      const removed = s.base.ipaddr.filter((a) => !target.ipaddr.includes(a));
      const removedPrimaries = removed.filter((a) => isIpv4(a) && !book.isSecondary(netns, ifname, a));
      const subnets = new Set(removedPrimaries.map(network));
      // Secondaries go with their primary: those not removed anyway are at risk.
      const taken = s.base.ipaddr.filter(
        (a) => isIpv4(a) && !removed.includes(a) && book.isSecondary(netns, ifname, a) && subnets.has(network(a)),
      );
      for (const cidr of taken) {
        addresses.push({ netns, ifname, cidr, attrs: book.attributes(netns, ifname, cidr), kept: target.ipaddr.includes(cidr) });
      }
      // Between the removal phase and the addition phase: is any IPv4 address left on the link?
      const gone = new Set([...removed, ...taken]);
      const left = [...s.base.ipaddr.filter((a) => isIpv4(a) && !gone.has(a)), ...addedFirst(s.base, target, book)];
      if (!linkState && left.length === 0 && removed.some(isIpv4)) {
        // Without IPv4 the link loses its IPv4 routes and its ARP entries, permanent ones too (arp_ifdown).
        const kept = target.ipaddr.some(isIpv4);
        take(netns, db.routes.through(netns, index, 'inet'), kept);
        for (const n of db.neighbours.list({ netns, ifname, family: 'inet' })) neighbours.push({ ...neighbourOf(db, n), kept });
      }
      for (const cidr of gone) {
        // An IPv4 address takes the routes using it as source; an IPv6 one leaves them without a source.
        const using = db.routes.rows({ netns, prefsrc: cidr.split('/')[0], table: 'all' });
        const kept = target.ipaddr.includes(cidr);
        if (!kept) for (const body of using) lasting.add(`${netns}|${body.toString('latin1')}`);
        take(netns, using, kept);
      }
    }
    if (!names.has(netns)) {
      names.set(netns, new Map(db.interfaces.list({ netns }).map((i) => [i.index as number, i.ifname as string])));
    }
  }
  const routes = lists.flat();
  if (lasting.size) for (const r of routes) if (r.kept && lasting.has(`${r.netns}|${r.body.toString('latin1')}`)) r.kept = false;
  return { routes, neighbours, names, uppers, addresses };
}
