/**
 * Confirmation: does the store show a staged target? Exact, except where the
 * kernel legitimately adjusts (link-local IPv6 addresses it adds, the
 * protocol and scope it picks for a route, MAC case).
 */

import { parseIp } from '../backends/netlink/codec/address.js';
import { ROUTE_TYPES } from '../backends/netlink/families/names.js';
import { decodeBody } from '../db/kinds/kind.js';
import type { NetState } from '../db/netstate.js';
import { forEachAttr } from '../db/raw.js';
import { ClosedError, TimeoutError } from '../errors.js';
import { neighbourOf } from './current.js';
import { canonical } from './diff.js';
import type { InterfaceTarget, NeighbourTarget, RouteTarget, RuleTarget, Staged } from './staged.js';

/** Compared on the stored record: this runs once per interface of a commit (a thousand for 500 veth pairs). */
export function interfaceShown(db: NetState, s: Staged<InterfaceTarget>, indexOf: IndexOf = indexCache(db)): boolean {
  const t = s.target;
  const name = (t ?? s.base)?.ifname as string;
  const netns = (t ?? s.base)?.netns as string;
  const rec = db.interfaces.linkOf(netns, name);
  if (!t) return rec === undefined;
  if (!rec) return false;
  if (((rec.flags & IFF_UP) !== 0) !== (t.state === 'up')) return false;
  const masterIndex = t.master === undefined ? undefined : (indexOf(netns, t.master) ?? -1);
  if (masterIndex !== (rec.master || undefined)) return false;
  if (t.mtu !== undefined && rec.mtu !== t.mtu) return false;
  if (t.address !== undefined && rec.address?.toLowerCase() !== t.address.toLowerCase()) return false;
  if (t.ifalias !== undefined && rec.ifalias !== t.ifalias) return false;
  if (t.txqlen !== undefined && rec.txqlen !== t.txqlen) return false;
  // Addresses: what was staged must be there and what was removed gone; the kernel adds its own
  // (127.0.0.1 when lo comes up, IPv6 link-local ones) and those are not ours to judge.
  // A link moved to another namespace arrives there with no addresses: all of the target's are due.
  const had = new Set(s.base && s.base.netns === t.netns ? s.base.ipaddr : []);
  const has = new Set(rec.ipaddr);
  for (const a of t.ipaddr) if (!had.has(a) && !has.has(a)) return false;
  for (const a of had) if (!t.ipaddr.includes(a) && has.has(a)) return false;
  // Ports: exactly the target's. Most links have none, and one count says so.
  const master = { netns, master: rec.index };
  if (t.ports.length === 0) return db.interfaces.count(master) === 0;
  const ports = db.interfaces.list(master).map((p) => p.ifname as string);
  return canonical(ports.sort()) === canonical([...t.ports].sort());
}

/** Interface names to indexes, per namespace, read once per confirmation round. */
export type IndexOf = (netns: string, ifname: string) => number | undefined;

export function indexCache(db: NetState): IndexOf {
  const cache = new Map<string, number | undefined>();
  return (netns, ifname) => {
    const key = `${netns}|${ifname}`;
    if (!cache.has(key)) cache.set(key, db.interfaces.get({ netns, ifname })?.index as number | undefined);
    return cache.get(key);
  };
}

/**
 * Read from the stored bytes: this runs once per route of a 100 000-route
 * commit. A route with metrics or nexthops is decoded and compared whole.
 */
export function routeShown(db: NetState, s: Staged<RouteTarget>, indexOf: IndexOf = indexCache(db)): boolean {
  const body = db.routes.bodyOf(s.target ?? (s.base as RouteTarget));
  if (!s.target) return body === undefined;
  if (!body) return false;
  const t = s.target;
  if (t.metrics !== undefined || t.multipath.length) return recordMatches(t, decodeBody('route', body), indexOf);
  let gateway = -1;
  let gatewayLen = 0;
  let oif: number | undefined;
  let multipath = false;
  forEachAttr(body, RTMSG_LEN, body.length, (type, at, len) => {
    if (type === RTA_GATEWAY) {
      gateway = at;
      gatewayLen = len;
    } else if (type === RTA_OIF) oif = body.readUInt32LE(at);
    else if (type === RTA_MULTIPATH) multipath = true;
  });
  if (multipath) return false;
  if (t.type !== undefined && ROUTE_TYPES.number(t.type, 'type') !== body[RTM_TYPE_AT]) return false;
  if (t.dev !== undefined && indexOf(t.netns, t.dev) !== oif) return false;
  if (t.gateway === undefined) return gateway < 0;
  const want = gatewayBytes(t.gateway);
  return gateway >= 0 && want.length === gatewayLen && want.equals(body.subarray(gateway, gateway + gatewayLen));
}

const IFF_UP = 0x1;
const RTMSG_LEN = 12;
const RTM_TYPE_AT = 7;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_MULTIPATH = 9;

/** A commit's routes share a few gateways: each is parsed once. */
const gateways = new Map<string, Buffer>();
function gatewayBytes(text: string): Buffer {
  let bytes = gateways.get(text);
  if (!bytes) {
    bytes = parseIp(text) ?? Buffer.alloc(0);
    if (gateways.size > 1024) gateways.clear();
    gateways.set(text, bytes);
  }
  return bytes;
}

function recordMatches(t: RouteTarget, rec: Record<string, unknown>, indexOf: IndexOf): boolean {
  if (t.gateway !== rec.gateway) return false;
  if (t.dev !== undefined && indexOf(t.netns, t.dev) !== rec.oif) return false;
  if (t.type !== undefined && t.type !== rec.type) return false;
  if (t.metrics !== undefined && canonical(t.metrics) !== canonical(rec.metrics)) return false;
  const hops = (rec.multipath as { gateway?: string; hops: number }[] | undefined) ?? [];
  const key = (h: { gateway?: string; hops: number }[]) => canonical(h.map((x) => [x.gateway ?? null, x.hops]).sort());
  return key(t.multipath) === key(hops);
}

export function ruleShown(db: NetState, s: Staged<RuleTarget>): boolean {
  const t = (s.target ?? s.base) as RuleTarget;
  const { netns, ...fields } = t;
  const found = db.rules.list({ netns }).some((r) => Object.entries(fields).every(([k, v]) => canonical(r[k]) === canonical(v)));
  return s.target ? found : !found;
}

export function neighbourShown(db: NetState, s: Staged<NeighbourTarget>): boolean {
  const t = (s.target ?? s.base) as NeighbourTarget;
  const rec = db.neighbours.get({ netns: t.netns, ifname: t.dev, dst: t.dst });
  if (!s.target) return rec === undefined;
  if (!rec) return false;
  const cur = neighbourOf(db, rec);
  return (
    (s.target.lladdr === undefined || cur.lladdr === s.target.lladdr) &&
    (s.target.state === undefined || cur.state === s.target.state)
  );
}

/**
 * Resolves when nothing is missing any more, re-checking after each batch
 * the store applies; the TimeoutError names what never came.
 */
export function waitUntil(db: NetState, missing: { left(): number; names(): string[] }, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (missing.left() === 0) return resolve();
    let timer: NodeJS.Timeout | undefined;
    const sub = db.applied$.subscribe({
      next: () => {
        if (missing.left() === 0) finish();
      },
      // The store closed: nothing will show any more (and its tables are gone).
      complete: () => {
        clearTimeout(timer);
        reject(new ClosedError('the store was closed while a commit waited for the kernel to show its changes'));
      },
    });
    if (sub.closed) return; // closed already: rejected above
    timer = setTimeout(() => {
      sub.unsubscribe();
      const left = missing.names();
      if (left.length === 0) return resolve();
      const more = left.length > 10 ? ` (+${left.length - 10} more)` : '';
      reject(new TimeoutError(`the kernel never showed: ${left.slice(0, 10).join('; ')}${more}`));
    }, timeout);
    function finish(): void {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve();
    }
  });
}
