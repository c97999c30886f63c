/**
 * What the kernel changes without saying so. No event reports these; the
 * store applies them itself, as the kernel does (net/ipv4/fib_semantics.c
 * fib_sync_down_dev / fib_sync_up, net/ipv6/route.c fib6_ifdown,
 * net/core/fib_rules.c), right after the event that caused them:
 *
 * - a link removed (or moved to another namespace) takes every route through
 *   it, its addresses, its neighbours, its qdiscs and their filters;
 * - a link set down loses its IPv4 routes, except host-scope ones; a
 *   multipath route loses only that hop (marked dead) until all are dead;
 * - a link losing carrier marks the routes through it `linkdown` (IPv4 and
 *   IPv6), and gaining it clears the mark;
 * - the last IPv4 address removed from a link takes all its IPv4 routes;
 *   an address removed takes the routes that use it as preferred source;
 * - a rule naming an interface (iif/oif) is `detached` while no interface of
 *   that name exists;
 * - a new veth pair: the end created first is announced before its peer
 *   exists (IFLA_LINK 0) and never again; the peer's announcement fills it in.
 */

import { parseIp } from '../backends/netlink/codec/address.js';
import { IFINFOMSG_LEN, type LinkBytes, readLink } from '../backends/netlink/families/link-bytes.js';
import { addresses, filters, interfaces, neighbours, qdiscs, routes, rules } from './kinds/index.js';
import { decodeBody } from './kinds/kind.js';
import { ANY_FAMILY } from './kinds/values.js';
import { forEachAttr, ipKey, storedBodyWithout } from './raw.js';
import type { RowChange, Store } from './store.js';

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const RTNH_F_DEAD = 1;
const RTNH_F_LINKDOWN = 16;
const RT_SCOPE_HOST = 254;
const RTN_LOCAL = 2;
const RTN_ANYCAST = 4;
const RTA_MULTIPATH = 9;
const FIB_RULE_IIF_DETACHED = 0x8;
const FIB_RULE_OIF_DETACHED = 0x10;
const IFLA_LINK = 5;
const PREFSRC = new Set([7 /* RTA_PREFSRC */]);

type Row = { id: number; body: Buffer };

export class SilentChanges {
  constructor(private readonly store: Store) {}

  /** The changes that follow from `change`, already written to the store. */
  after(change: RowChange): RowChange[] {
    if (change.kind === 'interface') return this.afterInterface(change);
    if (change.kind === 'address' && change.action === 'remove') return this.afterAddressRemoved(change);
    if (change.kind === 'address' && change.action === 'add') return this.afterAddressAdded(change);
    return [];
  }

  /** Read from the bodies' bytes: this runs for every link event (a thousand for 500 new veth pairs). */
  private afterInterface(c: RowChange): RowChange[] {
    const before = c.before ? readLink(c.before) : undefined;
    const after = c.after ? readLink(c.after) : undefined;
    const index = ((after ?? before) as LinkBytes).index;
    const out: RowChange[] = [];
    if (c.action === 'add' && after?.kind === 'veth') out.push(...this.linkPeer(c.ns, after));
    if (c.action === 'remove') {
      out.push(...this.removeRoutesVia(c.ns, index, 0));
      out.push(...this.removeWhere(addresses, c.ns, `${ANY_FAMILY} AND idx = ?`, index));
      out.push(...this.removeWhere(neighbours, c.ns, `${ANY_FAMILY} AND idx = ?`, index));
      // Its qdiscs and filters go with it, unannounced (the kernel sends RTM_DELCHAIN at most).
      out.push(...this.removeWhere(qdiscs, c.ns, 'idx = ?', index));
      out.push(...this.removeWhere(filters, c.ns, 'idx = ?', index));
    } else if (before && after) {
      const was = before.flags;
      const is = after.flags;
      if (was & IFF_UP && !(is & IFF_UP)) out.push(...this.linkDown(c.ns, index, false));
      if (!(was & IFF_UP) && is & IFF_UP) out.push(...this.setHopFlags(c.ns, index, 2, 0, RTNH_F_DEAD));
      // Carrier: the kernel marks the routes through the link when its delayed link update runs
      // (linkwatch, which also sets the operstate and sends this event); a dump read in between
      // shows the link's new carrier with the routes' old mark, so that update sets it right too.
      if ((was ^ is) & IFF_LOWER_UP || (is & IFF_UP && before.operstate !== after.operstate)) {
        const carrier = (is & IFF_LOWER_UP) !== 0;
        out.push(...this.setHopFlags(c.ns, index, 0, carrier ? 0 : RTNH_F_LINKDOWN, carrier ? RTNH_F_LINKDOWN : 0));
      }
    }
    if (c.action !== 'change' || before?.ifname !== after?.ifname) out.push(...this.detachRules(c.ns));
    return out;
  }

  private afterAddressRemoved(c: RowChange): RowChange[] {
    const gone = decodeBody('address', c.before as Buffer);
    if (gone.family === 'inet6') return this.forgetPrefsrc(c.ns, (gone.local ?? gone.address) as string);
    if (gone.family !== 'inet') return [];
    const out: RowChange[] = [];
    const local = (gone.local ?? gone.address) as string;
    const db = this.store;
    const left = db.sql(`SELECT count(*) AS n FROM addresses WHERE ns = ? AND family = 2 AND idx = ?`).get(c.ns, gone.index) as {
      n: number;
    };
    if (left.n === 0) out.push(...this.linkDown(c.ns, gone.index as number, true));
    const elsewhere = db
      .sql(`SELECT count(*) AS n FROM addresses WHERE ns = ? AND family = 2 AND address = ?`)
      .get(c.ns, local) as {
      n: number;
    };
    if (elsewhere.n === 0) {
      const parts = local.split('.').map(Number);
      const key =
        (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
      out.push(...this.removeWhere(routes, c.ns, 'family = 2 AND prefsrc = ?', key));
    }
    return out;
  }

  /**
   * A removed IPv6 address is taken off the routes that used it as their
   * preferred source (rt6_remove_prefsrc): they stay, without a source.
   */
  private forgetPrefsrc(ns: number, address: string): RowChange[] {
    const key = ipKey(parseIp(address) as Buffer, 0, 16);
    const out: RowChange[] = [];
    for (const row of this.store
      .sql('SELECT id, body FROM routes WHERE ns = ? AND family = 10 AND prefsrc = ?')
      .all(ns, key) as Row[]) {
      const change = this.store.rewrite(routes, ns, row, storedBodyWithout(row.body, 12, PREFSRC));
      if (change) out.push(change);
    }
    return out;
  }

  /**
   * An IPv4 address on a link that is up brings the nexthops through it back
   * to life (fib_sync_up): those marked dead when its last address went.
   */
  private afterAddressAdded(c: RowChange): RowChange[] {
    const body = c.after as Buffer;
    if (body[0] !== 2) return [];
    const index = body.readUInt32LE(4);
    const link = this.store.sql('SELECT flags FROM interfaces WHERE ns = ? AND idx = ?').pluck().get(c.ns, index) as
      | number
      | undefined;
    if (link === undefined || (link & IFF_UP) === 0) return [];
    // Only a multipath route keeps a dead hop (a single-path one is removed): only those are looked at.
    return this.setHopFlags(c.ns, index, 2, 0, RTNH_F_DEAD, true);
  }

  /**
   * IPv4 routes through a link that went down (force: its last address went,
   * which spares nothing): single-path ones are removed, multipath ones lose
   * the hop, and go when no hop is left alive.
   */
  private linkDown(ns: number, index: number, force: boolean): RowChange[] {
    const out: RowChange[] = [];
    const dead: Row[] = [];
    for (const row of this.routesVia(ns, index, 2)) {
      if (!force && row.body[6] === RT_SCOPE_HOST) continue;
      const hops = hopsOf(row.body);
      if (hops.length === 0) {
        dead.push(row);
        continue;
      }
      const patched = patchHops(row.body, index, RTNH_F_DEAD | RTNH_F_LINKDOWN, 0);
      if (hopsOf(patched).every((h) => h.flags & RTNH_F_DEAD)) dead.push(row);
      else {
        const change = this.store.rewrite(routes, ns, row, patched);
        if (change) out.push(change);
      }
    }
    out.push(...this.store.removeRows(routes, ns, dead));
    return out;
  }

  /** Sets and clears nexthop flags on the routes through `index` (family 0: both). */
  private setHopFlags(ns: number, index: number, family: number, set: number, clear: number, multipathOnly = false): RowChange[] {
    const out: RowChange[] = [];
    for (const row of this.routesVia(ns, index, family, multipathOnly)) {
      const b = row.body;
      if (b[0] === 2 && b[6] === RT_SCOPE_HOST && set) continue;
      if (b[0] === 10 && (b[7] === RTN_LOCAL || b[7] === RTN_ANYCAST)) continue;
      const hops = hopsOf(b);
      const patched = hops.length ? patchHops(b, index, set, clear) : patchRtmFlags(b, set, clear);
      const change = this.store.rewrite(routes, ns, row, patched);
      if (change) out.push(change);
    }
    return out;
  }

  /** Two index lookups (by device, by nexthop): an OR of the two made SQLite walk every route. */
  private routesVia(ns: number, index: number, family: number, multipathOnly = false): Row[] {
    const fam = family ? ` AND r.family = ${family}` : '';
    const hops = `SELECT r.id, r.body FROM routes_oifs o JOIN routes r ON r.id = o.owner WHERE o.ns = ? AND o.oif = ?${fam}`;
    if (multipathOnly) return this.store.sql(hops).all(ns, index) as Row[];
    return this.store
      .sql(`SELECT r.id, r.body FROM routes r WHERE r.ns = ? AND r.oif = ?${fam} UNION ALL ${hops}`)
      .all(ns, index, ns, index) as Row[];
  }

  private removeRoutesVia(ns: number, index: number, family: number): RowChange[] {
    return this.store.removeRows(routes, ns, this.routesVia(ns, index, family));
  }

  private removeWhere(kind: typeof addresses, ns: number, where: string, ...params: unknown[]): RowChange[] {
    const rows = this.store.sql(`SELECT id, body FROM ${kind.table} WHERE ns = ? AND ${where}`).all(ns, ...params) as Row[];
    return this.store.removeRows(kind, ns, rows);
  }

  /** The first end of a new veth pair learns its peer's index from the peer's announcement. */
  private linkPeer(ns: number, link: LinkBytes): RowChange[] {
    const peer = link.link ?? 0;
    if (!peer || link.linkNetnsid !== undefined) return [];
    const row = this.store.sql('SELECT id, body FROM interfaces WHERE ns = ? AND idx = ?').get(ns, peer) as Row | undefined;
    if (!row) return [];
    let linkAt = -1;
    let linkValue = 0;
    forEachAttr(row.body, IFINFOMSG_LEN, row.body.length, (type, at) => {
      if (type === IFLA_LINK) {
        linkAt = at;
        linkValue = row.body.readInt32LE(at);
      }
    });
    if (linkAt < 0 || linkValue !== 0) return [];
    const updated = Buffer.from(row.body);
    updated.writeInt32LE(link.index, linkAt);
    const change = this.store.rewrite(interfaces, ns, row, updated);
    return change ? [change] : [];
  }

  /** Recomputes the detached flags of rules that name interfaces. */
  private detachRules(ns: number): RowChange[] {
    const db = this.store;
    const exists = db.sql('SELECT 1 FROM interfaces WHERE ns = ? AND ifname = ?').pluck();
    const present = (name: unknown): boolean => exists.get(ns, name) !== undefined;
    const out: RowChange[] = [];
    for (const row of db.sql('SELECT id, body FROM rules WHERE ns = ?').all(ns) as Row[]) {
      if (!namesInterface(row.body)) continue; // most rules do not, and need no decoding
      const rule = decodeBody('rule', row.body);
      if (rule.iifname === undefined && rule.oifname === undefined) continue;
      let flags = row.body.readUInt32LE(8) & ~(FIB_RULE_IIF_DETACHED | FIB_RULE_OIF_DETACHED);
      if (rule.iifname !== undefined && !present(rule.iifname)) flags |= FIB_RULE_IIF_DETACHED;
      if (rule.oifname !== undefined && !present(rule.oifname)) flags |= FIB_RULE_OIF_DETACHED;
      const body = Buffer.from(row.body);
      body.writeUInt32LE(flags, 8);
      const change = this.store.rewrite(rules, ns, row, body);
      if (change) out.push(change);
    }
    return out;
  }
}

const FIB_RULE_HDR_LEN = 12;
const FRA_IIFNAME = 3;
const FRA_OIFNAME = 17;

function namesInterface(rule: Buffer): boolean {
  let named = false;
  forEachAttr(rule, FIB_RULE_HDR_LEN, rule.length, (type) => {
    if (type === FRA_IIFNAME || type === FRA_OIFNAME) named = true;
  });
  return named;
}

interface Hop {
  at: number;
  flags: number;
  ifindex: number;
}

/** The rtnexthop headers inside RTA_MULTIPATH, with their offsets in the body. */
function hopsOf(body: Buffer): Hop[] {
  const hops: Hop[] = [];
  forEachAttr(body, 12, body.length, (type, at, len) => {
    if (type !== RTA_MULTIPATH) return;
    let p = at;
    while (p + 8 <= at + len) {
      const hlen = body.readUInt16LE(p);
      if (hlen < 8) break;
      hops.push({ at: p, flags: body[p + 2] as number, ifindex: body.readInt32LE(p + 4) });
      p += (hlen + 3) & ~3;
    }
  });
  return hops;
}

function patchRtmFlags(body: Buffer, set: number, clear: number): Buffer {
  const out = Buffer.from(body);
  out.writeUInt32LE(((out.readUInt32LE(8) | set) & ~clear) >>> 0, 8);
  return out;
}

/** Flags of the hops through `index`; the route's own flags say what all hops share. */
function patchHops(body: Buffer, index: number, set: number, clear: number): Buffer {
  const out = Buffer.from(body);
  const hops = hopsOf(out);
  for (const h of hops) if (h.ifindex === index) out[h.at + 2] = (h.flags | set) & ~clear & 0xff;
  const all = hopsOf(out).reduce((acc, h) => acc & h.flags, 0xff) & (RTNH_F_DEAD | RTNH_F_LINKDOWN);
  out.writeUInt32LE(((out.readUInt32LE(8) & ~(RTNH_F_DEAD | RTNH_F_LINKDOWN)) | all) >>> 0, 8);
  return out;
}
