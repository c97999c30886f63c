/**
 * Bridge port options in transactions: `tx.interface('p0').set({
 * brport_cost: 5, ... })` on a port, on a link joining a bridge in the same
 * transaction, on a port of a bridge made in it. Read back through
 * `ip -j -d link show` (info_slave_data) and /sys/class/net/P/brport/*; a
 * rollback restores the old values, and a port removed or taken out of its
 * bridge gets its options back with its membership.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/index.js';
import type { InterfaceChanges } from '../../../src/transactions/specs.js';
import { expectRollsBack, type FeatureCase, featureCases, linkDetail, sysfs, useFeatureLab } from './harness.js';

const lab = useFeatureLab();

/** br0 (up) with port p0 of veth p0/p1; q0/q1, a veth pair that is no port. */
const BRIDGE = [
  'link add br0 type bridge',
  'link add p0 type veth peer name p1',
  'link set p0 master br0',
  'link set br0 up',
  'link set p0 up',
  'link set p1 up',
  'link add q0 type veth peer name q1',
  'link set q0 up',
  'link set q1 up',
];

/** [option, value, `ip -j -d` key in info_slave_data, its value there, file in brport/, its content]. */
type Option = [keyof InterfaceChanges, number | boolean, string, unknown, string, string];
const OPTIONS: Option[] = [
  ['brport_cost', 5, 'cost', 5, 'path_cost', '5'],
  ['brport_priority', 3, 'priority', 3, 'priority', '3'],
  ['brport_learning', false, 'learning', false, 'learning', '0'],
  ['brport_unicast_flood', false, 'flood', false, 'unicast_flood', '0'],
  ['brport_proxyarp', true, 'proxy_arp', true, 'proxyarp', '1'],
  ['brport_mcast_flood', false, 'mcast_flood', false, 'multicast_flood', '0'],
  ['brport_isolated', true, 'isolated', true, 'isolated', '1'],
];
const byName = new Map(OPTIONS.map((o) => [o[0], o]));

function pick(...names: (keyof InterfaceChanges)[]): Option[] {
  return names.map((n) => byName.get(n) as Option);
}

const changes = (options: Option[]): InterfaceChanges => Object.fromEntries(options.map(([k, v]) => [k, v]));

/** The port's master and options as iproute2 and sysfs show them. */
function expectPort(ns: string, port: string, master: string, options: Option[]): void {
  const l = linkDetail(ns, port);
  expect(l?.master).toBe(master);
  const shown = (l?.linkinfo as { info_slave_kind?: string; info_slave_data?: Record<string, unknown> }) ?? {};
  expect(shown.info_slave_kind).toBe('bridge');
  for (const [name, , key, value, file, content] of options) {
    expect(shown.info_slave_data?.[key], `ip -j: ${name}`).toEqual(value);
    expect(sysfs(ns, port, `brport/${file}`), `brport/${file}`).toBe(content);
  }
}

const ALL = OPTIONS;
const SOME = pick('brport_cost', 'brport_learning', 'brport_isolated');

const cases: FeatureCase[] = [
  {
    name: 'options on a port of a bridge',
    setup: BRIDGE,
    stage: (tx) => tx.interface('p0').set(changes(ALL)),
    review: {
      interfaces: {
        p0: { brport: { cost: 5, priority: 3, learning: 0, unicast_flood: 0, proxyarp: 1, mcast_flood: 0, isolated: 1 } },
      },
    },
    check: (ns) => expectPort(ns, 'p0', 'br0', ALL),
    freeze: {
      pin: (db) => db.interfaces.freeze('p0'),
      drift: ['link set p0 type bridge_slave cost 50 learning on isolated off'],
    },
  },
  {
    name: 'options on a port that is down',
    setup: [...BRIDGE, 'link set p0 down'],
    stage: (tx) => tx.interface('p0').set(changes(SOME)),
    check: (ns) => expectPort(ns, 'p0', 'br0', SOME),
  },
  {
    name: 'options on a link joining the bridge in the same transaction (one set call)',
    setup: BRIDGE,
    stage: (tx) => tx.interface('q0').set({ master: 'br0', ...changes(SOME) }),
    review: { interfaces: { q0: { master: 'br0', brport: { cost: 5, learning: 0, isolated: 1 } }, br0: { '+ports': ['q0'] } } },
    check: (ns) => expectPort(ns, 'q0', 'br0', SOME),
  },
  {
    name: 'options on a port of a bridge made in the same transaction',
    setup: BRIDGE,
    stage: (tx) => {
      tx.create({ kind: 'bridge', ifname: 'br1' }).up().addPort('q0');
      tx.interface('q0').set(changes(pick('brport_priority', 'brport_proxyarp', 'brport_unicast_flood')));
    },
    check: (ns) => expectPort(ns, 'q0', 'br1', pick('brport_priority', 'brport_proxyarp', 'brport_unicast_flood')),
  },
  {
    name: 'a port with options moved to another bridge keeps none of them, and gets the new ones',
    setup: [...BRIDGE, 'link set p0 type bridge_slave cost 9 learning off', 'link add br1 type bridge'],
    stage: (tx) => tx.interface('p0').set({ master: 'br1', brport_priority: 3 }),
    check: (ns) => {
      expectPort(ns, 'p0', 'br1', pick('brport_priority'));
      expect(sysfs(ns, 'p0', 'brport/learning')).toBe('1');
    },
  },
];

/** A port with options set by iproute2, before the store opens. */
const PORT_WITH_OPTIONS = [...BRIDGE, 'link set p0 type bridge_slave cost 9 priority 4 learning off isolated on mcast_flood off'];
const OLD: Option[] = [
  ['brport_cost', 9, 'cost', 9, 'path_cost', '9'],
  ['brport_priority', 4, 'priority', 4, 'priority', '4'],
  ['brport_learning', false, 'learning', false, 'learning', '0'],
  ['brport_isolated', true, 'isolated', true, 'isolated', '1'],
  ['brport_mcast_flood', false, 'mcast_flood', false, 'multicast_flood', '0'],
];

/** Their rollbacks are the table below, which reads sysfs as well. */
const membership: FeatureCase[] = [
  {
    name: 'a port with options removed',
    setup: PORT_WITH_OPTIONS,
    stage: (tx) => tx.interface('p0').remove(),
    check: (ns) => expect(linkDetail(ns, 'p0')).toBeUndefined(),
    rollback: false,
  },
  {
    name: 'a port with options taken out of its bridge',
    setup: PORT_WITH_OPTIONS,
    stage: (tx) => tx.interface('p0').set({ master: null }),
    check: (ns) => expect(linkDetail(ns, 'p0')?.master).toBeUndefined(),
    rollback: false,
  },
  {
    name: 'the bridge of a port with options removed',
    setup: PORT_WITH_OPTIONS,
    stage: (tx) => tx.interface('br0').remove(),
    check: (ns) => expect(linkDetail(ns, 'br0')).toBeUndefined(),
    rollback: false,
  },
];

featureCases(lab, [...cases, ...membership]);

describe('rolled back, a port has its old options again (sysfs too)', () => {
  const STAGES: [string, Parameters<typeof expectRollsBack>[2]][] = [
    ['options changed', (tx) => tx.interface('p0').set(changes(ALL))],
    ['port removed', (tx) => tx.interface('p0').remove()],
    ['port taken out', (tx) => tx.interface('p0').set({ master: null })],
    ['bridge removed', (tx) => tx.interface('br0').remove()],
  ];
  it.each(STAGES)('%s', async (_title, stage) => {
    const db = await lab.open(PORT_WITH_OPTIONS);
    await expectRollsBack(db, lab.ns, stage);
    expectPort(lab.ns, 'p0', 'br0', OLD);
  });
});

describe('bridge port options are refused on what is no bridge port: a ValidationError, and nothing of the call staged', () => {
  const REFUSED: [string, string, InterfaceChanges][] = [
    ['a link with no master', 'q0', { brport_cost: 5 }],
    ['the bridge itself', 'br0', { brport_learning: false }],
    ['a port leaving its bridge in the same call', 'p0', { master: null, brport_cost: 5 }],
  ];
  it.each(REFUSED)('%s', async (_title, ifname, set) => {
    const db = await lab.open(BRIDGE);
    const tx = db.begin();
    let err: unknown;
    try {
      tx.interface(ifname).set(set);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toMatch(/^brport_/);
    expect(tx.review().interfaces).toEqual({});
  });

  it('a value of the wrong type names the option', async () => {
    const db = await lab.open(BRIDGE);
    expect(() =>
      db
        .begin()
        .interface('p0')
        .set({ brport_cost: 'high' as never }),
    ).toThrow(ValidationError);
    expect(() => db.begin().interface('p0').set({ brport_priority: 70000 })).toThrow(/brport_priority/);
  });
});
