/**
 * Confirmation: does the store show a staged target? Exact, except where the
 * kernel legitimately adjusts (link-local IPv6 addresses it adds, the
 * protocol and scope it picks for a route, MAC case).
 */
import type { NetState } from '../db/netstate.js';
import { TimeoutError } from '../errors.js';
import { interfaceOf, neighbourOf, routeLookup } from './current.js';
import { canonical } from './diff.js';
import type { InterfaceTarget, NeighbourTarget, RouteTarget, RuleTarget, Staged } from './staged.js';

export function interfaceShown(db: NetState, s: Staged<InterfaceTarget>): boolean {
  const t = s.target;
  const name = (t ?? s.base)?.ifname as string;
  const netns = (t ?? s.base)?.netns as string;
  const rec = db.interfaces.get({ netns, ifname: name });
  if (!t) return rec === undefined;
  if (!rec) return false;
  const cur = interfaceOf(db, rec);
  if (cur.state !== t.state || cur.master !== t.master) return false;
  if (t.mtu !== undefined && cur.mtu !== t.mtu) return false;
  if (t.address !== undefined && cur.address?.toLowerCase() !== t.address.toLowerCase()) return false;
  if (t.ifalias !== undefined && cur.ifalias !== t.ifalias) return false;
  if (t.txqlen !== undefined && cur.txqlen !== t.txqlen) return false;
  // Addresses: what was staged must be there and what was removed gone; the kernel adds its own
  // (127.0.0.1 when lo comes up, IPv6 link-local ones) and those are not ours to judge.
  // A link moved to another namespace arrives there with no addresses: all of the target's are due.
  const had = new Set(s.base && s.base.netns === t.netns ? s.base.ipaddr : []);
  const has = new Set(cur.ipaddr);
  for (const a of t.ipaddr) if (!had.has(a) && !has.has(a)) return false;
  for (const a of had) if (!t.ipaddr.includes(a) && has.has(a)) return false;
  return canonical([...cur.ports].sort()) === canonical([...t.ports].sort());
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

/** Compared on the record itself: this runs once per route of a 100 000-route commit. */
export function routeShown(db: NetState, s: Staged<RouteTarget>, indexOf: IndexOf = indexCache(db)): boolean {
  const t = s.target ?? (s.base as RouteTarget);
  const rec = db.routes.get(routeLookup(t));
  if (!s.target) return rec === undefined;
  if (!rec) return false;
  const tt = s.target;
  if (tt.gateway !== rec.gateway) return false;
  if (tt.dev !== undefined && indexOf(tt.netns, tt.dev) !== rec.oif) return false;
  if (tt.type !== undefined && tt.type !== rec.type) return false;
  if (tt.metrics !== undefined && canonical(tt.metrics) !== canonical(rec.metrics)) return false;
  const hops = (rec.multipath as { gateway?: string; hops: number }[] | undefined) ?? [];
  const key = (h: { gateway?: string; hops: number }[]) => canonical(h.map((x) => [x.gateway ?? null, x.hops]).sort());
  return key(tt.multipath) === key(hops);
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
    const sub = db.applied$.subscribe(() => {
      if (missing.left() === 0) finish();
    });
    const timer = setTimeout(() => {
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
