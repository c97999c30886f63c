/**
 * Routes in transactions: onlink (and pyroute2's flags spellings), IPv6
 * routes given metric 0 (stored as 1024), a route's priority or table
 * changed with `tx.route(...).set(...)` (removed and added in one commit),
 * multipath nexthops with weights added and removed, tos, and a default
 * route whose family comes from its gateway. Read back through `ip -j route`.
 */
import { describe, expect, it } from 'vitest';
import type { RouteSpec } from '../../../src/transactions/specs.js';
import { ipJson } from '../../helpers/netns.js';
import { type FeatureCase, featureCases, useFeatureLab } from './harness.js';

const lab = useFeatureLab();

type Json = Record<string, unknown>;

/** `ip -j [-6] route show ARGS` (table main unless ARGS names one). */
function routes(ns: string, ...args: string[]): Json[] {
  return ipJson<Json[]>(ns, ...args);
}

/** A route's nexthops as [gateway, weight]. */
function hops(r: Json | undefined): [unknown, unknown][] {
  return ((r?.nexthops as Json[] | undefined) ?? []).map((h) => [h.gateway, h.weight]);
}

/** The spellings of onlink a route spec takes (pyroute2: flags 4, 'onlink', ['onlink']). */
const ONLINK: [string, Partial<RouteSpec>][] = [
  ['onlink: true', { onlink: true }],
  ["flags: 'onlink'", { flags: 'onlink' }],
  ['flags: 4', { flags: 4 }],
  ["flags: ['onlink']", { flags: ['onlink'] }],
];

const onlink: FeatureCase[] = ONLINK.map(([title, spelling], i) => ({
  name: `an onlink route (${title}) through a gateway no route reaches`,
  stage: (tx) => tx.addRoute({ dst: '10.20.0.0/16', gateway: '192.0.2.1', dev: 'v0', ...spelling }),
  review: { routes: { '10.20.0.0/16': expect.objectContaining({ gateway: '192.0.2.1', onlink: true }) } },
  check: (ns) =>
    expect(routes(ns, 'route', 'show', '10.20.0.0/16')).toMatchObject([{ gateway: '192.0.2.1', dev: 'v0', flags: ['onlink'] }]),
  // One spelling is enough to show a freeze puts the flag back, and the undo (a removal) is the same.
  rollback: i === 0,
  freeze: i === 0 ? { pin: (db) => db.routes.freeze('10.20.0.0/16'), drift: ['route del 10.20.0.0/16'] } : undefined,
}));

const ipv6Metric0: FeatureCase[] = (['priority', 'metric'] as const).map((field, i) => ({
  name: `an IPv6 route given ${field} 0 (the kernel stores 1024)`,
  stage: (tx) => tx.addRoute({ dst: '2001:db8:20::/48', gateway: '2001:db8::2', [field]: 0 }),
  check: (ns) => expect(routes(ns, '-6', 'route', 'show', '2001:db8:20::/48')).toMatchObject([{ metric: 1024 }]),
  rollback: i === 0,
  freeze:
    i === 0
      ? { pin: (db) => db.routes.freeze({ dst: '2001:db8:20::/48' }), drift: ['-6 route del 2001:db8:20::/48'] }
      : undefined,
}));

/** A route moved to another identity: nothing left under the old one, the new one there once. */
const moves: FeatureCase[] = [
  {
    name: "a route's priority changed (removed and added in one commit)",
    stage: (tx) => tx.route('10.9.0.0/16').set({ priority: 77 }),
    review: { routes: { '10.9.0.0/16': { remove: true }, '10.9.0.0/16 metric 77': expect.objectContaining({ priority: 77 }) } },
    check: (ns) => expect(routes(ns, 'route', 'show', '10.9.0.0/16')).toMatchObject([{ gateway: '10.0.0.2', metric: 77 }]),
  },
  {
    name: "a route's priority and gateway changed at once (metric spelling)",
    stage: (tx) => tx.route('10.9.0.0/16').set({ metric: 78, via: '10.0.0.3' }),
    check: (ns) =>
      expect(routes(ns, 'route', 'show', '10.9.0.0/16')).toEqual([expect.objectContaining({ gateway: '10.0.0.3', metric: 78 })]),
  },
  {
    name: "a route's table changed",
    stage: (tx) => tx.route('10.9.0.0/16').set({ table: 200 }),
    check: (ns) => {
      expect(routes(ns, 'route', 'show', '10.9.0.0/16')).toEqual([]);
      expect(routes(ns, 'route', 'show', 'table', '200')).toMatchObject([{ dst: '10.9.0.0/16', gateway: '10.0.0.2' }]);
    },
  },
  {
    name: "an IPv6 route's metric changed",
    stage: (tx) => tx.route({ dst: '2001:db8:9::/48', family: 'inet6' }).set({ metric: 500 }),
    check: (ns) =>
      expect(routes(ns, '-6', 'route', 'show', '2001:db8:9::/48')).toEqual([expect.objectContaining({ metric: 500 })]),
  },
  {
    name: 'a route moved to another table keeps its protocol, source, scope and metrics',
    setup: ['route add 10.14.0.0/16 via 10.0.0.2 proto static src 10.0.0.1 mtu 1400 advmss 1300'],
    stage: (tx) => tx.route('10.14.0.0/16').set({ table: 300, priority: 9 }),
    check: (ns) => {
      expect(routes(ns, 'route', 'show', '10.14.0.0/16')).toEqual([]);
      expect(routes(ns, 'route', 'show', 'table', '300')).toMatchObject([
        {
          dst: '10.14.0.0/16',
          gateway: '10.0.0.2',
          protocol: 'static',
          prefsrc: '10.0.0.1',
          metric: 9,
          metrics: [{ mtu: 1400, advmss: 1300 }],
        },
      ]);
    },
  },
  {
    name: "an IPv6 route's table changed",
    stage: (tx) => tx.route({ dst: '2001:db8:9::/48', family: 'inet6' }).set({ table: 100 }),
    check: (ns) => {
      expect(routes(ns, '-6', 'route', 'show', '2001:db8:9::/48')).toEqual([]);
      expect(routes(ns, '-6', 'route', 'show', '2001:db8:9::/48', 'table', '100')).toMatchObject([{ gateway: '2001:db8::2' }]);
    },
  },
  {
    name: 'a route with a metric moved back to the default priority',
    setup: ['route add 10.12.0.0/16 via 10.0.0.2 metric 30'],
    stage: (tx) => tx.route({ dst: '10.12.0.0/16', priority: 30 }).set({ priority: 0 }),
    check: (ns) => {
      const [r, ...rest] = routes(ns, 'route', 'show', '10.12.0.0/16');
      expect(rest).toEqual([]);
      expect(r?.metric).toBeUndefined();
    },
  },
];

/** Three nexthops with weights 2, 3 and 1. */
const MULTIPATH = ['route add 10.10.0.0/16 nexthop via 10.0.0.2 weight 2 nexthop via 10.0.0.3 weight 3 nexthop via 10.0.0.4'];

const multipath: FeatureCase[] = [
  {
    name: 'nexthops added with weights (weight, and hops = weight - 1) to a single-path route',
    stage: (tx) => tx.route('10.9.0.0/16').addNh({ gateway: '10.0.0.3', weight: 3 }).addNh({ gateway: '10.0.0.4', hops: 4 }),
    review: { routes: { '10.9.0.0/16': expect.objectContaining({ '+multipath': expect.any(Array) }) } },
    check: (ns) =>
      expect(hops(routes(ns, 'route', 'show', '10.9.0.0/16')[0])).toEqual([
        ['10.0.0.2', 1],
        ['10.0.0.3', 3],
        ['10.0.0.4', 5],
      ]),
    freeze: { pin: (db) => db.routes.freeze('10.9.0.0/16'), drift: ['route replace 10.9.0.0/16 via 10.0.0.2'] },
  },
  {
    name: 'a nexthop removed from a route of three',
    setup: MULTIPATH,
    stage: (tx) => tx.route('10.10.0.0/16').delNh({ gateway: '10.0.0.3' }),
    check: (ns) =>
      expect(hops(routes(ns, 'route', 'show', '10.10.0.0/16')[0])).toEqual([
        ['10.0.0.2', 2],
        ['10.0.0.4', 1],
      ]),
  },
  {
    name: 'nexthops removed down to one: the route is single-path again',
    setup: MULTIPATH,
    stage: (tx) => tx.route('10.10.0.0/16').delNh({ gateway: '10.0.0.3' }).delNh({ via: '10.0.0.4' }),
    check: (ns) =>
      expect(routes(ns, 'route', 'show', '10.10.0.0/16')).toEqual([expect.objectContaining({ gateway: '10.0.0.2' })]),
  },
  {
    name: 'a multipath route added with weights',
    stage: (tx) =>
      tx.addRoute({
        dst: '10.11.0.0/16',
        multipath: [
          { gateway: '10.0.0.2', weight: 2 },
          { gateway: '10.0.0.3', weight: 5 },
        ],
      }),
    check: (ns) =>
      expect(hops(routes(ns, 'route', 'show', '10.11.0.0/16')[0])).toEqual([
        ['10.0.0.2', 2],
        ['10.0.0.3', 5],
      ]),
    freeze: { pin: (db) => db.routes.freeze('10.11.0.0/16'), drift: ['route del 10.11.0.0/16'] },
  },
  {
    name: 'an onlink nexthop through a gateway no route reaches',
    stage: (tx) => tx.route('10.9.0.0/16').addNh({ gateway: '192.0.2.5', dev: 'v0', onlink: true, weight: 2 }),
    check: (ns) => {
      const [r] = routes(ns, 'route', 'show', '10.9.0.0/16');
      expect(hops(r)).toEqual([
        ['10.0.0.2', 1],
        ['192.0.2.5', 2],
      ]);
      expect((r?.nexthops as Json[] | undefined)?.[1]).toMatchObject({ dev: 'v0', flags: ['onlink'] });
    },
  },
  {
    name: 'an IPv6 nexthop added with a weight',
    stage: (tx) => tx.route({ dst: '2001:db8:9::/48', family: 'inet6' }).addNh({ gateway: '2001:db8::3', weight: 2 }),
    check: (ns) =>
      expect(hops(routes(ns, '-6', 'route', 'show', '2001:db8:9::/48')[0])).toEqual([
        ['2001:db8::2', 1],
        ['2001:db8::3', 2],
      ]),
  },
  {
    name: "a multipath route's priority changed: it keeps its weighted nexthops",
    setup: MULTIPATH,
    stage: (tx) => tx.route('10.10.0.0/16').set({ priority: 40 }),
    check: (ns) => {
      const [r, ...rest] = routes(ns, 'route', 'show', '10.10.0.0/16');
      expect(rest).toEqual([]);
      expect(r?.metric).toBe(40);
      expect(hops(r)).toEqual([
        ['10.0.0.2', 2],
        ['10.0.0.3', 3],
        ['10.0.0.4', 1],
      ]);
    },
  },
  {
    name: 'a multipath route with weights removed',
    setup: MULTIPATH,
    stage: (tx) => tx.route('10.10.0.0/16').remove(),
    check: (ns) => expect(routes(ns, 'route', 'show', '10.10.0.0/16')).toEqual([]),
  },
];

const others: FeatureCase[] = [
  {
    name: 'a route with a tos',
    stage: (tx) => tx.addRoute({ dst: '10.30.0.0/16', gateway: '10.0.0.2', tos: 0x10 }),
    check: (ns) => expect(routes(ns, 'route', 'show', '10.30.0.0/16')).toMatchObject([{ gateway: '10.0.0.2', tos: '0x10' }]),
    freeze: { pin: (db) => db.routes.freeze('10.30.0.0/16'), drift: ['route del 10.30.0.0/16 tos 0x10'] },
  },
  {
    // The kernel keys IPv4 routes by tos too: one with a tos stands beside the same prefix without one.
    name: 'a route with a tos beside the same prefix without one',
    stage: (tx) => tx.addRoute({ dst: '10.9.0.0/16', gateway: '10.0.0.3', tos: 0x10 }),
    check: (ns) => {
      const both = routes(ns, 'route', 'show', '10.9.0.0/16');
      expect(both.map((r) => [r.gateway, r.tos]).sort()).toEqual([
        ['10.0.0.2', undefined],
        ['10.0.0.3', '0x10'],
      ]);
    },
  },
  {
    name: 'a route with a tos removed',
    setup: ['route add 10.31.0.0/16 via 10.0.0.2 tos 0x10'],
    stage: (tx) => tx.route('10.31.0.0/16').remove(),
    check: (ns) => expect(routes(ns, 'route', 'show', '10.31.0.0/16')).toEqual([]),
  },
  {
    name: 'an onlink route removed',
    setup: ['route add 10.21.0.0/16 via 192.0.2.1 dev v0 onlink'],
    stage: (tx) => tx.route('10.21.0.0/16').remove(),
    check: (ns) => expect(routes(ns, 'route', 'show', '10.21.0.0/16')).toEqual([]),
  },
  {
    name: 'an IPv6 default route, its family from its gateway',
    stage: (tx) => tx.addRoute({ dst: 'default', gateway: '2001:db8::2' }),
    review: { routes: { 'default (inet6)': expect.objectContaining({ family: 'inet6' }) } },
    check: (ns) => {
      expect(routes(ns, '-6', 'route', 'show', 'default')).toMatchObject([{ dst: 'default', gateway: '2001:db8::2' }]);
      expect(routes(ns, '-4', 'route', 'show', 'default')).toEqual([]);
    },
    freeze: { pin: (db) => db.routes.freeze({ dst: 'default', family: 'inet6' }), drift: ['-6 route del default'] },
  },
  {
    name: 'IPv4 and IPv6 default routes in one transaction',
    stage: (tx) => {
      tx.addRoute({ dst: 'default', gateway: '10.0.0.2' });
      tx.addRoute({ dst: 'default', via: '2001:db8::2', table: 100 });
    },
    check: (ns) => {
      expect(routes(ns, '-4', 'route', 'show', 'default')).toMatchObject([{ gateway: '10.0.0.2' }]);
      expect(routes(ns, '-6', 'route', 'show', 'default', 'table', '100')).toMatchObject([{ gateway: '2001:db8::2' }]);
    },
    rollback: false, // undone as the IPv6 default route above is
  },
];

featureCases(lab, [...onlink, ...ipv6Metric0, ...moves, ...multipath, ...others]);

describe('route staging', () => {
  it('an IPv6 route with metric 0 is the one the store has at 1024: added again, it is refused', async () => {
    const db = await lab.open(['-6 route add 2001:db8:21::/48 via 2001:db8::2']);
    expect(() => db.begin().addRoute({ dst: '2001:db8:21::/48', gateway: '2001:db8::3', priority: 0 })).toThrow(/exists already/);
    const tx = db.begin();
    tx.route({ dst: '2001:db8:21::/48', family: 'inet6', priority: 0 }).set({ gateway: '2001:db8::3' });
    await tx.commit();
    expect(routes(lab.ns, '-6', 'route', 'show', '2001:db8:21::/48')).toMatchObject([{ gateway: '2001:db8::3', metric: 1024 }]);
  });

  it('a move onto an identity that exists is refused', async () => {
    const db = await lab.open(['route add 10.9.0.0/16 via 10.0.0.3 metric 5']);
    expect(() => db.begin().route('10.9.0.0/16').set({ priority: 5 })).toThrow(/exists already/);
  });

  it('a flag other than onlink is refused naming the field', async () => {
    const db = await lab.open();
    expect(() => db.begin().addRoute({ dst: '10.20.0.0/16', gateway: '10.0.0.2', flags: 1 as 4 })).toThrow(/flags/);
  });
});
