/**
 * Changes the kernel makes without an event, each applied by the store as
 * the kernel does it. Every scenario ends with the fidelity check: the store
 * equals `ip -j` for links, addresses, routes (all tables), rules, neighbours.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NetState, type StoreEvent } from '../../../src/index.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { basicLab, ipAll } from '../../helpers/lab.js';
import { ip, useNetns } from '../../helpers/netns.js';

const ns = useNetns();
let db: NetState | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

interface Scenario {
  name: string;
  /** Commands run before the store opens (after the basic lab). */
  setup?: string[];
  /** The outside change. */
  change: string[];
  /** What must hold afterwards in the store (beyond the fidelity check). */
  expect?: (db: NetState) => void;
}

const MULTIPATH_LAB = [
  'link add w0 type veth peer name w1',
  'link set w0 up',
  'link set w1 up',
  'addr add 10.1.0.1/24 dev w0',
  'route add 10.66.0.0/16 nexthop via 10.0.0.2 nexthop via 10.1.0.2',
];

const scenarios: Scenario[] = [
  {
    name: 'a new veth pair: the end announced first (before its peer existed) learns its peer',
    change: ['link add x0 type veth peer name x1'],
    expect: (db) => {
      const [x0, x1] = [db.interfaces.get('x0'), db.interfaces.get('x1')];
      expect(x1?.link).toBe(x0?.index);
      expect(x0?.link).toBe(x1?.index);
      // Its indexed column follows: SQL finds it by its peer.
      expect(db.interfaces.list({ link: x0?.index as number }).map((i) => i.ifname)).toEqual(['x1']);
    },
  },
  {
    name: 'a deleted link takes its routes (every table), addresses and neighbours',
    change: ['link del v0'],
    expect: (db) => {
      expect(db.routes.list({ gateway: '10.0.0.2' })).toEqual([]);
      expect(db.addresses.list({ address: '10.0.0.1' })).toEqual([]);
      expect(db.neighbours.list({ dst: '10.0.0.7' })).toEqual([]);
    },
  },
  {
    name: 'a link set down loses its IPv4 routes but not the host-scope local ones',
    change: ['link set v0 down'],
    expect: (db) => {
      expect(db.routes.get('10.9.0.0/16')).toBeUndefined();
      expect(db.routes.get({ dst: '10.0.0.1/32', table: 'local', type: 'local' })).toBeDefined();
    },
  },
  {
    name: 'a link set down and up again gets its connected routes back',
    change: ['link set v0 down', 'link set v0 up'],
  },
  {
    name: 'losing carrier marks routes linkdown; regaining it clears the mark',
    change: ['link set v1 down'],
    expect: (db) => {
      expect((db.routes.get('10.9.0.0/16')?.flags as number) & 16).toBe(16);
    },
  },
  {
    name: 'carrier back clears linkdown',
    change: ['link set v1 down', 'link set v1 up'],
    expect: (db) => {
      expect((db.routes.get('10.9.0.0/16')?.flags as number) & 16).toBe(0);
    },
  },
  {
    name: 'removing the last IPv4 address of a link removes its IPv4 routes',
    change: ['addr del 10.0.0.1/24 dev v0'],
    expect: (db) => expect(db.routes.list({ family: 'inet', dev: 'v0', table: 'all' })).toEqual([]),
  },
  {
    name: 'removing an address removes the routes that use it as preferred source',
    setup: ['addr add 10.0.1.1/24 dev v0', 'route add 10.44.0.0/16 via 10.0.0.2 src 10.0.1.1'],
    change: ['addr del 10.0.1.1/24 dev v0'],
    expect: (db) => {
      expect(db.routes.get('10.44.0.0/16')).toBeUndefined();
      expect(db.routes.get('10.9.0.0/16')).toBeDefined();
    },
  },
  {
    name: 'a multipath hop through a link set down is marked dead; the route stays',
    setup: MULTIPATH_LAB,
    change: ['link set w0 down'],
    expect: (db) => expect(db.routes.get('10.66.0.0/16')?.multipath).toHaveLength(2),
  },
  {
    name: 'a multipath route goes with the deletion of a link one of its hops uses',
    setup: MULTIPATH_LAB,
    change: ['link del w0'],
    expect: (db) => expect(db.routes.get('10.66.0.0/16')).toBeUndefined(),
  },
  {
    name: 'a multipath route loses the dead mark when the link comes back',
    setup: MULTIPATH_LAB,
    change: ['link set w0 down', 'link set w0 up'],
  },
  {
    name: 'a deleted bridge releases its ports (the bridge family DELLINK is not a deletion)',
    setup: ['link add br0 type bridge', 'link set v1 master br0'],
    change: ['link del br0'],
    expect: (db) => expect(db.interfaces.get('v1')?.master).toBeUndefined(),
  },
  {
    name: 'a port leaving a bridge stays an interface',
    setup: ['link add br0 type bridge', 'link set v1 master br0'],
    change: ['link set v1 nomaster'],
    expect: (db) => expect(db.interfaces.get('v1')).toBeDefined(),
  },
  {
    name: 'a rule naming a deleted interface becomes detached, and attached again when the name returns',
    setup: ['link add r0 type veth peer name r1', 'rule add iif r0 table 10 prio 100', 'rule add oif r1 table 10 prio 101'],
    change: ['link del r0'],
    expect: (db) => expect((db.rules.get(100)?.flags as number) & 8).toBe(8),
  },
  {
    name: 'a detached rule is attached again by a new interface of that name',
    setup: ['link add r0 type veth peer name r1', 'rule add iif r0 table 10 prio 100'],
    change: ['link del r0', 'link add r0 type veth peer name r1'],
    expect: (db) => expect((db.rules.get(100)?.flags as number) & 8).toBe(0),
  },
  {
    name: 'a renamed interface detaches the rules naming its old name',
    setup: ['link add r0 type veth peer name r1', 'rule add iif r0 table 10 prio 100'],
    change: ['link set r0 name r9'],
    expect: (db) => expect((db.rules.get(100)?.flags as number) & 8).toBe(8),
  },
  {
    name: 'a macvlan goes with its lower link',
    setup: ['link add mv0 link v0 type macvlan mode bridge', 'link set mv0 up', 'addr add 10.5.0.1/24 dev mv0'],
    change: ['link del v0'],
    expect: (db) => expect(db.interfaces.get('mv0')).toBeUndefined(),
  },
];

describe('silent kernel changes', () => {
  for (const s of scenarios) {
    it(s.name, async () => {
      basicLab(ns.name);
      ipAll(ns.name, s.setup ?? []);
      db = await NetState.open({ netns: ns.name });
      await expectStoreMatchesKernel(db, ns.name);
      ipAll(ns.name, s.change);
      await expectStoreMatchesKernel(db, ns.name);
      s.expect?.(db);
    });
  }

  it('reports silent removals as events marked silent', async () => {
    basicLab(ns.name);
    db = await NetState.open({ netns: ns.name });
    const seen: StoreEvent[] = [];
    db.events$.subscribe((e) => seen.push(e));
    ip(ns.name, 'link', 'set', 'v0', 'down');
    await db.waitFor('route', '10.9.0.0/16', { absent: true });
    const removal = seen.find((e) => e.kind === 'route' && e.before?.dst === '10.9.0.0/16');
    expect(removal).toMatchObject({ action: 'remove', silent: true });
    await expectStoreMatchesKernel(db, ns.name);
  });
});
