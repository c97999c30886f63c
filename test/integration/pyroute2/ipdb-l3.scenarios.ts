/** IPDB's address, route, rule and wait scenarios (tests/general/test_ipdb.py). */
import { expect } from 'vitest';
import { TimeoutError } from '../../../src/index.js';
import { CONFIRM_MS, dummy, dummySetup, future, IPDB, type Scenario } from './harness.js';

const X = `${IPDB}::TestExplicit`;
const IFD = dummySetup('d0');

type Json = Record<string, unknown>;

/** pyroute2's add_ip order in test_addr_ordering, and what the kernel must list: primaries first, each in call order. */
function orderingAddresses(): { calls: string[]; truth: string[] } {
  const calls: string[] = [];
  const primaries: string[] = [];
  const secondaries: string[] = [];
  for (const o3 of [5, 4, 3, 2, 1]) {
    for (const o4 of [1, 2, 3]) {
      for (const mask of [24, 25]) {
        const a = `172.16.${o3}.${o4}/${mask}`;
        calls.push(a);
        (o4 === 1 ? primaries : secondaries).push(a);
      }
    }
  }
  return { calls, truth: [...primaries, ...secondaries] };
}

/** Seeded: `NST_SEED=<n>` replays a run (the seed is printed). */
function seededRandom(): () => number {
  const seed = Number(process.env.NST_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`test_rules_random_actions: seed ${seed} (replay with NST_SEED=${seed})`);
  let a = seed >>> 0;
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const ACTION_NAMES: Record<number, string> = { 3: 'nop', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' };

export const scenarios: Scenario[] = [
  // ---- addresses
  {
    from: `${X}::test_norm_addr_ipv6`,
    setup: IFD,
    steps: [
      {
        commit: (tx) => tx.interface('d0').addIp('0100:0100::1/64').up(),
        expect: (c) => {
          expect(c.k.addrs('d0')).toContain('100:100::1/64');
          expect(c.db.interfaces.get('d0')?.ipaddr).toContain('100:100::1/64');
        },
      },
    ],
  },
  {
    from: `${X}::test_addr_mask_ipv6`,
    note: "add_ip('100:100::1', 'ffff:ffff:ffff:ffff::'): the mask written after the slash (assumed)",
    setup: IFD,
    steps: [
      {
        commit: (tx) => tx.interface('d0').addIp('100:100::1/ffff:ffff:ffff:ffff::').up(),
        expect: (c) => expect(c.k.addrs('d0')).toContain('100:100::1/64'),
      },
    ],
  },
  {
    from: `${X}::test_addr_attributes`,
    note: 'addIp(cidr, { scope }) and addIp(cidr, { broadcast }) (assumed: attributes as iproute2 names them); dummy → veth',
    steps: [
      { commit: (tx) => future(dummy(tx, 'aa1')).addIp('172.16.102.1/24', { scope: 254 }) },
      {
        commit: (tx) => future(dummy(tx, 'aa2')).addIp('172.16.103.1/24', { broadcast: '172.16.103.128' }),
        expect: (c) => {
          const a1 = c.k.addr('aa1', '172.16.102.1/24');
          expect(a1?.scope).toBe('host');
          expect(a1).not.toHaveProperty('broadcast');
          const a2 = c.k.addr('aa2', '172.16.103.1/24');
          expect(a2).toMatchObject({ scope: 'global', broadcast: '172.16.103.128' });
          expect(c.db.addresses.get({ ifname: 'aa1', address: '172.16.102.1' })?.scope).toBe('host');
          expect(c.db.addresses.get({ ifname: 'aa2', address: '172.16.103.1' })?.broadcast).toBe('172.16.103.128');
        },
      },
    ],
  },
  {
    from: `${X}::test_addr_loaded`,
    note: "each interface's addresses in the store, as many as the kernel lists",
    setup: [
      ...IFD,
      'addr add 10.1.0.1/24 dev d0',
      'addr add 10.1.0.2/24 dev d0',
      'addr add 2001:db8:1::1/64 dev d0',
      'addr add 10.2.0.1/16 dev d0p',
      'link set d0 up',
    ],
    steps: [
      {
        run: (c) => {
          for (const name of c.k.linkNames()) {
            expect(c.db.interfaces.get(name)?.ipaddr, name).toHaveLength(c.k.addrInfo(name).length);
          }
        },
      },
    ],
  },
  {
    from: `${X}::test_addr_ordering`,
    note: 'the kernel lists primaries first, each group in the order add_ip was called; the store lists them as the kernel does',
    steps: [
      {
        commit: (tx) => {
          const i = dummy(tx, 'ord');
          for (const a of orderingAddresses().calls) i.addIp(a);
        },
        expect: (c) => {
          const { truth } = orderingAddresses();
          expect(c.k.addrs('ord', 4), 'kernel order').toEqual(truth);
          const stored = ((c.db.interfaces.get('ord')?.ipaddr ?? []) as string[]).filter((a) => !a.includes(':'));
          expect(stored, 'store order').toEqual(c.k.addrs('ord', 4));
        },
      },
    ],
  },
  {
    from: `${X}::test_multiple_ips_one_transaction`,
    steps: [
      {
        commit: (tx) => {
          const i = dummy(tx, 'm254');
          for (let x = 1; x < 255; x++) i.addIp(`172.16.0.${x}/24`);
          i.up();
        },
        expect: (c) => {
          expect(c.k.addrs('m254', 4)).toHaveLength(254);
          expect(c.db.addresses.count({ ifname: 'm254', family: 'inet' })).toBe(254);
        },
      },
    ],
  },
  {
    from: `${X}::test_ipaddr_views`,
    steps: [
      {
        commit: (tx) => dummy(tx, 'iv').addIp('172.16.0.1/24').addIp('fdb3:84e5:4ff4:55e4::1/64'),
        expect: (c) => {
          const v4 = c.db.addresses.list({ ifname: 'iv', family: 'inet' }).length;
          const v6 = c.db.addresses.list({ ifname: 'iv', family: 'inet6' }).length;
          expect(v4 + v6).toBe(c.db.addresses.list({ ifname: 'iv' }).length);
          expect(v4 + v6).toBeGreaterThanOrEqual(2);
        },
      },
    ],
  },
  ...([4, 6] as const).flatMap((ipv) =>
    (['dummy', 'bridge'] as const).map(
      (kind): Scenario => ({
        from: `${X}::test_ipv${ipv}_${kind}`,
        note: kind === 'dummy' ? 'dummy → veth' : undefined,
        steps: [
          { commit: (tx) => (kind === 'dummy' ? dummy(tx, 'ip0') : tx.create({ kind, ifname: 'ip0' })) },
          {
            commit: (tx) => tx.interface('ip0').addIp(ipv === 4 ? '172.16.0.1/24' : 'fdb3:84e5:4ff4:55e4::1/64'),
            expect: (c) => {
              const a = ipv === 4 ? '172.16.0.1/24' : 'fdb3:84e5:4ff4:55e4::1/64';
              expect(c.k.addrs('ip0')).toContain(a);
              expect(c.db.interfaces.get('ip0')?.ipaddr).toContain(a);
            },
          },
        ],
      }),
    ),
  ),
  {
    from: `${X}::test_create_dqn`,
    note: 'a dotted-quad netmask after the slash (assumed accepted, as pyroute2 does)',
    steps: [
      {
        commit: (tx) => dummy(tx, 'dq').addIp('172.16.0.1/255.255.255.0'),
        expect: (c) => expect(c.k.addrs('dq')).toContain('172.16.0.1/24'),
      },
    ],
  },
  {
    from: `${X}::test_dqn_mask`,
    note: "add_ip(a, mask=24) and add_ip(a, mask='255.255.255.0'): addIp(a, { prefixlen }) and addIp(a, { mask }) (assumed)",
    setup: IFD,
    steps: [
      {
        commit: (tx) =>
          future(tx.interface('d0'))
            .addIp('172.16.0.1/24')
            .addIp('172.16.0.2', { prefixlen: 24 })
            .addIp('172.16.0.3/255.255.255.0')
            .addIp('172.16.0.4', { mask: '255.255.255.0' }),
        expect: (c) =>
          expect(c.k.addrs('d0')).toEqual(
            expect.arrayContaining(['172.16.0.1/24', '172.16.0.2/24', '172.16.0.3/24', '172.16.0.4/24']),
          ),
      },
    ],
  },
  {
    from: `${X}::test_remove_secondaries`,
    note: 'a primary and its secondary removed in one commit (the kernel takes the secondary with the primary)',
    steps: [
      {
        commit: (tx) => dummy(tx, 'rs').addIp('172.16.0.1/24').addIp('172.16.0.2/24'),
        expect: (c) => expect(c.k.addrs('rs')).toEqual(['172.16.0.1/24', '172.16.0.2/24']),
      },
      {
        commit: (tx) => tx.interface('rs').delIp('172.16.0.1/24').delIp('172.16.0.2/24'),
        expect: (c) => {
          expect(c.k.addrs('rs')).toEqual([]);
          expect(c.db.interfaces.get('rs')?.ipaddr).not.toContain('172.16.0.2/24');
        },
      },
    ],
  },

  // ---- routes
  {
    from: `${X}::test_norm_route_ipv6`,
    setup: IFD,
    steps: [
      { commit: (tx) => tx.interface('d0').addIp('0100:0100::1/64').up() },
      {
        commit: (tx) => tx.addRoute({ dst: '0200:0200::/64', gateway: '0100:0100::2' }),
        expect: (c) => expect(c.k.route('200:200::/64')?.gateway).toBe('100:100::2'),
      },
    ],
  },
  {
    from: `${X}::test_default_route_notation`,
    steps: [
      {
        commit: (tx) => tx.addRoute({ dst: '0.0.0.0/0', gateway: '127.0.0.6', table: 180 }),
        expect: (c) => {
          expect(c.db.routes.get({ dst: 'default', table: 180 })?.gateway).toBe('127.0.0.6');
          expect(c.k.route('default', { table: 180 })?.gateway).toBe('127.0.0.6');
        },
      },
      {
        commit: (tx) => tx.route({ dst: 'default', table: 180 }).remove(),
        expect: (c) => expect(c.k.route('default', { table: 180 })).toBeUndefined(),
      },
    ],
  },
  {
    from: `${X}::test_routes_mixed_ipv4_ipv6`,
    setup: IFD,
    steps: [
      { commit: (tx) => tx.interface('d0').addIp('2001:4c8:1023:108::39/64').addIp('172.19.0.2/24').up() },
      { commit: (tx) => tx.addRoute({ dst: 'default', table: 100, gateway: '2001:4c8:1023:108::40' }) },
      {
        commit: (tx) => tx.addRoute({ dst: 'default', table: 100, gateway: '172.19.0.1' }),
        expect: (c) => {
          expect(c.k.route('default', { table: 100, family: 6 })?.gateway).toBe('2001:4c8:1023:108::40');
          expect(c.k.route('default', { table: 100, family: 4 })?.gateway).toBe('172.19.0.1');
          expect(c.db.routes.get({ dst: 'default', table: 100, family: 'inet' })?.gateway).toBe('172.19.0.1');
          expect(c.db.routes.get({ dst: 'default', table: 100, family: 'inet6' })?.gateway).toBe('2001:4c8:1023:108::40');
        },
      },
      { commit: (tx) => tx.route({ dst: 'default', table: 100, family: 'inet' }).remove() },
      {
        commit: (tx) => tx.route({ dst: 'default', table: 100, family: 'inet6' }).remove(),
        expect: (c) => {
          expect(c.k.route('default', { table: 100, family: 6 })).toBeUndefined();
          expect(c.k.route('default', { table: 100, family: 4 })).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_routes_ipv6`,
    steps: [
      { commit: (tx) => dummy(tx, 'r6').addIp('2001:4c8:1023:108::39/64').up() },
      {
        commit: (tx) => tx.addRoute({ dst: 'fd00:6d:3d1a::/64', gateway: '2001:4c8:1023:108::40' }),
        expect: (c) => {
          expect(c.k.route('fd00:6d:3d1a::/64')?.gateway).toBe('2001:4c8:1023:108::40');
          expect(c.db.routes.get('fd00:6d:3d1a::/64')).toBeDefined();
        },
      },
      {
        commit: (tx) => tx.route('fd00:6d:3d1a::/64').remove(),
        expect: (c) => {
          expect(c.k.route('fd00:6d:3d1a::/64')).toBeUndefined();
          expect(c.db.routes.get('fd00:6d:3d1a::/64')).toBeUndefined();
        },
      },
      { commit: (tx) => tx.interface('r6').remove(), expect: (c) => expect(c.k.link('r6')).toBeUndefined() },
    ],
  },
  {
    from: `${X}::test_routes_type`,
    steps: [
      {
        commit: (tx) => {
          tx.addRoute({ dst: 'default', table: 202, type: 'unreachable' });
          tx.addRoute({ dst: 'default', table: 2020, type: 'blackhole' });
        },
        expect: (c) => {
          expect(c.k.route('default', { table: 202 })?.type).toBe('unreachable');
          expect(c.k.route('default', { table: 2020 })?.type).toBe('blackhole');
        },
      },
      {
        commit: (tx) => {
          tx.route({ dst: 'default', table: 202 }).remove();
          tx.route({ dst: 'default', table: 2020 }).remove();
        },
        expect: (c) => expect(c.k.routes({ table: 'all' }).filter((r) => r.dst === 'default')).toEqual([]),
      },
    ],
  },
  {
    from: `${X}::test_routes_keys`,
    note: 'a staged route is in the review, not in the store nor the kernel',
    steps: [
      {
        run: (c) => {
          const tx = c.db.begin();
          tx.addRoute({ dst: '172.16.0.0/24', gateway: '127.0.0.1' });
          expect(Object.keys(tx.review().routes)).toContain('172.16.0.0/24');
          expect(c.db.routes.get('172.16.0.0/24')).toBeUndefined();
          expect(c.k.route('172.16.0.0/24')).toBeUndefined();
          tx.drop();
        },
      },
    ],
  },
  {
    from: `${X}::test_routes_proto`,
    note: 'routes made by ip (proto boot, proto static) are removed through the store',
    setup: ['route add 172.16.2.0/24 via 127.0.0.1', 'route add 172.16.3.0/24 via 127.0.0.1 proto static'],
    steps: [
      { commit: (tx) => tx.route('172.16.2.0/24').remove(), expect: (c) => expect(c.k.route('172.16.2.0/24')).toBeUndefined() },
      { commit: (tx) => tx.route('172.16.3.0/24').remove(), expect: (c) => expect(c.k.route('172.16.3.0/24')).toBeUndefined() },
    ],
  },
  {
    from: `${X}::test_routes_del_nh_fail`,
    note: 'the only nexthop of a single-path route cannot be removed: refused at staging',
    steps: [
      { commit: (tx) => tx.addRoute({ dst: '172.16.0.0/24', gateway: '127.0.0.2' }) },
      { refused: (tx) => tx.route('172.16.0.0/24').delNh({ gateway: '127.0.0.2' }), field: 'gateway' },
      { commit: (tx) => tx.route('172.16.0.0/24').remove(), expect: (c) => expect(c.k.route('172.16.0.0/24')).toBeUndefined() },
    ],
  },
  {
    from: `${X}::test_routes_set_priority`,
    note: 'the priority changed through set(): one route, now with metric 287',
    steps: [
      { commit: (tx) => tx.addRoute({ dst: '172.16.0.0/24', gateway: '127.0.0.2', priority: 100 }) },
      {
        commit: (tx) => tx.route({ dst: '172.16.0.0/24', priority: 100 }).set({ priority: 287 }),
        expect: (c) => {
          const routes = c.k.routesTo('172.16.0.0/24');
          expect(routes.map((r) => [r.gateway, r.metric])).toEqual([['127.0.0.2', 287]]);
          expect(c.db.routes.get('172.16.0.0/24')?.priority).toBe(287);
        },
      },
      { commit: (tx) => tx.route('172.16.0.0/24').remove(), expect: (c) => expect(c.k.route('172.16.0.0/24')).toBeUndefined() },
    ],
  },
  {
    from: `${X}::test_routes`,
    steps: [
      {
        commit: (tx) => tx.addRoute({ dst: '172.16.0.0/24', gateway: '127.0.0.1' }),
        expect: (c) => expect(c.k.route('172.16.0.0/24')?.gateway).toBe('127.0.0.1'),
      },
      {
        commit: (tx) => tx.route('172.16.0.0/24').set({ gateway: '127.0.0.2' }),
        expect: (c) => {
          expect(c.k.routesTo('172.16.0.0/24').map((r) => r.gateway)).toEqual(['127.0.0.2']);
          expect(c.db.routes.get('172.16.0.0/24')?.gateway).toBe('127.0.0.2');
        },
      },
      {
        commit: (tx) => tx.route('172.16.0.0/24').remove(),
        expect: (c) => {
          expect(c.k.route('172.16.0.0/24')).toBeUndefined();
          expect(c.db.routes.get('172.16.0.0/24')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_routes_multipath_transition`,
    steps: [
      { commit: (tx) => dummy(tx, 'mt').addIp('172.16.229.2/24').up() },
      {
        commit: (tx) => tx.addRoute({ dst: '172.16.228.0/24', gateway: '172.16.229.3' }),
        expect: (c) => expect(c.k.route('172.16.228.0/24')?.gateway).toBe('172.16.229.3'),
      },
      {
        commit: (tx) => tx.route('172.16.228.0/24').addNh({ gateway: '172.16.229.4' }).addNh({ gateway: '172.16.229.5' }),
        expect: (c) => {
          const gws = ['172.16.229.3', '172.16.229.4', '172.16.229.5'];
          const hops = ((c.k.route('172.16.228.0/24')?.nexthops ?? []) as Json[]).map((h) => h.gateway).sort();
          expect(hops).toEqual(gws);
          const stored = ((c.db.routes.get('172.16.228.0/24')?.multipath ?? []) as Json[]).map((h) => h.gateway).sort();
          expect(stored).toEqual(gws);
        },
      },
      {
        commit: (tx) => tx.route('172.16.228.0/24').delNh({ gateway: '172.16.229.3' }).delNh({ gateway: '172.16.229.5' }),
        expect: (c) => {
          expect(c.k.routesTo('172.16.228.0/24').map((r) => [r.gateway, r.nexthops])).toEqual([['172.16.229.4', undefined]]);
          expect(c.db.routes.get('172.16.228.0/24')?.gateway).toBe('172.16.229.4');
        },
      },
    ],
  },
  {
    from: `${X}::test_routes_multipath_gateway`,
    steps: [
      { commit: (tx) => dummy(tx, 'mg').addIp('172.16.231.1/24').up() },
      {
        commit: (tx) =>
          tx.addRoute({
            dst: '172.16.232.0/24',
            multipath: [
              { gateway: '172.16.231.2', hops: 20 },
              { gateway: '172.16.231.3', hops: 30 },
              { gateway: '172.16.231.4' },
            ],
          }),
        expect: (c) =>
          expect(((c.k.route('172.16.232.0/24')?.nexthops ?? []) as Json[]).map((h) => [h.gateway, h.weight])).toEqual([
            ['172.16.231.2', 21],
            ['172.16.231.3', 31],
            ['172.16.231.4', 1],
          ]),
      },
      {
        commit: (tx) =>
          tx.route('172.16.232.0/24').addNh({ gateway: '172.16.231.5', hops: 50 }).delNh({ gateway: '172.16.231.2' }),
        expect: (c) =>
          expect(((c.k.route('172.16.232.0/24')?.nexthops ?? []) as Json[]).map((h) => [h.gateway, h.weight]).sort()).toEqual([
            ['172.16.231.3', 31],
            ['172.16.231.4', 1],
            ['172.16.231.5', 51],
          ]),
      },
    ],
  },
  {
    from: `${X}::test_routes_metrics`,
    steps: [
      {
        commit: (tx) => tx.addRoute({ dst: '172.16.0.0/24', gateway: '127.0.0.1', metrics: { mtu: 1360 } }),
        expect: (c) => expect(c.k.route('172.16.0.0/24')?.metrics).toEqual([{ mtu: 1360 }]),
      },
      {
        commit: (tx) => tx.route('172.16.0.0/24').set({ metrics: { mtu: 1400 } }),
        expect: (c) => {
          expect(c.k.route('172.16.0.0/24')?.metrics).toEqual([{ mtu: 1400 }]);
          expect(c.db.routes.get('172.16.0.0/24')?.metrics).toMatchObject({ mtu: 1400 });
        },
      },
      { commit: (tx) => tx.route('172.16.0.0/24').remove(), expect: (c) => expect(c.k.route('172.16.0.0/24')).toBeUndefined() },
    ],
  },
  {
    from: `${X}::test_global_review_route`,
    steps: [
      {
        run: (c) => {
          const tx = c.db.begin();
          tx.addRoute({ table: 2, dst: '10.0.0.0/24', gateway: '1.1.1.1' });
          const routes = tx.review().routes;
          const keys = Object.keys(routes).filter((k) => k.startsWith('10.0.0.0/24'));
          expect(keys).toHaveLength(1);
          expect((routes[keys[0] as string] as Json).gateway).toBe('1.1.1.1');
          tx.drop();
          expect(() => tx.review()).toThrow();
        },
      },
    ],
  },
  {
    from: `${X}::test_global_routes_fail`,
    note: 'a route via an unreachable gateway fails the commit; the same route via 127.0.0.2 then commits (a new transaction)',
    steps: [
      { fails: (tx) => tx.addRoute({ dst: '172.18.0.0/24', gateway: '1.1.1.1', table: 100 }) },
      {
        commit: (tx) => tx.addRoute({ dst: '172.18.0.0/24', gateway: '127.0.0.2', table: 100 }),
        expect: (c) => expect(c.k.route('172.18.0.0/24', { table: 100 })?.gateway).toBe('127.0.0.2'),
      },
      {
        commit: (tx) => tx.route({ dst: '172.18.0.0/24', table: 100 }).remove(),
        expect: (c) => expect(c.k.route('172.18.0.0/24', { table: 100 })).toBeUndefined(),
      },
    ],
  },
  {
    from: `${X}::test_global_routes`,
    steps: [
      {
        commit: (tx) => {
          tx.addRoute({ dst: '172.18.1.0/24', gateway: '127.0.0.1' });
          tx.addRoute({ dst: '172.18.2.0/24', gateway: '127.0.0.1' });
        },
        expect: (c) => {
          expect(c.k.route('172.18.1.0/24')?.gateway).toBe('127.0.0.1');
          expect(c.k.route('172.18.2.0/24')?.gateway).toBe('127.0.0.1');
        },
      },
      {
        commit: (tx) => {
          tx.route('172.18.1.0/24').remove();
          tx.route('172.18.2.0/24').remove();
        },
        expect: (c) => expect([c.k.route('172.18.1.0/24'), c.k.route('172.18.2.0/24')]).toEqual([undefined, undefined]),
      },
    ],
  },

  // ---- rules
  {
    from: `${X}::test_rules_random_actions`,
    note: 'seeded (NST_SEED replays): 20 random rules (priority, action 1..8, table or goto, src, dst), each added and removed',
    steps: [
      {
        run: async (c) => {
          const random = seededRandom();
          const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
          for (let n = 0; n < 20; n++) {
            const spec: Json = { priority: int(200, 2000), action: int(1, 8) };
            if (spec.action === 1) spec.table = int(2, 20000);
            else if (spec.action === 2) spec.goto = int((spec.priority as number) + 1, 32767);
            if (random() > 0.5) spec.src = `10.${int(0, 254)}.0.0/${int(16, 30)}`;
            if (random() > 0.5) spec.dst = `10.${int(0, 254)}.0.0/${int(16, 30)}`;
            if (!spec.src && !spec.dst) continue;
            const what = JSON.stringify(spec);
            const tx = c.db.begin();
            tx.addRule(spec);
            await tx.commit({ timeout: CONFIRM_MS });
            const r = c.k.rule(spec.priority as number);
            expect(r, what).toBeDefined();
            for (const f of ['src', 'dst'] as const) {
              if (spec[f]) {
                const [a, len] = (spec[f] as string).split('/');
                // The kernel keeps the address as given, host bits included.
                expect([r?.[f], r?.[`${f}len`]], what).toEqual([a, Number(len)]);
              }
            }
            if (spec.action === 1) expect(String(r?.table), what).toBe(String(spec.table));
            if (spec.action === 2) expect(r?.goto, what).toBe(spec.goto);
            const name = ACTION_NAMES[spec.action as number];
            // iproute2's JSON spells nop as a key of its own ("nop": null), the others as an action.
            if (name === 'nop') expect(r && 'nop' in r, what).toBe(true);
            else if (name) expect(r?.action, what).toBe(name);
            const rm = c.db.begin();
            rm.removeRule({ priority: spec.priority as number });
            await rm.commit({ timeout: CONFIRM_MS });
            expect(c.k.rule(spec.priority as number), what).toBeUndefined();
          }
        },
      },
    ],
  },

  // ---- waiting for addresses
  {
    from: `${X}::test_wait_ip_exact`,
    steps: [
      {
        run: async (c) => {
          const t = Date.now();
          await c.db.waitFor('address', { ifname: 'lo', address: '127.0.0.1' }, { timeout: 2000 });
          expect(Date.now() - t).toBeLessThan(2000);
        },
      },
    ],
  },
  {
    from: `${X}::test_wait_ipv6`,
    note: 'timeouts of 300 ms for 2 s',
    steps: [
      { commit: (tx) => dummy(tx, 'wi').up().addIp('2001:21:21:21::/64') },
      {
        run: async (c) => {
          await c.db.waitFor('address', { ifname: 'wi', address: '2001:21:21:21::', prefixlen: 64 }, { timeout: 300 });
          const t = Date.now();
          await expect(
            c.db.waitFor('address', { ifname: 'wi', address: '2001:22:22:22::', prefixlen: 64 }, { timeout: 300 }),
          ).rejects.toBeInstanceOf(TimeoutError);
          expect(Date.now() - t).toBeGreaterThanOrEqual(290);
        },
      },
    ],
  },
  {
    from: `${X}::test_wait_ip_net`,
    note: "wait for any address in a network: the filter { network: 'a/len' } (assumed)",
    steps: [{ run: (c) => c.db.waitFor('address', { ifname: 'lo', network: '127.0.0.0/8' }, { timeout: 2000 }) }],
  },
  {
    from: `${X}::test_wait_ip_exact_fail`,
    steps: [
      {
        run: (c) =>
          expect(c.db.waitFor('address', { ifname: 'lo', address: '1.1.1.1' }, { timeout: 300 })).rejects.toBeInstanceOf(
            TimeoutError,
          ),
      },
    ],
  },
  {
    from: `${X}::test_wait_ip_net_fail`,
    note: 'the { network } filter (assumed), no address in 172.6.0.0/24',
    steps: [
      {
        run: (c) =>
          expect(c.db.waitFor('address', { ifname: 'lo', network: '172.6.0.0/24' }, { timeout: 300 })).rejects.toBeInstanceOf(
            TimeoutError,
          ),
      },
    ],
  },
];
