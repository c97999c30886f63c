/**
 * `db.sync()` is a barrier: once it resolves, the store holds every change
 * made before it, IPv6 addresses included, and what the kernel does without
 * an event (routes a link loses when it goes down or loses its last IPv4
 * address) — checked with no waiting at all after it. And a commit that
 * makes a change the kernel does not announce (an alias, port options or
 * kind options on a link that is down) resolves with it in the store.
 */
import { describe, expect, it } from 'vitest';
import type { NetState, Transaction } from '../../../src/index.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { ipAll } from '../../helpers/lab.js';
import { linkDetail, useFeatureLab } from './harness.js';

const lab = useFeatureLab();

/** The store equals iproute2 now: one look, no retry. */
const matchesNow = (db: NetState) => expectStoreMatchesKernel(db, lab.ns, 0);

describe('db.sync() as a barrier', () => {
  it('for IPv6 addresses added and removed by another program', async () => {
    const db = await lab.open();
    for (let i = 1; i <= 10; i++) {
      ipAll(lab.ns, [`-6 addr add 2001:db8:70::${i}/64 dev v0`, `-6 addr add 2001:db8:71::${i}/64 dev v1 nodad`]);
      await db.sync();
      expect(db.addresses.get({ ifname: 'v0', address: `2001:db8:70::${i}` }), `round ${i}`).toBeDefined();
      expect(db.addresses.get({ ifname: 'v1', address: `2001:db8:71::${i}` }), `round ${i}`).toBeDefined();
      ipAll(lab.ns, [`-6 addr del 2001:db8:70::${i}/64 dev v0`]);
      await db.sync();
      expect(db.addresses.get({ ifname: 'v0', address: `2001:db8:70::${i}` }), `round ${i}`).toBeUndefined();
    }
  });

  /**
   * A link that comes up gets its link-local address at once (a dump shows it, tentative), but the
   * kernel announces it only when duplicate address detection ends, 1-2 s later (seen with
   * `ip -t monitor address`; an address added by hand is announced at once, tentative).
   */
  it('for the link-local addresses the kernel makes when links come up', async () => {
    const db = await lab.open(['link add x0 type veth peer name x1', 'link add br8 type bridge']);
    ipAll(lab.ns, ['link set x0 up', 'link set x1 up', 'link set br8 up']);
    await db.sync();
    await matchesNow(db);
  });

  /** [title, what another program does; the kernel removes routes without an event]. */
  const SILENT: [string, string[]][] = [
    ['a link set down (its IPv4 routes go silently)', ['link set v0 down']],
    ['the last IPv4 address of a link removed (its IPv4 routes go)', ['addr del 10.0.0.1/24 dev v0']],
    [
      'an address used as a preferred source removed',
      ['addr add 10.0.9.1/24 dev v0', 'route add 10.88.0.0/16 via 10.0.0.2 src 10.0.9.1', 'addr del 10.0.9.1/24 dev v0'],
    ],
  ];
  it.each(SILENT)('for %s', async (_title, commands) => {
    const db = await lab.open();
    ipAll(lab.ns, commands);
    await db.sync();
    await matchesNow(db);
  });
});

/** [title, setup, the change, what the store must show once the commit resolved, what iproute2 shows]. */
const UNANNOUNCED: [string, string[], (tx: Transaction) => void, Record<string, unknown>][] = [
  [
    'an alias set on a link that is down',
    ['link add x0 type veth peer name x1'],
    (tx) => tx.interface('x0').set({ ifalias: 'hello' }),
    { ifalias: 'hello' },
  ],
  [
    'an alias cleared on a link that is down',
    ['link add x0 type veth peer name x1', 'link set x0 alias old'],
    (tx) => tx.interface('x0').set({ ifalias: '' }),
    { ifalias: undefined },
  ],
  [
    'an alias set on a link that a rename in the same commit renames',
    ['link add x9 type veth peer name x1'],
    (tx) => tx.interface('x9').set({ ifname: 'x0', ifalias: 'renamed' }),
    { ifalias: 'renamed' },
  ],
  [
    'kind options of a bridge that is down',
    ['link add x0 type bridge'],
    (tx) => tx.interface('x0').set({ data: { forward_delay: 400, hello_time: 300 } }),
    { data: expect.objectContaining({ forward_delay: 400, hello_time: 300 }) },
  ],
  [
    'port options of a port that is down',
    ['link add br0 type bridge', 'link add x0 type veth peer name x1', 'link set x0 master br0'],
    (tx) => tx.interface('x0').set({ brport_cost: 7, brport_learning: false }),
    { slave_data: expect.objectContaining({ cost: 7, learning: 0 }) },
  ],
];

describe('a commit of a change the kernel does not announce', () => {
  it.each(UNANNOUNCED)('%s: in the store when the commit resolves', async (_title, setup, stage, shown) => {
    const db = await lab.open(setup);
    const tx = db.begin();
    stage(tx);
    await tx.commit();
    const rec = db.interfaces.get('x0');
    expect(rec).toMatchObject(Object.fromEntries(Object.entries(shown).filter(([, v]) => v !== undefined)));
    for (const [k, v] of Object.entries(shown)) if (v === undefined) expect(rec?.[k]).toBeUndefined();
    // And it is what the kernel has.
    const ip = linkDetail(lab.ns, 'x0');
    if ('ifalias' in shown) expect(ip?.ifalias).toBe(shown.ifalias);
    await matchesNow(db);
  });
});
