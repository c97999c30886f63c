/**
 * db.qdiscs and db.filters stay equal to what `tc -j` shows while someone
 * else changes traffic control with `tc` and `ip`: what the kernel announces
 * on RTNLGRP_TC is applied, what it does silently (the default root a link
 * gets when it comes up or loses its root, the qdiscs and filters that go
 * with their link or their qdisc, a filter changed in place announced with
 * its old content) is modelled or asked for again. See docs/KERNEL-NOTES.md.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetState } from '../../../src/index.js';
import { vethUp } from '../../helpers/lab.js';
import { ip, useNetns } from '../../helpers/netns.js';
import { filtersFromStore, filtersFromTc, qdiscsFromStore, qdiscsFromTc, tc } from './tc-view.js';

/** The first is followed; the second is somewhere to move a link to. */
const ns = useNetns(2);
let db: NetState;
const DEVS = ['v0', 'v1', 'w0', 'w1', 't0'];

beforeEach(async () => {
  vethUp(ns.name);
  db = await NetState.open({ netns: ns.name });
});

afterEach(async () => {
  await db?.close();
});

/** `tc ...` commands, or `ip` ones without the `ip` ('link set v0 up'), one per string. */
function run(commands: readonly string[]): void {
  for (const c of commands) {
    const [tool, ...args] = c.replace('{other}', ns.names[1] as string).split(' ');
    if (tool === 'tc') tc(ns.name, ...args);
    else ip(ns.name, tool as string, ...args);
  }
}

const FWD = 'u32 match u32 0 0 action mirred egress redirect dev v1';
const TBF = 'tbf rate 1mbit burst 10kb latency 50ms';

/**
 * Each case: commands run by someone else, then the store must equal tc, and
 * show (or not show) these lines ('dev kind handle parent' for qdiscs,
 * 'dev block protocol pref handle -> target' for filters).
 */
const CASES: [string, string[], { has?: string[]; hasNot?: string[] }][] = [
  // Roots: announced.
  [
    'a root added (the default it replaces is announced deleted)',
    [`tc qdisc add dev v0 root handle 5: ${TBF}`],
    { has: ['v0 tbf 5: root'] },
  ],
  [
    'a root changed in place',
    [`tc qdisc add dev v0 root handle 5: ${TBF}`, 'tc qdisc change dev v0 root handle 5: tbf rate 2mbit burst 10kb latency 50ms'],
    { has: ['v0 tbf 5: root'] },
  ],
  [
    'a root replaced by another kind (old deleted, new under a handle the kernel picks)',
    [`tc qdisc add dev v0 root handle 5: ${TBF}`, 'tc qdisc replace dev v0 root pfifo limit 100'],
    { hasNot: ['v0 tbf 5: root'] },
  ],
  // Roots: silent.
  [
    'a link coming up gets noqueue, unannounced',
    ['link add w0 type veth peer name w1', 'link set w0 up'],
    { has: ['w0 noqueue 0: root'] },
  ],
  [
    'a root deleted while up: the default comes back unannounced',
    [`tc qdisc add dev v0 root ${TBF}`, 'tc qdisc del dev v0 root'],
    { has: ['v0 noqueue 0: root'] },
  ],
  [
    'a root deleted while down: the built-in noop, which no dump shows',
    [`tc qdisc add dev v0 root ${TBF}`, 'link set v0 down', 'tc qdisc del dev v0 root'],
    { hasNot: ['v0 noqueue 0: root'] },
  ],
  [
    'a root deleted while down, then up: noqueue, unannounced',
    [`tc qdisc add dev v0 root ${TBF}`, 'link set v0 down', 'tc qdisc del dev v0 root', 'link set v0 up'],
    { has: ['v0 noqueue 0: root'] },
  ],
  [
    'a tap coming up gets pfifo_fast, unannounced',
    ['tuntap add dev t0 mode tap', 'link set t0 up'],
    { has: ['t0 pfifo_fast 0: root'] },
  ],
  [
    'a root kept while the link goes down (nothing announced, nothing changes)',
    [`tc qdisc add dev v0 root handle 6: ${TBF}`, 'link set v0 down'],
    { has: ['v0 tbf 6: root'] },
  ],
  // Ingress, clsact and their filters.
  [
    'an ingress qdisc and a forward filter',
    ['tc qdisc add dev v0 ingress', `tc filter add dev v0 parent ffff: protocol all ${FWD}`],
    { has: ['v0 ingress all 49152 800::800 -> v1'] },
  ],
  [
    'an ingress qdisc deleted: its filters go unannounced',
    ['tc qdisc add dev v0 ingress', `tc filter add dev v0 parent ffff: protocol all ${FWD}`, 'tc qdisc del dev v0 ingress'],
    { hasNot: ['v0 ingress all 49152 800::800 -> v1'] },
  ],
  [
    'clsact with filters on both sides',
    [
      'tc qdisc add dev v0 clsact',
      `tc filter add dev v0 egress protocol ip prio 2 ${FWD}`,
      `tc filter add dev v0 ingress protocol all prio 3 ${FWD}`,
    ],
    { has: ['v0 egress ip 2 800::800 -> v1', 'v0 ingress all 3 801::800 -> v1'] },
  ],
  [
    'clsact deleted: the filters of both sides go unannounced',
    [
      'tc qdisc add dev v0 clsact',
      `tc filter add dev v0 egress protocol ip prio 2 ${FWD}`,
      `tc filter add dev v0 ingress protocol all prio 3 ${FWD}`,
      'tc qdisc del dev v0 clsact',
    ],
    { hasNot: ['v0 egress ip 2 800::800 -> v1'] },
  ],
  [
    'a link deleted with its root, ingress and filters: none of it announced',
    [
      'link add w0 type veth peer name w1',
      'link set w0 up',
      `tc qdisc add dev w0 root ${TBF}`,
      'tc qdisc add dev w0 ingress',
      `tc filter add dev w0 parent ffff: protocol all ${FWD}`,
      'link del w0',
    ],
    { hasNot: ['w0 ingress all 49152 800::800 -> v1'] },
  ],
  [
    'a filter changed in place (announced with its old target)',
    [
      'tc qdisc add dev v0 ingress',
      `tc filter add dev v0 parent ffff: protocol all prio 4 handle 800::800 ${FWD}`,
      'link add w0 type veth peer name w1',
      `tc filter replace dev v0 parent ffff: protocol all prio 4 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev w0`,
    ],
    { has: ['v0 ingress all 4 800::800 -> w0'], hasNot: ['v0 ingress all 4 800::800 -> v1'] },
  ],
  [
    'one key node of a priority deleted (announced with its handle)',
    [
      'tc qdisc add dev v0 ingress',
      `tc filter add dev v0 parent ffff: protocol all prio 4 handle 800::800 ${FWD}`,
      'tc filter add dev v0 parent ffff: protocol all prio 4 handle 800::801 u32 match u32 1 1 at 0 action mirred egress redirect dev v1',
      'tc filter del dev v0 parent ffff: protocol all prio 4 handle 800::800 u32',
    ],
    { hasNot: ['v0 ingress all 4 800::800 -> v1'] },
  ],
  [
    'a whole priority deleted (one announcement without a handle)',
    [
      'tc qdisc add dev v0 ingress',
      `tc filter add dev v0 parent ffff: protocol all prio 4 handle 800::800 ${FWD}`,
      'tc filter add dev v0 parent ffff: protocol all prio 4 handle 800::801 u32 match u32 1 1 at 0 action mirred egress redirect dev v1',
      `tc filter add dev v0 parent ffff: protocol ip prio 5 ${FWD}`,
      'tc filter del dev v0 parent ffff: prio 4',
    ],
    { has: ['v0 ingress ip 5 801::800 -> v1'] },
  ],
  [
    'every filter of a block deleted (one announcement per priority)',
    [
      'tc qdisc add dev v0 ingress',
      `tc filter add dev v0 parent ffff: protocol all prio 4 ${FWD}`,
      `tc filter add dev v0 parent ffff: protocol ip prio 5 ${FWD}`,
      'tc filter del dev v0 parent ffff:',
    ],
    { hasNot: ['v0 ingress all 4 800::800 -> v1', 'v0 ingress ip 5 801::800 -> v1'] },
  ],
  [
    "a forward whose target went away stays, pointing nowhere ('*' to tc)",
    [
      'link add w0 type veth peer name w1',
      'tc qdisc add dev v0 ingress',
      'tc filter add dev v0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev w0',
      'link del w0',
    ],
    { has: ['v0 ingress all 49152 800::800 -> *'] },
  ],
  [
    'a forward whose target moved to another namespace: pointing nowhere too',
    [
      'link add w0 type veth peer name w1',
      'tc qdisc add dev v0 ingress',
      'tc filter add dev v0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev w0',
      'link set w0 netns {other}',
    ],
    { has: ['v0 ingress all 49152 800::800 -> *'] },
  ],
];

describe('the store follows traffic control changed by others', () => {
  it.each(CASES)('%s', async (_t, commands, { has = [], hasNot = [] }) => {
    run(commands);
    await db.sync();
    const devs = DEVS.filter((d) => db.interfaces.get(d));
    const store = [...qdiscsFromStore(db, ns.name), ...filtersFromStore(db, ns.name)];
    const kernel = [...qdiscsFromTc(ns.name), ...filtersFromTc(ns.name, devs)];
    expect(store).toEqual(kernel);
    for (const line of has) expect(kernel).toContain(line);
    for (const line of hasNot) expect(kernel).not.toContain(line);
    // No record of a link that is gone.
    const indexes = new Set(db.interfaces.list().map((i) => i.index));
    for (const r of [...db.qdiscs.list(), ...db.filters.list()]) expect(indexes).toContain(r.index);
  });
});
