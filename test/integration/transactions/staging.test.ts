/**
 * Staging and review: changes staged on snapshots, reviewed as set
 * operations, refused at the staging call when bad. Nothing here touches the
 * kernel: each test proves the namespace unchanged at the end.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetState, type Transaction, ValidationError } from '../../../src/index.js';
import { viewFromIproute2 } from '../../helpers/kernel-view.js';
import { basicLab } from '../../helpers/lab.js';
import { useNetns } from '../../helpers/netns.js';

const ns = useNetns();
let db: NetState;
let before: ReturnType<typeof viewFromIproute2>;
beforeEach(async () => {
  basicLab(ns.name);
  db = await NetState.open({ netns: ns.name });
  before = viewFromIproute2(ns.name, false);
});
afterEach(async () => {
  // Staging never reaches the kernel.
  expect(viewFromIproute2(ns.name, false)).toEqual(before);
  await db.close();
});

interface ReviewCase {
  name: string;
  stage: (tx: Transaction) => void;
  expected: unknown;
}

const cases: ReviewCase[] = [
  {
    name: 'a lab: veth pair, bridge with a port, an address, a route',
    stage: (tx) => {
      tx.create({ kind: 'veth', ifname: 'h0', peer: 'h1' }).up().addIp('10.1.0.1/24');
      tx.create({ kind: 'bridge', ifname: 'br0' }).addPort('h1').up();
      tx.addRoute({ dst: '10.2.0.0/16', gateway: '10.1.0.2', metrics: { mtu: 1400 } });
    },
    expected: {
      interfaces: {
        br0: { '+ports': ['h1'], ifname: 'br0', kind: 'bridge', state: 'up' },
        h0: { '+ipaddr': ['10.1.0.1/24'], ifname: 'h0', kind: 'veth', peer: { ifname: 'h1' }, state: 'up' },
        h1: { ifname: 'h1', kind: 'veth', master: 'br0', peerOf: 'h0', state: 'down' },
      },
      routes: { '10.2.0.0/16': { family: 'inet', dst: '10.2.0.0/16', gateway: '10.1.0.2', metrics: { mtu: 1400 }, table: 254 } },
      rules: {},
      neighbours: {},
    },
  },
  {
    name: 'changed scalars and address sets of an existing interface',
    stage: (tx) => {
      tx.interface('v0').set({ mtu: 1400, ifalias: 'uplink' }).addIp('10.0.5.1/24').delIp('10.0.0.1/24');
    },
    expected: {
      interfaces: { v0: { '+ipaddr': ['10.0.5.1/24'], '-ipaddr': ['10.0.0.1/24'], ifalias: 'uplink', mtu: 1400 } },
      routes: {},
      rules: {},
      neighbours: {},
    },
  },
  {
    name: 'a single-path route made multipath, with the IPDB keys',
    stage: (tx) => {
      tx.route('10.9.0.0/16').addNh({ gateway: '10.0.0.3', weight: 2 });
    },
    expected: {
      interfaces: {},
      routes: {
        '10.9.0.0/16': {
          '+multipath': [
            { dev: 'v0', gateway: '10.0.0.2', hops: 0 },
            { gateway: '10.0.0.3', hops: 1 },
          ],
          dev: null,
          gateway: null,
        },
      },
      rules: {},
      neighbours: {},
    },
  },
  {
    name: 'multipath and back to single path is no change',
    stage: (tx) => {
      tx.route('10.9.0.0/16').addNh({ gateway: '10.0.0.3' }).delNh({ gateway: '10.0.0.3' });
    },
    expected: { interfaces: {}, routes: {}, rules: {}, neighbours: {} },
  },
  {
    name: 'removals (a veth takes its peer)',
    stage: (tx) => {
      tx.interface('v1').remove();
      tx.route({ dst: '10.8.0.0/16', table: 100 }).remove();
      tx.removeNeighbour({ ifname: 'v0', dst: '10.0.0.7' });
    },
    expected: {
      interfaces: { v0: { remove: true }, v1: { remove: true } },
      routes: { '10.8.0.0/16 table 100': { remove: true } },
      rules: {},
      neighbours: { '10.0.0.7 dev v0': { remove: true } },
    },
  },
  {
    name: 'rules and neighbours added',
    stage: (tx) => {
      tx.addRule({ src: '10.1.0.0/16', table: 100, priority: 1000 });
      tx.addNeighbour({ ifname: 'v0', dst: '10.0.0.9', lladdr: '02:00:00:00:00:09' });
    },
    expected: {
      interfaces: {},
      routes: {},
      rules: { '1000 from 10.1.0.0/16 lookup 100': { family: 'inet', priority: 1000, src: '10.1.0.0/16', table: 100 } },
      neighbours: {
        '10.0.0.9 dev v0': { dev: 'v0', dst: '10.0.0.9', family: 'inet', lladdr: '02:00:00:00:00:09', state: 'permanent' },
      },
    },
  },
];

describe('review', () => {
  for (const c of cases) {
    it(c.name, () => {
      const tx = db.begin();
      c.stage(tx);
      const review = tx.review();
      expect(review).toEqual(c.expected);
      expect(JSON.parse(JSON.stringify(review))).toEqual(review);
      expect(JSON.stringify(tx.review())).toBe(JSON.stringify(review)); // stable
    });
  }

  it('transactions are independent and numbered; drop discards, and review after drop throws', () => {
    const a = db.begin();
    const b = db.begin();
    expect(b.id).toBeGreaterThan(a.id);
    a.interface('v0').set({ mtu: 1300 });
    expect(b.review().interfaces).toEqual({});
    a.drop();
    expect(() => a.review()).toThrow(/dropped/);
    expect(() => a.interface('v0')).toThrow(/dropped/);
  });

  it('staged records are immutable snapshots', () => {
    const tx = db.begin();
    tx.interface('v0').set({ mtu: 1400 });
    const staged = tx.interfaces.get(`${ns.name}|v0`);
    expect(Object.isFrozen(staged?.target)).toBe(true);
    expect(staged?.base?.mtu).toBe(1500);
  });
});

describe('bad input is refused at the staging call', () => {
  const refusals: [string, (tx: Transaction) => void, RegExp][] = [
    ['unknown interface', (tx) => tx.interface('nope0'), /no interface named "nope0"/],
    ['bad CIDR', (tx) => tx.interface('v0').addIp('10.0.0.300/24'), /address/],
    ['bad MAC', (tx) => tx.interface('v0').set({ address: '02:00:00:00:00' }), /address/],
    ['MTU out of range', (tx) => tx.interface('v0').set({ mtu: 20 }), /mtu/],
    [
      'gateway of the wrong family',
      (tx) => tx.addRoute({ dst: '10.5.0.0/16', gateway: '2001:db8::1' }),
      /IPv6, the route is IPv4/,
    ],
    ['two objects with one name', (tx) => tx.create({ kind: 'bridge', ifname: 'v0' }), /exists already/],
    [
      'two staged objects with one name',
      (tx) => {
        tx.create({ kind: 'bridge', ifname: 'b9' });
        tx.create({ kind: 'bridge', ifname: 'b9' });
      },
      /exists already/,
    ],
    ['a veth peer with a taken name', (tx) => tx.create({ kind: 'veth', ifname: 'x0', peer: 'v1' }), /exists already/],
    ['unknown kind', (tx) => tx.create({ kind: 'wormhole', ifname: 'w0' }), /kind/],
    ['port into a plain interface', (tx) => tx.interface('v1').set({ master: 'v0' }), /not a bridge/],
    ['a route that exists', (tx) => tx.addRoute({ dst: '10.9.0.0/16', gateway: '10.0.0.3' }), /exists already/],
    ['a route that does not exist', (tx) => tx.route('10.99.0.0/16'), /no route/],
    ['removing an address that is not there', (tx) => tx.interface('v0').delIp('10.7.7.7/24'), /not on v0/],
    ['an unsettable attribute', (tx) => tx.interface('v0').set({ index: 9 } as never), /unknown field "index"/],
    ['a nexthop without gateway or dev', (tx) => tx.route('10.9.0.0/16').addNh({ weight: 2 }), /gateway or a dev/],
  ];
  for (const [name, stage, message] of refusals) {
    it(name, () => {
      const tx = db.begin();
      const review = tx.review();
      expect(() => stage(tx)).toThrow(ValidationError);
      const again = db.begin();
      expect(() => stage(again)).toThrow(message);
      // The refused call staged nothing.
      if (name !== 'two staged objects with one name') expect(tx.review()).toEqual(review);
    });
  }
});
