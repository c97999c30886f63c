/**
 * NDB's route scenarios (tests/test_linux/test_ndb/test_routes.py, and the
 * route lookup of test_syntax.py), with pytest's table matrix: each runs for
 * table main (pr2test's None), 501 and 5001.
 *
 * Networks as pr2test allocates them, fixed here: the interface's addresses
 * from 10.10.0.0/24 (.254 down), route destinations 10.11.0.0/24 and
 * 10.12.0.0/24, IPv6 addresses from fd00:10::/64.
 */
import { expect } from 'vitest';
import { type Ctx, dummy, dummySetup, NDB, type Scenario } from './harness.js';

const RT = `${NDB}/test_routes.py`;
const TABLES = [undefined, 501, 5001] as const;
const ip4 = (n: number) => `10.10.0.${254 - n}`;
const ip6 = (n: number) => `fd00:10::${(1024 + n).toString(16)}`;
const NET1 = '10.11.0.0';
const NET2 = '10.12.0.0';

/** pr2test's default interface: a dummy, up (a veth here). */
const DEFAULT_INTERFACE = [...dummySetup('di'), 'link set di up'];

type Json = Record<string, unknown>;
type Table = (typeof TABLES)[number];

/** pytest's parameter id for a table. */
const tid = (t: Table | number) => `table=${t ?? 'None'}`;
const inTable = (t: Table | number) => (t === undefined ? {} : { table: t });
const kt = (t: Table | number) => t ?? 'main';

/** A dummy (veth) up with the first address of 10.10.0.0/24. */
const withAddress = (name = 'rt0') => ({
  commit: (tx: Parameters<typeof dummy>[0]) =>
    dummy(tx, name)
      .up()
      .addIp(`${ip4(0)}/24`),
});

const gateways = (r: Json | undefined) => ((r?.nexthops as Json[] | undefined) ?? []).map((h) => h.gateway).sort();

const SCOPES: [Table | 6001, number | string, string][] = [];
for (const table of [undefined, 6001] as const)
  for (const [scope, shown] of [
    [0, 'global'],
    [200, 'site'],
    [253, 'link'],
    ['universe', 'global'],
    ['site', 'site'],
    ['link', 'link'],
  ] as const)
    SCOPES.push([table, scope, shown]);

const FLAGS: [Table | 6001, unknown, boolean][] = [];
for (const table of [undefined, 6001] as const)
  for (const [flags, onlink] of [
    [0, false],
    [4, true],
    ['onlink', true],
    [['onlink'], true],
  ] as const)
    FLAGS.push([table, flags, onlink]);

function metricsMtu(r: Json | undefined): unknown {
  return (r?.metrics as Json[] | undefined)?.find((m) => 'mtu' in m)?.mtu;
}

export const scenarios: Scenario[] = [
  {
    from: `${RT}::test_table_undef`,
    note: 'NDB finds the route in any table; netstate names the table in the lookup',
    setup: DEFAULT_INTERFACE,
    steps: [
      {
        commit: (tx) => tx.addRoute({ dst: `${ip6(0)}/128`, table: 5000, dev: 'di' }),
        expect: (c) => {
          expect(c.k.route(`${ip6(0)}/128`, { table: 5000 })).toBeDefined();
          expect(c.k.route(`${ip6(1)}/128`, { table: 5000 })).toBeUndefined();
          expect(c.db.routes.get({ dst: `${ip6(0)}/128`, table: 5000 })?.oif).toBe(c.db.interfaces.get('di')?.index);
          expect(c.db.routes.get({ dst: `${ip6(1)}/128`, table: 5000 })).toBeUndefined();
        },
      },
    ],
  },
  ...SCOPES.map(
    ([table, scope, shown]): Scenario => ({
      from: `${RT}::test_scopes[${tid(table)}-scope=${scope}]`,
      steps: [
        withAddress(),
        {
          commit: (tx) => tx.addRoute({ dst: '172.24.200.142/32', dev: 'rt0', scope, ...inTable(table) }),
          expect: (c) => expect(c.k.route('172.24.200.142/32', { table: kt(table) })?.scope).toBe(shown),
        },
        {
          commit: (tx) => tx.route({ dst: '172.24.200.142/32', ...inTable(table) }).remove(),
          expect: (c) => expect(c.k.route('172.24.200.142/32', { table: kt(table) })).toBeUndefined(),
        },
      ],
    }),
  ),
  ...FLAGS.map(
    ([table, flags, onlink]): Scenario => ({
      from: `${RT}::test_flags[${tid(table)}-flags=${JSON.stringify(flags)}]`,
      note: 'route flags in the spec (assumed: a number, a name or a list of names, as pyroute2 takes them)',
      steps: [
        withAddress(),
        {
          commit: (tx) =>
            tx.addRoute({ dst: '172.24.200.142/32', dev: 'rt0', flags: flags as never, gateway: ip4(1), ...inTable(table) }),
          expect: (c) => {
            const r = c.k.route('172.24.200.142/32', { table: kt(table) });
            expect(r?.gateway).toBe(ip4(1));
            expect(((r?.flags ?? []) as string[]).includes('onlink')).toBe(onlink);
          },
        },
        {
          commit: (tx) => tx.route({ dst: '172.24.200.142/32', ...inTable(table) }).remove(),
          expect: (c) => expect(c.k.route('172.24.200.142/32', { table: kt(table) })).toBeUndefined(),
        },
      ],
    }),
  ),
  ...TABLES.flatMap((table): Scenario[] => [
    {
      from: `${RT}::test_ipv6_default_priority[${tid(table)}]`,
      note: 'IPv6 metric 0 becomes 1024 (IP6_RT_PRIO_USER)',
      steps: [
        {
          commit: (tx) =>
            dummy(tx, 'rt0')
              .up()
              .addIp(`${ip6(0)}/64`),
        },
        {
          commit: (tx) => tx.addRoute({ dst: 'beef:feed:fade::/112', dev: 'rt0', priority: 0, ...inTable(table) }),
          expect: (c) => {
            expect(c.k.route('beef:feed:fade::/112', { table: kt(table) })?.metric).toBe(1024);
            expect(c.db.routes.get({ dst: 'beef:feed:fade::/112', ...inTable(table) })?.priority).toBe(1024);
          },
        },
      ],
    },
    {
      from: `${RT}::test_empty_target[${tid(table)}]`,
      setup: DEFAULT_INTERFACE,
      steps: [
        {
          commit: (tx) => tx.addRoute({ dst: `${ip6(0)}/128`, dev: 'di', ...inTable(table) }),
          expect: (c) => expect(c.k.route(`${ip6(0)}/128`, { table: kt(table) })).toBeDefined(),
        },
        {
          commit: (tx) => tx.route({ table, dst: `${ip6(0)}/128` }).remove(),
          expect: (c) => expect(c.k.route(`${ip6(0)}/128`, { table: kt(table) })).toBeUndefined(),
        },
      ],
    },
    {
      from: `${RT}::test_basic[${tid(table)}]`,
      steps: [
        withAddress(),
        {
          commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(1), ...inTable(table) }),
          expect: (c) => {
            expect(c.k.addrs('rt0')).toEqual([`${ip4(0)}/24`]);
            expect(c.k.route(`${NET1}/24`, { table: kt(table) })?.gateway).toBe(ip4(1));
          },
        },
      ],
    },
    {
      from: `${RT}::test_default[${tid(table)}]`,
      note: 'a table from 500..600 when pytest gives none: 550',
      steps: [
        withAddress(),
        {
          commit: (tx) => tx.addRoute({ dst: 'default', gateway: ip4(1), table: table ?? 550 }),
          expect: (c) => expect(c.k.route('default', { table: table ?? 550 })?.gateway).toBe(ip4(1)),
        },
      ],
    },
    {
      from: `${RT}::test_spec[${tid(table)}]`,
      note: "'default' is looked up in every table, as NDB does; the others name the table",
      steps: [
        withAddress(),
        {
          commit: (tx) => {
            tx.addRoute({ table: table ?? 24000, dst: 'default', gateway: ip4(1) });
            tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(1) });
          },
          expect: (c) => {
            expect(c.k.route('default', { table: table ?? 24000 })?.gateway).toBe(ip4(1));
            expect(c.db.routes.list({ netns: c.ns, dst: 'default', table: 'all' }).length).toBeGreaterThan(0);
            expect(c.db.routes.get({ dst: 'default', table: table ?? 24000 })).toBeDefined();
            expect(c.db.routes.get(`${NET1}/24`)).toBeDefined();
            expect(c.db.routes.get({ dst: `${NET1}/24` })).toBeDefined();
          },
        },
      ],
    },
    {
      from: `${RT}::test_multipath_ipv4[${tid(table)}]`,
      steps: [
        withAddress(),
        {
          commit: (tx) =>
            tx.addRoute({ dst: `${NET1}/24`, multipath: [{ gateway: ip4(1) }, { gateway: ip4(2) }], ...inTable(table) }),
          expect: (c) => expect(gateways(c.k.route(`${NET1}/24`, { table: kt(table) }))).toEqual([ip4(1), ip4(2)].sort()),
        },
      ],
    },
    {
      from: `${RT}::test_update_set[${tid(table)}]`,
      steps: [
        withAddress(),
        { commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(1), ...inTable(table) }) },
        {
          commit: (tx) => tx.route({ dst: `${NET1}/24`, ...inTable(table) }).set({ gateway: ip4(2) }),
          expect: (c) => expect(c.k.routesTo(`${NET1}/24`, { table: kt(table) }).map((r) => r.gateway)).toEqual([ip4(2)]),
        },
      ],
    },
    {
      from: `${RT}::test_update_replace[${tid(table)}]`,
      steps: [
        withAddress(),
        {
          commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, priority: 10, gateway: ip4(1), ...inTable(table) }),
          expect: (c) => expect(c.k.route(`${NET1}/24`, { table: kt(table) })?.metric).toBe(10),
        },
      ],
    },
    {
      from: `${RT}::test_metrics_update_commit[${tid(table)}]`,
      steps: [
        withAddress(),
        {
          commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(1), metrics: { mtu: 1300 }, ...inTable(table) }),
          expect: (c) => expect(metricsMtu(c.k.route(`${NET1}/24`, { table: kt(table) }))).toBe(1300),
        },
        {
          commit: (tx) => tx.route({ dst: `${NET1}/24`, ...inTable(table) }).set({ metrics: { mtu: 1500 } }),
          expect: (c) => expect(metricsMtu(c.k.route(`${NET1}/24`, { table: kt(table) }))).toBe(1500),
        },
      ],
    },
  ]),
  {
    from: `${RT}::test_same_multipath`,
    steps: [
      withAddress(),
      { commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, multipath: [{ gateway: ip4(1) }, { gateway: ip4(2) }] }) },
      {
        commit: (tx) => tx.addRoute({ dst: `${NET2}/24`, multipath: [{ gateway: ip4(1) }, { gateway: ip4(2) }] }),
        expect: (c) => expect(gateways(c.k.route(`${NET2}/24`))).toEqual([ip4(1), ip4(2)].sort()),
      },
    ],
  },
  {
    from: `${RT}::test_same_metrics`,
    steps: [
      withAddress(),
      { commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(1), metrics: { mtu: 1300 } }) },
      {
        commit: (tx) => tx.addRoute({ dst: `${NET2}/24`, gateway: ip4(2), metrics: { mtu: 1300 } }),
        expect: (c) => {
          const r = c.k.route(`${NET2}/24`);
          expect([r?.gateway, metricsMtu(r)]).toEqual([ip4(2), 1300]);
        },
      },
    ],
  },
  {
    from: `${RT}::test_metrics_set`,
    note: 'the metrics of a route without any are set afterwards',
    setup: DEFAULT_INTERFACE,
    steps: [
      {
        commit: (tx) =>
          tx
            .interface('di')
            .addIp(`${ip4(0)}/24`)
            .up(),
      },
      {
        commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(1) }),
        expect: (c) => {
          expect(c.k.route(`${NET1}/24`)?.gateway).toBe(ip4(1));
          expect(c.db.routes.get(`${NET1}/24`)?.metrics).toBeUndefined();
        },
      },
      {
        commit: (tx) => tx.route(`${NET1}/24`).set({ metrics: { mtu: 1280 } }),
        expect: (c) => expect(metricsMtu(c.k.route(`${NET1}/24`))).toBe(1280),
      },
    ],
  },
  {
    from: `${NDB}/test_syntax.py::test_routes_spec_dst_len`,
    note: "one route found by 'a/len', { dst: 'a/len' } and { dst, dst_len } (dst_len assumed, as NDB spells it); the table named (24000)",
    steps: [
      withAddress(),
      {
        commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(1), table: 24000 }),
        expect: (c: Ctx) => {
          const found = [
            c.db.routes.get({ dst: `${NET1}/24`, table: 24000 }),
            c.db.routes.get({ dst: NET1, dst_len: 24, table: 24000 }),
          ];
          expect(found[0]).toBeDefined();
          expect(found[1]).toEqual(found[0]);
        },
      },
    ],
  },
];
