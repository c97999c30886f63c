/**
 * A staged route: `tx.addRoute(spec)` or `tx.route('10.1.0.0/16')`. Its
 * gateway, device, nexthops and attributes change in place; its priority or
 * table change by removing it and adding it again under the new identity,
 * in one commit (the kernel has no "change the key" request).
 */
import { parseSpec } from '../backends/schema.js';
import { ValidationError } from '../errors.js';
import { RANK } from './interface-handle.js';
import { describeRoute, routeKey } from './names.js';
import { nexthop } from './route-target.js';
import { NexthopSpec, RouteChanges } from './specs.js';
import type { NexthopTarget, RouteTarget, Staged } from './staged.js';
import type { Transaction } from './transaction.js';

export class RouteHandle {
  constructor(
    private readonly tx: Transaction,
    private current: string,
  ) {}

  /** The route's key in the transaction (it changes when `set` moves the route). */
  get key(): string {
    return this.current;
  }

  private get target(): RouteTarget {
    const t = this.staged().target;
    if (!t) throw new ValidationError('this route is staged for removal', 'dst');
    return t;
  }

  /** The route's staging; gone when a route this transaction added was removed again (or moved by another handle). */
  private staged(): Staged<RouteTarget> {
    const s = this.tx.routes.get(this.current);
    if (!s) throw new ValidationError('this route is no longer staged (removed, or moved by set())', 'dst');
    return s;
  }

  /**
   * Stages changes: gateway (via), dev, type, scope, proto, prefsrc,
   * metrics, multipath, onlink; and priority (metric) or table, which move
   * the route (removed under its old identity, added under the new one).
   */
  set(changes: RouteChanges): this {
    this.tx.live();
    const c = parseSpec(RouteChanges, changes, `set of route ${describeRoute(this.target)}`);
    const t = this.target;
    if (c.dst !== undefined && this.tx.routeTarget({ dst: c.dst, family: t.family }, 'set', true).dst !== t.dst) {
      throw new ValidationError('set: dst and family identify a route; remove it and add another', 'dst');
    }
    const moves =
      c.gateway !== undefined || c.via !== undefined || c.dev !== undefined || c.oif !== undefined || c.ifname !== undefined;
    const merged = this.tx.routeTarget(
      {
        ...t,
        ...(moves || c.multipath ? { gateway: undefined, dev: undefined } : {}),
        ...c,
        netns: t.netns,
        dst: t.dst,
        family: t.family,
        priority: c.priority ?? c.metric ?? t.priority,
        multipath: c.multipath ?? (moves ? [] : t.multipath),
      } as Parameters<Transaction['routeTarget']>[0],
      'set',
    );
    const key = routeKey(merged);
    if (key === this.current) {
      this.tx.updateRoute(this.current, (d) => {
        for (const k of Object.keys(d) as (keyof RouteTarget)[]) if (k !== 'multipath') delete d[k];
        Object.assign(d, merged);
      });
      return this;
    }
    // A new identity: the old one goes, the new one comes (both in this commit).
    const there = this.tx.routes.get(key);
    if (there?.target || (!there && this.tx.db.routes.bodyOf(merged))) {
      throw new ValidationError(`set: route ${describeRoute(merged)} exists already`, 'priority');
    }
    const old = this.tx.routes.get(this.current) as Staged<RouteTarget>;
    if (old.base) old.target = undefined;
    else this.tx.routes.delete(this.current);
    this.tx.routes.set(key, { base: there?.base, target: merged, order: old.order });
    this.current = key;
    return this;
  }

  /** Adds a nexthop; a single-path route becomes multipath (its own gateway is the first hop). */
  addNh(spec: NexthopSpec): this {
    this.tx.live();
    const t = this.target;
    const s = parseSpec(NexthopSpec, spec, `addNh on route ${describeRoute(t)}`);
    const hop = nexthop(s, t.family === 'inet' ? 4 : 6, 'addNh', (dev) => {
      this.tx.touchInterface(this.tx.ifKey(dev, t.netns), true);
    });
    this.tx.updateRoute(this.current, (d) => {
      if (d.multipath.length === 0 && (d.gateway !== undefined || d.dev !== undefined)) {
        const first: NexthopTarget = { hops: 0 };
        if (d.gateway) first.gateway = d.gateway;
        if (d.dev) first.dev = d.dev;
        if (d.onlink) first.onlink = true;
        d.multipath.push(first);
        delete d.gateway;
        delete d.dev;
        delete d.onlink;
      }
      if (d.multipath.some((h) => h.gateway === hop.gateway && h.dev === hop.dev)) {
        throw new ValidationError(`addNh: nexthop ${hop.gateway ?? hop.dev} is on this route already`, 'gateway');
      }
      d.multipath.push(hop);
    });
    return this;
  }

  /** Removes a nexthop (by gateway, or dev); down to one, the route is single-path again. */
  delNh(spec: NexthopSpec): this {
    this.tx.live();
    const s = parseSpec(NexthopSpec, spec, `delNh on route ${describeRoute(this.target)}`);
    const gateway = s.gateway ?? s.via;
    const dev = s.dev ?? s.oif ?? s.ifname;
    if (gateway === undefined && dev === undefined)
      throw new ValidationError('delNh: name the nexthop by gateway or dev', 'gateway');
    this.tx.updateRoute(this.current, (d) => {
      const i = d.multipath.findIndex(
        (h) => (gateway === undefined || h.gateway === gateway) && (dev === undefined || h.dev === dev),
      );
      if (i < 0) throw new ValidationError(`delNh: no nexthop ${String(gateway ?? dev)} on this route`, 'gateway');
      d.multipath.splice(i, 1);
      if (d.multipath.length === 1) {
        const [last] = d.multipath.splice(0, 1) as [NexthopTarget];
        if (last.gateway) d.gateway = last.gateway;
        if (last.dev) d.dev = last.dev;
        if (last.onlink) d.onlink = true;
      }
    });
    return this;
  }

  /** An explicit priority, as InterfaceHandle.order. */
  order(rank: number): this {
    this.tx.live();
    const checked = parseSpec(RANK, rank, 'order', 'rank');
    this.staged().order = checked;
    return this;
  }

  remove(): void {
    this.tx.live();
    const s = this.staged();
    if (!s.base) this.tx.routes.delete(this.current);
    else s.target = undefined;
  }
}
