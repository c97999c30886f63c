/**
 * tun/tap devices as links of a transaction: `tx.create({ kind: 'tuntap',
 * ... })` (pyroute2's uid/gid or owner/group) and `tx.interface(n).remove()`.
 * Read back through /sys/class/net/DEV/{tun_flags,owner,group} and
 * `ip -j -d link` (info_data); a removed device comes back on a rollback
 * with its index, options, MAC, MTU, alias, addresses and state.
 */
import { describe, expect, it } from 'vitest';
import { IFF_MULTI_QUEUE, IFF_NO_PI, IFF_PERSIST, IFF_TAP, IFF_TUN, IFF_VNET_HDR } from '../../../src/backends/tuntap.js';
import { ValidationError } from '../../../src/index.js';
import type { CreateSpec as CreateSpecInput } from '../../../src/transactions/specs.js';
import { ipAll } from '../../helpers/lab.js';
import { addrInfo, expectRollsBack, type FeatureCase, featureCases, linkDetail, sysfs, useFeatureLab } from './harness.js';

const lab = useFeatureLab();

interface TuntapOptions {
  mode: 'tun' | 'tap';
  owner?: number;
  group?: number;
  multi_queue?: boolean;
  pi?: boolean;
  vnet_hdr?: boolean;
}

/** What the tun driver shows for a device made with these options, in /sys and in `ip -j -d` (info_data). */
function expectTuntap(ns: string, dev: string, o: TuntapOptions): void {
  const flags =
    (o.mode === 'tap' ? IFF_TAP : IFF_TUN) |
    IFF_PERSIST |
    (o.pi ? 0 : IFF_NO_PI) |
    (o.vnet_hdr ? IFF_VNET_HDR : 0) |
    (o.multi_queue ? IFF_MULTI_QUEUE : 0);
  expect(Number(sysfs(ns, dev, 'tun_flags')), 'tun_flags').toBe(flags);
  expect(Number(sysfs(ns, dev, 'owner')), 'owner').toBe(o.owner ?? -1);
  expect(Number(sysfs(ns, dev, 'group')), 'group').toBe(o.group ?? -1);
  const info = (linkDetail(ns, dev)?.linkinfo as { info_kind: string; info_data: Record<string, unknown> }) ?? {};
  expect(info.info_kind).toBe('tun');
  expect(info.info_data).toMatchObject({
    type: o.mode,
    pi: !!o.pi,
    vnet_hdr: !!o.vnet_hdr,
    multi_queue: !!o.multi_queue,
    persist: true,
  });
  // iproute2 prints a uid/gid by its name (0 is root; the others here have none), nothing when there is none.
  const shown = (id: number | undefined) => (id === 0 ? 'root' : id);
  expect(info.info_data.user).toBe(shown(o.owner));
  expect(info.info_data.group).toBe(shown(o.group));
}

/** [title, the spec as given (pyroute2's or iproute2's spelling), the options the device must have]. */
const CREATED: [string, CreateSpecInput, TuntapOptions][] = [
  ['a plain tun', { kind: 'tuntap', ifname: 'tt0', mode: 'tun' }, { mode: 'tun' }],
  [
    "a multi-queue tap with pyroute2's uid/gid",
    { kind: 'tuntap', ifname: 'tt0', mode: 'tap', uid: 4242, gid: 4343, multi_queue: true },
    { mode: 'tap', owner: 4242, group: 4343, multi_queue: true },
  ],
  [
    'a tun with owner/group, packet information and a vnet header',
    { kind: 'tuntap', ifname: 'tt0', mode: 'tun', owner: 4444, group: 0, pi: true, vnet_hdr: true },
    { mode: 'tun', owner: 4444, group: 0, pi: true, vnet_hdr: true },
  ],
];

const creations: FeatureCase[] = CREATED.map(([title, spec, options]) => ({
  name: `create ${title}`,
  stage: (tx) => tx.create(spec),
  review: { interfaces: { tt0: { kind: 'tun', tuntap: expect.objectContaining({ mode: options.mode }) } } },
  check: (ns) => expectTuntap(ns, 'tt0', options),
  // Deleted from outside, a frozen tun/tap is made again with the same options.
  freeze: { pin: (db) => db.interfaces.freeze('tt0'), drift: ['link del tt0'] },
}));

/** A tap made with everything a link can have besides its options. */
const withAttributes: FeatureCase = {
  name: 'create a tap with a MAC, an MTU, an alias, an address, up',
  stage: (tx) =>
    tx
      .create({
        kind: 'tuntap',
        ifname: 'tt1',
        mode: 'tap',
        owner: 4242,
        mtu: 1400,
        address: '02:00:00:00:00:42',
        ifalias: 'vm uplink',
      })
      .addIp('10.3.0.1/24')
      .up(),
  review: { interfaces: { tt1: { '+ipaddr': ['10.3.0.1/24'], state: 'up', mtu: 1400, address: '02:00:00:00:00:42' } } },
  check: (ns) => {
    expectTuntap(ns, 'tt1', { mode: 'tap', owner: 4242 });
    expect(linkDetail(ns, 'tt1')).toMatchObject({ mtu: 1400, address: '02:00:00:00:00:42', ifalias: 'vm uplink' });
    expect(linkDetail(ns, 'tt1')?.flags).toContain('UP');
    expect(addrInfo(ns, 'tt1').map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.3.0.1/24']);
  },
  freeze: { pin: (db) => db.interfaces.freeze('tt1'), drift: ['link del tt1'] },
};

/** A tap made by `ip tuntap add`, with everything a rollback must put back. */
const EXISTING_TAP = [
  'tuntap add dev tr0 mode tap user 4242 group 4343 multi_queue vnet_hdr',
  'link set tr0 mtu 1400 address 02:00:00:00:00:43',
  'link set tr0 alias removed-tap',
  'addr add 10.4.0.1/24 dev tr0',
  'addr add 10.4.0.2/24 dev tr0',
  'link set tr0 up',
];

const removal: FeatureCase = {
  name: 'remove a tap made by ip tuntap (with addresses, alias, MTU, MAC, up)',
  setup: EXISTING_TAP,
  stage: (tx) => tx.interface('tr0').remove(),
  review: { interfaces: { tr0: { remove: true } } },
  check: (ns) => expect(linkDetail(ns, 'tr0')).toBeUndefined(),
  // Its rollback is the test below, which reads /sys as well.
  rollback: false,
};

/**
 * A tap nothing changed since `ip tuntap add`: the kernel announced it once, from TUNSETIFF, before
 * TUNSETPERSIST/TUNSETOWNER/TUNSETGROUP (which announce nothing): that announcement says persist off,
 * no owner, no group.
 */
const bareRemoval: FeatureCase = {
  name: 'remove a tap left as ip tuntap made it (owner, group, nothing else)',
  setup: ['tuntap add dev tr2 mode tap user 4242 group 4343'],
  stage: (tx) => tx.interface('tr2').remove(),
  check: (ns) => expect(linkDetail(ns, 'tr2')).toBeUndefined(),
};

/** One transaction removes a device and makes another under its name: both steps, in that order. */
const replacement: FeatureCase = {
  name: 'a tap replaced by a tun of the same name',
  setup: ['tuntap add dev tr0 mode tap user 4242', 'addr add 10.4.0.1/24 dev tr0'],
  stage: (tx) => {
    tx.interface('tr0').remove();
    tx.create({ kind: 'tuntap', ifname: 'tr0', mode: 'tun', pi: true });
  },
  review: { interfaces: { tr0: expect.objectContaining({ tuntap: { mode: 'tun', pi: true } }) } },
  check: (ns) => {
    expectTuntap(ns, 'tr0', { mode: 'tun', pi: true });
    expect(addrInfo(ns, 'tr0')).toEqual([]);
  },
};

featureCases(lab, [...creations, withAttributes, removal, bareRemoval, replacement]);

describe('a removed tun/tap put back by a rollback', () => {
  it('has its index, its driver options in /sys, its addresses in order and its state', async () => {
    const db = await lab.open([...EXISTING_TAP, 'tuntap add dev tr1 mode tun pi', 'addr add 10.5.0.1/24 dev tr1']);
    const sys = (dev: string) => ['tun_flags', 'owner', 'group'].map((f) => sysfs(lab.ns, dev, f));
    const before = { tr0: sys('tr0'), tr1: sys('tr1'), index: linkDetail(lab.ns, 'tr0')?.ifindex };
    await expectRollsBack(db, lab.ns, (tx) => {
      tx.interface('tr0').remove();
      tx.interface('tr1').remove();
    });
    expect({ tr0: sys('tr0'), tr1: sys('tr1'), index: linkDetail(lab.ns, 'tr0')?.ifindex }).toEqual(before);
    expect(addrInfo(lab.ns, 'tr0').map((a) => a.local)).toEqual(['10.4.0.1', '10.4.0.2']);
    expect(db.interfaces.get('tr0')).toMatchObject({ kind: 'tun', state: 'up', mtu: 1400, ifalias: 'removed-tap' });
  });
});

/**
 * The kernel announces a tun/tap once, from TUNSETIFF, before TUNSETPERSIST,
 * TUNSETOWNER and TUNSETGROUP, which announce nothing (seen with `ip monitor
 * link`: one RTM_NEWLINK, "persist off", no user, no group). What the store
 * holds of a device is what a freeze or a rollback makes again.
 */
describe('the store knows the options of a tun/tap made while it follows the namespace', () => {
  it('made by a commit: the record has its owner, group and persist once the commit resolves', async () => {
    const db = await lab.open();
    await db.begin().create({ kind: 'tuntap', ifname: 'tt0', mode: 'tap', uid: 4242, gid: 4343 }).commit();
    expect(db.interfaces.get('tt0')?.data).toMatchObject({ type: IFF_TAP, owner: 4242, group: 4343, persist: 1 });
  });

  it('made by `ip tuntap add` meanwhile: removed, then rolled back, it comes back with its owner and group', async () => {
    const db = await lab.open();
    ipAll(lab.ns, ['tuntap add dev tr3 mode tap user 4242 group 4343']);
    await db.sync();
    await expectRollsBack(db, lab.ns, (tx) => tx.interface('tr3').remove());
    expect([sysfs(lab.ns, 'tr3', 'owner'), sysfs(lab.ns, 'tr3', 'group')]).toEqual(['4242', '4343']);
  });
});

describe('tun/tap staging refusals (nothing reaches the kernel)', () => {
  const REFUSED: [string, CreateSpecInput, string][] = [
    ['no mode', { kind: 'tuntap', ifname: 'tt9' }, 'mode'],
    ['a mode that is neither tun nor tap', { kind: 'tuntap', ifname: 'tt9', mode: 'fail' as 'tun' }, 'mode'],
    ['tun/tap options on a bridge', { kind: 'bridge', ifname: 'tt9', multi_queue: true }, 'multi_queue'],
    ['an owner out of range', { kind: 'tuntap', ifname: 'tt9', mode: 'tap', owner: -1 }, 'owner'],
  ];
  it.each(REFUSED)('%s: a ValidationError naming the field', async (_title, spec, field) => {
    const db = await lab.open();
    const tx = db.begin();
    let err: unknown;
    try {
      tx.create(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect(tx.review().interfaces).toEqual({});
    tx.drop();
  });
});
