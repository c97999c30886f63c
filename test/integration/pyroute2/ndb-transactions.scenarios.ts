/**
 * NDB's transaction scenarios (tests/test_linux/test_ndb/): multi-object
 * transactions with ping checks, rollback of a committed change, probes,
 * IPv6 rules and neighbours.
 *
 * NDB's `obj.rollback()` undoes a change after its commit. netstate's
 * equivalent is the provisional commit DESIGN.md describes
 * (`commit({ confirm: ms })` returning `{ confirm(), rollback() }`), assumed
 * here; PingAddress is `tx.ensureReachable()`.
 */
import { expect } from 'vitest';
import { TimeoutError, type TransactionError } from '../../../src/index.js';
import { commitProvisional, dummy, dummySetup, NDB, type Scenario, snapshot } from './harness.js';

const ip4 = (n: number) => `10.10.0.${254 - n}`;
const NET1 = '10.11.0.0';
const DEFAULT_INTERFACE = [...dummySetup('di'), 'link set di up'];

const TR = `${NDB}/test_transaction.py`;
const RB = `${NDB}/test_rollback.py`;

export const scenarios: Scenario[] = [
  // ---- test_transaction.py
  {
    from: `${TR}::test_ping_ok`,
    steps: [{ commit: (tx) => tx.ensureReachable('127.0.0.1'), unchanged: true }],
  },
  {
    from: `${TR}::test_ping_unreachable`,
    steps: [{ fails: (tx) => tx.ensureReachable('128.0.0.1', { timeout: 500 }) }],
  },
  {
    from: `${TR}::test_ping_unknown`,
    note: 'not an address: refused at staging',
    steps: [{ refused: (tx) => tx.ensureReachable('4c9e4b71-9fa8-4c5e-9a53-1f3b0b6f2b9d'), field: 'address' }],
  },
  {
    from: `${TR}::test_multiple_interfaces`,
    steps: [
      {
        commit: (tx) => {
          dummy(tx, 'mi1')
            .up()
            .set({ address: '00:11:22:aa:aa:aa' })
            .addIp(`${ip4(0)}/24`);
          dummy(tx, 'mi2')
            .up()
            .set({ address: '00:11:22:bb:bb:bb' })
            .addIp(`${ip4(1)}/24`);
        },
        expect: (c) => {
          expect([c.k.link('mi1')?.address, c.k.link('mi2')?.address]).toEqual(['00:11:22:aa:aa:aa', '00:11:22:bb:bb:bb']);
          expect([c.k.addrs('mi1'), c.k.addrs('mi2')]).toEqual([[`${ip4(0)}/24`], [`${ip4(1)}/24`]]);
        },
      },
    ],
  },
  {
    from: `${TR}::test_check_context_manager`,
    steps: [
      {
        commit: (tx) => {
          dummy(tx, 'cc1');
          dummy(tx, 'cc2');
        },
        expect: (c) => expect(c.k.linkNames()).toEqual(expect.arrayContaining(['cc1', 'cc2'])),
      },
    ],
  },
  {
    from: `${TR}::test_interfaces_ping`,
    steps: [
      {
        commit: (tx) => {
          dummy(tx, 'ip1')
            .up()
            .addIp(`${ip4(0)}/24`);
          dummy(tx, 'ip2')
            .up()
            .addIp(`${ip4(1)}/24`);
          tx.ensureReachable(ip4(0)).ensureReachable(ip4(1));
        },
        expect: (c) => expect([c.k.addrs('ip1'), c.k.addrs('ip2')]).toEqual([[`${ip4(0)}/24`], [`${ip4(1)}/24`]]),
      },
    ],
  },
  {
    from: `${TR}::test_interfaces_ping_fail`,
    note: 'an address added in the same commit as a ping of one nobody has: rolled back',
    steps: [
      {
        commit: (tx) => {
          dummy(tx, 'pf1').up();
          dummy(tx, 'pf2').up();
        },
      },
      {
        fails: (tx) => {
          tx.interface('pf1').addIp(`${ip4(0)}/24`);
          tx.ensureReachable(ip4(1), { timeout: 500 });
        },
        expect: (c) => expect([c.k.addrs('pf1'), c.k.addrs('pf2')]).toEqual([[], []]),
      },
    ],
  },

  // ---- test_rollback.py
  {
    from: `${RB}::test_create`,
    steps: [
      {
        run: async (c) => {
          const tx = c.db.begin();
          dummy(tx, 'rc0');
          const p = await commitProvisional(tx);
          expect(c.k.link('rc0')).toBeDefined();
          await p.rollback();
          expect(c.k.link('rc0')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${RB}::test_remove`,
    steps: [
      { commit: (tx) => dummy(tx, 'rr0') },
      {
        run: async (c) => {
          const tx = c.db.begin();
          tx.interface('rr0').remove();
          const p = await commitProvisional(tx);
          expect(c.k.link('rr0')).toBeUndefined();
          await p.rollback();
          expect(c.k.link('rr0')).toBeDefined();
        },
      },
    ],
  },
  {
    from: `${RB}::test_set`,
    steps: [
      { commit: (tx) => dummy(tx, 'rs0', { address: '00:11:22:33:44:55' }) },
      {
        run: async (c) => {
          const tx = c.db.begin();
          tx.interface('rs0').set({ address: '00:11:22:aa:aa:aa' });
          const p = await commitProvisional(tx);
          expect(c.k.link('rs0')?.address).toBe('00:11:22:aa:aa:aa');
          await p.rollback();
          expect(c.k.link('rs0')?.address).toBe('00:11:22:33:44:55');
        },
      },
    ],
  },
  {
    from: `${RB}::test_simple_deps`,
    note: 'the interface removed takes its address and the route through it; the rollback brings all back',
    steps: [
      {
        commit: (tx) =>
          dummy(tx, 'sd0')
            .up()
            .addIp(`${ip4(0)}/24`),
      },
      { commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(1) }) },
      {
        run: async (c) => {
          const before = snapshot(c.names);
          const tx = c.db.begin();
          tx.interface('sd0').remove();
          const p = await commitProvisional(tx);
          expect([c.k.link('sd0'), c.k.route(`${NET1}/24`)]).toEqual([undefined, undefined]);
          await p.rollback();
          expect(c.k.addrs('sd0')).toEqual([`${ip4(0)}/24`]);
          expect(c.k.route(`${NET1}/24`)?.gateway).toBe(ip4(1));
          expect(snapshot(c.names)).toEqual(before);
        },
      },
    ],
  },
  {
    from: `${RB}::test_bridge_deps`,
    steps: [
      {
        commit: (tx) => {
          dummy(tx, 'bd1').up();
          dummy(tx, 'bd2').up();
        },
      },
      {
        commit: (tx) =>
          tx
            .create({ kind: 'bridge', ifname: 'bdb' })
            .up()
            .addPort('bd1')
            .addPort('bd2')
            .addIp(`${ip4(0)}/24`)
            .addIp(`${ip4(1)}/24`),
      },
      { commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(2) }) },
      {
        run: async (c) => {
          const before = snapshot(c.names);
          const tx = c.db.begin();
          tx.interface('bdb').remove();
          const p = await commitProvisional(tx);
          expect([c.k.link('bdb'), c.k.route(`${NET1}/24`)]).toEqual([undefined, undefined]);
          await p.rollback();
          expect([c.k.link('bd1')?.master, c.k.link('bd2')?.master]).toEqual(['bdb', 'bdb']);
          expect(c.k.addrs('bdb')).toEqual([`${ip4(0)}/24`, `${ip4(1)}/24`]);
          expect(c.k.route(`${NET1}/24`)?.gateway).toBe(ip4(2));
          expect(snapshot(c.names)).toEqual(before);
        },
      },
    ],
  },
  {
    from: `${RB}::test_vlan_deps`,
    note: 'vlan → macvlan (no 8021q here): the host link removed takes the stacked link, its addresses and the route',
    steps: [
      { commit: (tx) => dummy(tx, 'vdh').up() },
      {
        commit: (tx) =>
          tx
            .create({ kind: 'macvlan', ifname: 'vdv', link: 'vdh' })
            .up()
            .addIp(`${ip4(0)}/24`)
            .addIp(`${ip4(1)}/24`),
      },
      { commit: (tx) => tx.addRoute({ dst: `${NET1}/24`, gateway: ip4(2) }) },
      {
        run: async (c) => {
          const before = snapshot(c.names);
          const tx = c.db.begin();
          tx.interface('vdh').remove();
          const p = await commitProvisional(tx);
          expect([c.k.link('vdh'), c.k.link('vdv'), c.k.route(`${NET1}/24`)]).toEqual([undefined, undefined, undefined]);
          await p.rollback();
          expect(c.k.addrs('vdv')).toEqual([`${ip4(0)}/24`, `${ip4(1)}/24`]);
          expect(c.k.route(`${NET1}/24`)?.gateway).toBe(ip4(2));
          expect(snapshot(c.names)).toEqual(before);
        },
      },
    ],
  },

  // ---- test_probe.py
  {
    from: `${NDB}/test_probe.py::test_ping_ok`,
    setup: DEFAULT_INTERFACE,
    steps: [
      {
        commit: (tx) =>
          tx
            .interface('di')
            .addIp(`${ip4(0)}/24`)
            .up(),
      },
      { commit: (tx) => tx.ensureReachable(ip4(0)), unchanged: true },
    ],
  },
  {
    from: `${NDB}/test_probe.py::test_ping_fail_ehostunreach`,
    note: "lo down in a namespace where it never was up (as pr2test's): the probe of 127.0.0.1 fails at once, the commit with it",
    loopbackNeverUp: true,
    steps: [
      { commit: (tx) => tx.interface('lo').down() },
      {
        fails: (tx) => tx.ensureReachable('127.0.0.1', { timeout: 500 }),
        // pyroute2: EHOSTUNREACH at once, not a timeout.
        expect: (_c, e) => {
          expect((e as TransactionError).cause).not.toBeInstanceOf(TimeoutError);
          expect(e.message).toMatch(/unreach/i);
        },
      },
    ],
  },
  {
    from: `${NDB}/test_probe.py::test_ping_fail_etimedout`,
    note: 'nobody has the address: the probe times out',
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
        fails: (tx) => tx.ensureReachable(ip4(1), { timeout: 500 }),
        // pyroute2: ETIMEDOUT.
        expect: (_c, e) => expect((e as TransactionError).cause).toBeInstanceOf(TimeoutError),
      },
    ],
  },

  // ---- test_rules.py
  ...[100, 10000].flatMap((table): Scenario[] =>
    (['explicit', 'implicit'] as const).map(
      (how): Scenario => ({
        from: `${NDB}/test_rules.py::test_${how}_ipv6_src[table=${table}]`,
        note: how === 'implicit' ? 'the family follows from src' : undefined,
        steps: [
          {
            commit: (tx) =>
              tx.addRule({ ...(how === 'explicit' ? { family: 'inet6' } : {}), src: 'fd00:20::/64', table, priority: 50 }),
            expect: (c) => {
              expect(c.k.rule(50, 6)).toMatchObject({ src: 'fd00:20::', srclen: 64, table: String(table) });
              expect(c.k.rule(50, 4)).toBeUndefined();
            },
          },
          {
            commit: (tx) => tx.removeRule({ family: 'inet6', src: 'fd00:20::/64', table, priority: 50 }),
            expect: (c) => expect(c.k.rule(50, 6)).toBeUndefined(),
          },
        ],
      }),
    ),
  ),

  // ---- test_neighbour.py
  ...(['simple', 'chain'] as const).map(
    (how): Scenario => ({
      from: `${NDB}/test_neighbour.py::test_add_neighbour_${how}`,
      steps: [
        {
          commit: (tx) =>
            dummy(tx, 'nb0')
              .up()
              .addIp(`${ip4(0)}/24`),
        },
        {
          commit: (tx) => tx.addNeighbour({ ifname: 'nb0', dst: ip4(1), lladdr: '00:11:22:33:44:55' }),
          expect: (c) =>
            expect(c.k.neighbours().filter((n) => n.dst === ip4(1))).toMatchObject([{ dev: 'nb0', lladdr: '00:11:22:33:44:55' }]),
        },
      ],
    }),
  ),
];
