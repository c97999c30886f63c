/**
 * Addresses in transactions: `addIp(cidr, { broadcast, scope, label, flags,
 * valid_lft, preferred_lft, metric })`, the forms an address is given in
 * (mask, { address, prefixlen }, bare with a prefixlen), `ensureIp`,
 * `delIp` by filter, IPv4 secondaries a removed primary takes along, and the
 * order of addresses (the first added is the primary). Read back through
 * `ip -j addr` and `ip -j route`.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/index.js';
import type { InterfaceHandle } from '../../../src/transactions/interface-handle.js';
import { ipJson } from '../../helpers/netns.js';
import { addrInfo, type FeatureCase, featureCases, useFeatureLab } from './harness.js';

const lab = useFeatureLab();

type Json = Record<string, unknown>;

/** The address `local` of a link as `ip -j addr` shows it. */
function address(ns: string, dev: string, local: string): Json | undefined {
  return addrInfo(ns, dev).find((a) => a.local === local);
}

/** `ip -j addr` of a link as 'a/len' in the kernel's order, one family. */
function cidrs(ns: string, dev: string, family: 'inet' | 'inet6' = 'inet'): string[] {
  return addrInfo(ns, dev)
    .filter((a) => a.family === family)
    .map((a) => `${a.local}/${a.prefixlen}`);
}

function route(ns: string, ...args: string[]): Json[] {
  return ipJson<Json[]>(ns, ...args);
}

/** A case that adds one address to v0 with options, and checks what `ip -j addr` (and the routes) then show. */
function added(
  name: string,
  stage: (v0: InterfaceHandle) => void,
  local: string,
  shown: Json,
  more?: (ns: string) => void,
): FeatureCase {
  return {
    name,
    stage: (tx) => stage(tx.interface('v0')),
    check: (ns) => {
      expect(address(ns, 'v0', local)).toMatchObject(shown);
      more?.(ns);
    },
    // Deleted from outside, a frozen link's address comes back as it was.
    freeze: { pin: (db) => db.interfaces.freeze('v0'), drift: [`addr del ${local}/${shown.prefixlen} dev v0`] },
  };
}

const withOptions: FeatureCase[] = [
  added(
    'an IPv4 address with a broadcast and a label',
    (v0) => v0.addIp('10.0.1.1/24', { broadcast: '10.0.1.127', label: 'v0:one' }),
    '10.0.1.1',
    { prefixlen: 24, broadcast: '10.0.1.127', label: 'v0:one', scope: 'global' },
  ),
  added('an IPv4 address of scope link', (v0) => v0.addIp('10.0.2.1/24', { scope: 'link' }), '10.0.2.1', {
    prefixlen: 24,
    scope: 'link',
  }),
  added(
    'an IPv6 address with nodad and noprefixroute (no prefix route)',
    (v0) => v0.addIp('2001:db8:1::1/64', { flags: ['nodad', 'noprefixroute'] }),
    '2001:db8:1::1',
    { prefixlen: 64, nodad: true, noprefixroute: true },
    (ns) => expect(route(ns, '-6', 'route', 'show', '2001:db8:1::/64')).toEqual([]),
  ),
  added(
    'an IPv4 address with noprefixroute (no prefix route)',
    (v0) => v0.addIp('10.0.3.1/24', { flags: ['noprefixroute'] }),
    '10.0.3.1',
    { prefixlen: 24, noprefixroute: true },
    (ns) => expect(route(ns, 'route', 'show', '10.0.3.0/24')).toEqual([]),
  ),
  added(
    'an IPv4 address with finite lifetimes',
    (v0) => v0.addIp('10.0.4.1/24', { valid_lft: 3000, preferred_lft: 2000 }),
    '10.0.4.1',
    { prefixlen: 24, dynamic: true, valid_life_time: expect.toSatisfy((n: number) => n > 2900 && n <= 3000) },
    (ns) => expect(address(ns, 'v0', '10.0.4.1')?.preferred_life_time).toSatisfy((n: number) => n > 1900 && n <= 2000),
  ),
  added(
    'an IPv4 address whose prefix route has a metric',
    (v0) => v0.addIp('10.0.5.1/24', { metric: 50 }),
    '10.0.5.1',
    { prefixlen: 24 },
    (ns) => expect(route(ns, 'route', 'show', '10.0.5.0/24')).toMatchObject([{ metric: 50, protocol: 'kernel' }]),
  ),
  added(
    'an IPv6 address whose prefix route has a metric',
    (v0) => v0.addIp('2001:db8:2::1/64', { metric: 77, flags: ['nodad'] }),
    '2001:db8:2::1',
    { prefixlen: 64, nodad: true },
    (ns) => expect(route(ns, '-6', 'route', 'show', '2001:db8:2::/64')).toMatchObject([{ metric: 77, protocol: 'kernel' }]),
  ),
];

/** [title, how it is staged on v0, the address iproute2 then shows]. */
const FORMS: [string, (v0: InterfaceHandle) => void, string][] = [
  ['a mask', (v0) => v0.addIp('10.0.6.1/255.255.255.0'), '10.0.6.1/24'],
  ['{ address, prefixlen }', (v0) => v0.addIp({ address: '10.0.7.1', prefixlen: 24 }), '10.0.7.1/24'],
  ['{ address, mask }', (v0) => v0.addIp({ address: '10.0.7.9', mask: '255.255.0.0' }), '10.0.7.9/16'],
  ['a bare address and { prefixlen }', (v0) => v0.addIp('10.0.8.1', { prefixlen: 24 }), '10.0.8.1/24'],
  ['an IPv6 mask', (v0) => v0.addIp('2001:db8:3::1/ffff:ffff:ffff:ffff::', { flags: ['nodad'] }), '2001:db8:3::1/64'],
  ['ensureIp of a new address', (v0) => v0.ensureIp('10.0.10.1/24'), '10.0.10.1/24'],
];

const forms: FeatureCase[] = FORMS.map(([title, stage, cidr], i) => ({
  name: `an address given as ${title}`,
  // Undone, each is one address removed: the first IPv4 and the IPv6 form show it.
  rollback: i === 0 || cidr.includes(':'),
  stage: (tx) => stage(tx.interface('v0')),
  review: { interfaces: { v0: { '+ipaddr': [cidr] } } },
  check: (ns) => expect(cidrs(ns, 'v0', cidr.includes(':') ? 'inet6' : 'inet')).toContain(cidr),
}));

/** Besides the lab's 10.0.0.1/24 and 2001:db8::1/64 on v0. */
const MORE = [
  'addr add 10.0.20.1/24 dev v0',
  'addr add 10.0.21.1/24 dev v0 scope link',
  'addr add 10.0.22.1/24 dev v0 label v0:9',
  'addr add 10.0.23.1/24 dev v0 label v0:9',
  'addr add 2001:db8:4::1/64 dev v0 nodad',
  // Attributes a rollback must give back: a broadcast, noprefixroute, lifetimes.
  'addr add 10.0.25.1/24 broadcast 10.0.25.127 dev v0 noprefixroute',
  'addr add 10.0.26.1/24 dev v0 valid_lft 3000 preferred_lft 2000',
];

/** Addresses whose prefix route has a metric (IFA_RT_PRIORITY), after one that has none. */
const WITH_METRIC = [
  'addr add 10.0.20.1/24 dev v0',
  'addr add 10.0.24.1/24 dev v0 metric 60',
  'addr add 2001:db8:6::1/64 dev v0 nodad metric 70',
];

/**
 * Put back by a rollback, an address must get its metric again: removed
 * itself, or taken off and added again to restore the kernel's order (an
 * earlier address removed and put back lands at the end).
 */
const metrics: FeatureCase[] = [
  {
    name: 'removing addresses whose prefix routes have a metric',
    setup: WITH_METRIC,
    stage: (tx) => tx.interface('v0').delIp('10.0.24.1/24').delIp('2001:db8:6::1/64'),
    check: (ns) => expect(cidrs(ns, 'v0')).not.toContain('10.0.24.1/24'),
  },
  {
    name: 'removing an address listed before one whose prefix route has a metric',
    setup: WITH_METRIC,
    stage: (tx) => tx.interface('v0').delIp('10.0.20.1/24'),
    check: (ns) => expect(route(ns, 'route', 'show', '10.0.24.0/24')).toMatchObject([{ metric: 60 }]),
  },
];

/** [title, the filter, what `ip -j addr` shows on v0 afterwards (as a predicate on each address left)]. */
const FILTERS: [string, Parameters<InterfaceHandle['delIp']>[0], (a: Json) => boolean][] = [
  ["{ family: 'inet' }: every IPv4 address", { family: 'inet' }, (a) => a.family === 'inet6'],
  ["{ scope: 'link' }: the link-scope ones (IPv6 link-local too)", { scope: 'link' }, (a) => a.scope !== 'link'],
  ['{ label }: the labelled ones', { label: 'v0:9' }, (a) => a.label !== 'v0:9'],
  ['{ address }: that one', { address: '10.0.20.1' }, (a) => a.local !== '10.0.20.1'],
  ["'all': every one", 'all', () => false],
];

const removals: FeatureCase[] = FILTERS.map(([title, filter, stays]) => ({
  name: `delIp(${title})`,
  setup: MORE,
  stage: (tx) => tx.interface('v0').delIp(filter),
  check: (ns) => {
    const left = addrInfo(ns, 'v0');
    expect(left.filter((a) => !stays(a))).toEqual([]);
    // Only what the filter names goes: the rest of the lab's addresses stay.
    if (filter !== 'all') expect(left.length).toBeGreaterThan(0);
  },
}));

/** 10.0.0.1/24 (the lab's) is the primary; .5 and .6 its secondaries; 10.0.30.1/24 a primary of its own. */
const SECONDARIES = ['addr add 10.0.0.5/24 dev v0', 'addr add 10.0.0.6/24 dev v0', 'addr add 10.0.30.1/24 dev v0'];

const secondaries: FeatureCase[] = [
  {
    name: 'removing a primary keeps its secondaries (the plan puts back what the kernel took), and the routes',
    setup: SECONDARIES,
    stage: (tx) => tx.interface('v0').delIp('10.0.0.1/24'),
    check: (ns) => {
      expect(cidrs(ns, 'v0').sort()).toEqual(['10.0.0.5/24', '10.0.0.6/24', '10.0.30.1/24']);
      const promoted = addrInfo(ns, 'v0').filter((a) => a.local === '10.0.0.5' || a.local === '10.0.0.6');
      expect(promoted.filter((a) => !a.secondary)).toHaveLength(1);
      expect(route(ns, 'route', 'show', '10.9.0.0/16')).toMatchObject([{ gateway: '10.0.0.2' }]);
    },
  },
  {
    name: 'removing a primary and one secondary keeps the other secondary',
    setup: SECONDARIES,
    stage: (tx) => tx.interface('v0').delIp('10.0.0.1/24').delIp('10.0.0.5/24'),
    check: (ns) => expect(cidrs(ns, 'v0').sort()).toEqual(['10.0.0.6/24', '10.0.30.1/24']),
  },
  {
    name: 'the only IPv4 addresses swapped: primary and secondaries replaced by others',
    setup: ['addr add 10.0.0.5/24 dev v0'],
    stage: (tx) => tx.interface('v0').delIp({ family: 'inet' }).addIp('10.0.31.1/24').addIp('10.0.0.7/24'),
    check: (ns) => {
      expect(cidrs(ns, 'v0').sort()).toEqual(['10.0.0.7/24', '10.0.31.1/24']);
      expect(route(ns, 'route', 'show', '10.9.0.0/16')).toMatchObject([{ gateway: '10.0.0.2' }]);
    },
  },
];

/** Two addresses of one subnet added in one commit, on v1 (which has none): the first added is the primary. */
const ORDERS: [string, string][] = [
  ['10.0.40.1/24', '10.0.40.2/24'],
  ['10.0.40.2/24', '10.0.40.1/24'],
];

const orders: FeatureCase[] = ORDERS.map(([first, second]) => ({
  name: `addresses added in the order ${first}, ${second}: ${first} is the primary`,
  stage: (tx) => tx.interface('v1').addIp(first).addIp(second),
  check: (ns) => {
    expect(cidrs(ns, 'v1')).toEqual([first, second]);
    const v4 = addrInfo(ns, 'v1').filter((a) => a.family === 'inet');
    expect(v4.map((a) => !!a.secondary)).toEqual([false, true]);
  },
}));

featureCases(lab, [...withOptions, ...forms, ...removals, ...metrics, ...secondaries, ...orders]);

describe('ensureIp', () => {
  it('of an address the link has stages nothing (whatever form it is given in)', async () => {
    const db = await lab.open();
    const tx = db.begin();
    tx.interface('v0').ensureIp('10.0.0.1/24').ensureIp('10.0.0.1/255.255.255.0').ensureIp('10.0.0.1', { prefixlen: 24 });
    expect(tx.review().interfaces).toEqual({});
    const report = await tx.commit();
    expect(report.applied).toEqual([]);
  });
});

describe('address staging refusals: a ValidationError naming the field, nothing staged', () => {
  /** [title, the staging call, the field the error names (or what its message says)]. */
  const REFUSED: [string, (v0: InterfaceHandle) => void, string | RegExp][] = [
    ['a prefix length given twice', (v0) => v0.addIp('10.0.50.1/24', { prefixlen: 24 }), 'prefixlen'],
    ['a mask that is not contiguous', (v0) => v0.addIp('10.0.50.1/255.0.255.0'), 'address'],
    ['a broadcast on an IPv6 address', (v0) => v0.addIp('2001:db8:5::1/64', { broadcast: '10.0.0.255' }), 'broadcast'],
    ['a label not starting with the link name', (v0) => v0.addIp('10.0.50.1/24', { label: 'eth0:1' }), 'label'],
    ['an unknown flag', (v0) => v0.addIp('10.0.50.1/24', { flags: ['permanent' as 'nodad'] }), 'flags'],
    ['an address the link has', (v0) => v0.addIp('10.0.0.1/24'), 'address'],
    ['delIp of an address the link lacks', (v0) => v0.delIp('10.0.99.1/24'), 'address'],
    ['delIp({ address }) matching nothing', (v0) => v0.delIp({ address: '10.0.99.1' }), 'address'],
    ['delIp({ label }) matching nothing', (v0) => v0.delIp({ label: 'v0:nope' }), 'filter'],
    // No one field is wrong here: the sentence says which ones there are.
    ['delIp({}) naming nothing', (v0) => v0.delIp({}), /name at least one field \(address, family, scope, label/],
  ];
  it.each(REFUSED)('%s', async (_title, stage, field) => {
    const db = await lab.open();
    const tx = db.begin();
    let err: unknown;
    try {
      stage(tx.interface('v0'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    if (typeof field === 'string') expect((err as ValidationError).field ?? '').toContain(field);
    else expect((err as ValidationError).message).toMatch(field);
    expect(tx.review().interfaces).toEqual({});
  });
});
