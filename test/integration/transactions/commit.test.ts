/**
 * Commit: ordered apply, confirmation, and rollback as a whole. The fault
 * matrix makes the kernel refuse at each phase of a multi-object commit in
 * turn and proves with `ip -j` that the state afterwards is the state before.
 */
import { describe, expect, it, vi } from 'vitest';
import { type BatchRequest, Rtnl, SystemError, TimeoutError, type Transaction, TransactionError } from '../../../src/index.js';
import { expectStoreMatchesKernel, viewFromIproute2 } from '../../helpers/kernel-view.js';
import { ipAll, useLabStore } from '../../helpers/lab.js';
import { ip, ipJson } from '../../helpers/netns.js';

/**
 * Besides the basic lab: a macvlan on v0, a bridge with a veth port whose
 * peer is in the second namespace, and a rule; the common change removes
 * all of them, so every fault also rolls back removals. And a bridge brq.
 */
const lab = useLabStore({
  namespaces: 2,
  after: ([a, b]) => {
    ipAll(a as string, [
      'link add m0 link v0 type macvlan mode bridge',
      'addr add 10.0.40.1/24 dev m0',
      'link set m0 up',
      'link add brw type bridge',
      'link set brw up',
      'addr add 10.0.50.1/24 dev brw',
      `link add w0 type veth peer name w1 netns ${b}`,
      'link set w0 master brw',
      'link set w0 up',
      'rule add from 10.5.0.0/16 lookup 100 priority 800',
      'link add brq type bridge',
    ]);
    ipAll(b as string, ['addr add 10.0.50.2/24 dev w1', 'link set w1 up', 'route add 10.60.0.0/16 via 10.0.50.1']);
  },
});
const ns = lab.ns;

/** Both namespaces as iproute2 shows them. */
function bothViews(): unknown {
  return lab.ns.names.map((n) => viewFromIproute2(n, false));
}

describe('commit', () => {
  it('builds a lab in one transaction, in dependency order, and resolves with a report', async () => {
    const tx = lab.db.begin();
    tx.create({ kind: 'veth', ifname: 'h0', peer: 'h1' }).up().addIp('10.1.0.1/24');
    tx.create({ kind: 'bridge', ifname: 'br0' }).addPort('h1').up();
    tx.interface('h1').up();
    tx.interface('v0').set({ mtu: 1400 });
    tx.addRoute({ dst: '10.2.0.0/16', gateway: '10.1.0.2', metrics: { mtu: 1400 } });
    tx.addRule({ src: '10.1.0.0/16', table: 100, priority: 1000 });
    tx.addNeighbour({ ifname: 'h0', dst: '10.1.0.9', lladdr: '02:00:00:00:00:09' });
    const report = await tx.commit();
    expect(report.steps).toBe(report.applied.length);
    expect(report.applied.indexOf('create veth h0')).toBeLessThan(report.applied.indexOf('make h1 a port of br0'));
    expect(report.applied.indexOf('add 10.1.0.1/24 to h0')).toBeLessThan(report.applied.indexOf('add route 10.2.0.0/16'));
    expect(ipJson<{ master?: string }[]>(ns.name, 'link', 'show', 'h1')[0]?.master).toBe('br0');
    expect(ipJson<{ gateway?: string }[]>(ns.name, 'route', 'show', '10.2.0.0/16')[0]?.gateway).toBe('10.1.0.2');
    expect(lab.db.interfaces.get('v0')?.mtu).toBe(1400);
    await expectStoreMatchesKernel(lab.db, ns.name);
    expect(() => tx.review()).toThrow(/committed/);
  });

  it('turns a route multipath and back', async () => {
    await commitWith((tx) => tx.route('10.9.0.0/16').addNh({ gateway: '10.0.0.3', weight: 3 }));
    const hops = ipJson<{ nexthops?: { gateway: string; weight: number }[] }[]>(ns.name, 'route', 'show', '10.9.0.0/16')[0]
      ?.nexthops;
    expect(hops?.map((h) => [h.gateway, h.weight])).toEqual([
      ['10.0.0.2', 1],
      ['10.0.0.3', 3],
    ]);
    await commitWith((tx) => tx.route('10.9.0.0/16').delNh({ gateway: '10.0.0.3' }));
    expect(ipJson<{ gateway?: string }[]>(ns.name, 'route', 'show', '10.9.0.0/16')[0]?.gateway).toBe('10.0.0.2');
    await expectStoreMatchesKernel(lab.db, ns.name);
  });

  it('removes what it was told to, and confirms the removal', async () => {
    await commitWith((tx) => {
      tx.route({ dst: '10.8.0.0/16', table: 100 }).remove();
      tx.interface('v0').delIp('2001:db8::1/64');
      tx.removeNeighbour({ ifname: 'v0', dst: '10.0.0.7' });
    });
    expect(ipJson(ns.name, 'route', 'show', 'table', '100')).toEqual([]);
    await expectStoreMatchesKernel(lab.db, ns.name);
  });
});

async function commitWith(stage: (tx: Transaction) => void): Promise<void> {
  const tx = lab.db.begin();
  stage(tx);
  await tx.commit();
}

interface Fault {
  name: string;
  /** The step the kernel refuses (as the plan names it). */
  step: RegExp;
  code: string;
  /** Staged on top of the common multi-object change. */
  stage: (tx: Transaction) => void;
  /** An outside change made after staging, before the commit. */
  meanwhile?: () => void;
}

/** A change of every phase: creation, attributes, ports, addresses, state, routes, rules, neighbours. */
function common(tx: Transaction): void {
  tx.create({ kind: 'bridge', ifname: 'brx' }).up();
  tx.interface('v1').set({ master: 'brx' });
  tx.interface('v0').set({ mtu: 1400, ifalias: 'uplink' }).addIp('10.0.9.1/24').delIp('2001:db8::1/64');
  tx.route('10.9.0.0/16').set({ gateway: '10.0.0.3' });
  tx.route({ dst: '10.8.0.0/16', table: 100 }).remove();
  tx.addRoute({ dst: '10.6.0.0/16', gateway: '10.0.9.2' });
  tx.addRule({ src: '10.6.0.0/16', table: 100, priority: 900 });
  tx.addNeighbour({ ifname: 'v0', dst: '10.0.0.8', lladdr: '02:00:00:00:00:08' });
  tx.interface('m0').remove();
  tx.interface('brw').remove();
  tx.interface('w0').remove(); // and w1, in the other namespace
  tx.removeRule({ priority: 800 });
}

const faults: Fault[] = [
  {
    name: 'a kind the kernel lacks (creation)',
    step: /create dummy d0/,
    code: 'EOPNOTSUPP',
    stage: (tx) => tx.create({ kind: 'dummy', ifname: 'd0' }),
  },
  {
    name: 'a name taken meanwhile (creation)',
    step: /create bridge brx/,
    code: 'EEXIST',
    stage: () => undefined,
    meanwhile: () => ip(ns.name, 'link', 'add', 'brx', 'type', 'bridge'),
  },
  {
    name: 'an MTU the kind cannot take (attributes)',
    step: /set .*mtu.* of v1/,
    code: 'EINVAL',
    stage: (tx) => tx.interface('v1').set({ mtu: 70000 }),
  },
  {
    name: 'an address added meanwhile (addresses)',
    step: /add 10.0.9.1\/24 to v0/,
    code: 'EEXIST',
    stage: () => undefined,
    meanwhile: () => ip(ns.name, 'addr', 'add', '10.0.9.1/24', 'dev', 'v0'),
  },
  {
    name: 'an unreachable gateway (routes)',
    step: /add route 10.5.0.0\/16/,
    code: 'ENETUNREACH',
    stage: (tx) => tx.addRoute({ dst: '10.5.0.0/16', gateway: '192.0.2.1' }),
  },
  {
    name: 'a rule added meanwhile (rules)',
    step: /add rule 900/,
    code: 'EEXIST',
    stage: () => undefined,
    meanwhile: () => ip(ns.name, 'rule', 'add', 'from', '10.6.0.0/16', 'table', '100', 'prio', '900'),
  },
  {
    name: 'a port into a bridge replaced meanwhile by a veth (ports)',
    step: /make q1 a port of brq/,
    code: 'EOPNOTSUPP',
    stage: (tx) => {
      tx.create({ kind: 'veth', ifname: 'q0', peer: 'q1' });
      tx.interface('q1').set({ master: 'brq' });
    },
    meanwhile: () => {
      ip(ns.name, 'link', 'del', 'brq');
      ip(ns.name, 'link', 'add', 'brq', 'type', 'veth', 'peer', 'name', 'brq1');
    },
  },
  {
    name: 'a permanent neighbour without a link-layer address (neighbours)',
    step: /add neighbour 10.0.0.9/,
    code: 'EINVAL',
    stage: (tx) => tx.addNeighbour({ ifname: 'v0', dst: '10.0.0.9' }),
  },
];

describe('staging many routes', () => {
  it('a table found empty is asked again once the store has applied a route change', async () => {
    const tx = lab.db.begin();
    for (let i = 0; i < 3; i++) tx.addRoute({ dst: `10.70.${i}.0/24`, gateway: '10.0.0.2', table: 700 });
    tx.drop();
    ip(ns.name, 'route', 'add', '10.70.1.0/24', 'via', '10.0.0.2', 'table', '700');
    await lab.db.sync();
    const again = lab.db.begin();
    expect(() => again.addRoute({ dst: '10.70.1.0/24', gateway: '10.0.0.3', table: 700 })).toThrow(/exists already/);
    again.addRoute({ dst: '10.70.2.0/24', gateway: '10.0.0.2', table: 700 });
    await again.commit();
    expect(ipJson(ns.name, 'route', 'show', 'table', '700').length).toBe(2);
    await expectStoreMatchesKernel(lab.db, ns.name);
  });
});

describe('what the kernel takes away with an address', () => {
  const setup = () =>
    ipAll(ns.name, [
      'addr add 10.0.0.5/24 dev v0', // a secondary of 10.0.0.1
      'addr add 10.0.9.1/24 dev v0',
      'route add 10.88.0.0/16 via 10.0.0.2 src 10.0.9.1',
      'route add 10.89.0.0/16 via 10.0.0.2',
    ]);
  const cases: [string, string][] = [
    ['an address used as a route source: that route comes back', '10.0.9.1/24'],
    ['a primary with a secondary: both come back, and the routes', '10.0.0.1/24'],
  ];
  for (const [name, cidr] of cases) {
    it(name, async () => {
      setup();
      await lab.db.sync();
      const before = bothViews();
      const tx = lab.db.begin();
      tx.interface('v0').delIp(cidr);
      tx.addRoute({ dst: '10.90.0.0/16', gateway: '10.123.0.1' }); // refused: no route to that gateway
      const err = await tx.commit().catch((e) => e);
      expect(err).toBeInstanceOf(TransactionError);
      expect(err.notRolledBack).toEqual([]);
      expect(bothViews()).toEqual(before);
      await expectStoreMatchesKernel(lab.db, ns.name);
    });
  }
});

describe('explicit priorities', () => {
  it('objects given an order go first, lowest first; the rest follow the dependency order', async () => {
    const tx = lab.db.begin();
    tx.interface('v0').set({ mtu: 1400 });
    tx.addRoute({ dst: '10.44.0.0/16', gateway: '10.0.0.2' }).order(1);
    tx.interface('v1').set({ ifalias: 'first' }).order(0);
    const report = await tx.commit();
    expect(report.applied).toEqual(['set ifalias of v1', 'add route 10.44.0.0/16', 'set mtu of v0']);
    for (const n of ns.names) await expectStoreMatchesKernel(lab.db, n);
  });
});

describe('links that go with another', () => {
  it('removing a link stages its veth peer and the links stacked on it; a rollback brings all back', async () => {
    const before = bothViews();
    const tx = lab.db.begin();
    tx.interface('v0').remove();
    expect(Object.keys(tx.review().interfaces).sort()).toEqual(['m0', 'v0', 'v1']);
    tx.addRoute({ dst: '10.5.0.0/16', gateway: '192.0.2.1' });
    const err = await tx.commit().catch((e) => e);
    expect(err).toBeInstanceOf(TransactionError);
    expect(err.notRolledBack).toEqual([]);
    expect(bothViews()).toEqual(before);
    for (const n of ns.names) await expectStoreMatchesKernel(lab.db, n);
  });
});

describe('ensureReachable', () => {
  it('passes when the address answers an ICMP echo from the namespace (IPv4 to the other namespace, IPv6 locally)', async () => {
    const tx = lab.db.begin();
    tx.interface('v0').addIp('10.0.5.1/24');
    tx.ensureReachable('10.0.50.2').ensureReachable('2001:db8::1');
    const report = await tx.commit();
    expect(report.applied).toContain('add 10.0.5.1/24 to v0');
    // From the other namespace too.
    await lab.db
      .begin()
      .ensureReachable('10.0.50.1', { netns: ns.names[1] as string })
      .commit();
  });

  it('an address that never answers rolls the commit back', async () => {
    const before = bothViews();
    const tx = lab.db.begin();
    tx.interface('v0').addIp('10.0.5.1/24');
    tx.ensureReachable('10.0.5.99', { timeout: 600 });
    const err = await tx.commit().catch((e) => e);
    expect(err).toBeInstanceOf(TransactionError);
    expect(err.step).toBe('ensureReachable 10.0.5.99');
    expect(err.message).toMatch(/did not answer an ICMP echo/);
    expect(err.rolledBack).toEqual(['add 10.0.5.1/24 to v0']);
    expect(bothViews()).toEqual(before);
    for (const n of ns.names) await expectStoreMatchesKernel(lab.db, n);
  });

  it('refuses what is not an address at staging', () => {
    expect(() => lab.db.begin().ensureReachable('10.0.5')).toThrow(/not an IP address/);
  });
});

describe('load(state)', () => {
  it('stages what turns the current state back into a dumped one; committed, the kernel is as it was', async () => {
    const [a, b] = ns.names as [string, string];
    const saved = JSON.parse(JSON.stringify(lab.db.dump())); // as it would come back from a file
    const before = bothViews();
    ipAll(a, [
      'addr add 10.0.77.1/24 dev v0',
      'route del 10.9.0.0/16',
      'route add 10.33.0.0/16 via 10.0.0.2 table 100',
      'link set m0 mtu 1300',
      'link add x0 type veth peer name x1',
      'link set w0 nomaster',
      'rule del priority 800',
      'neigh del 10.0.0.7 dev v0',
      'link del brq',
    ]);
    ipAll(b, ['addr del 10.0.50.2/24 dev w1']); // takes 10.60.0.0/16 with it
    await lab.db.waitFor('interface', 'x1');
    await lab.db.waitFor('address', { netns: b, address: '10.0.50.2' }, { absent: true });
    await lab.db.waitFor('interface', 'brq', { absent: true });

    const tx = lab.db.begin().load(saved);
    const review = tx.review();
    expect(review.interfaces).toMatchObject({
      v0: { '-ipaddr': ['10.0.77.1/24'] },
      m0: { mtu: 1500 },
      w0: { master: 'brw' },
      x0: { remove: true },
      x1: { remove: true },
      brq: { kind: 'bridge' },
      [`${b}:w1`]: { '+ipaddr': ['10.0.50.2/24'] },
    });
    expect(Object.keys(review.routes).sort()).toEqual(['10.33.0.0/16 table 100', '10.9.0.0/16', `${b}:10.60.0.0/16`].sort());
    expect(Object.keys(review.rules)).toHaveLength(1);
    expect(Object.keys(review.neighbours)).toEqual(['10.0.0.7 dev v0']);
    await tx.commit();
    expect(bothViews()).toEqual(before);
    for (const n of ns.names) await expectStoreMatchesKernel(lab.db, n);
    // Loaded again: nothing left to do.
    const again = lab.db.begin().load(saved).review();
    expect(again).toEqual({ interfaces: {}, routes: {}, rules: {}, neighbours: {} });
  });

  it('refuses a state of a namespace the store does not follow, or that is not a state', () => {
    expect(() => lab.db.begin().load({ namespaces: { 'nst-elsewhere': {} } })).toThrow(/does not follow/);
    expect(() => lab.db.begin().load({} as never)).toThrow(/db.dump\(\)/);
  });
});

describe('moving a link to another namespace', () => {
  it('takes its addresses and state along, and shows it in the review', async () => {
    const [a, b] = ns.names as [string, string];
    const tx = lab.db.begin();
    tx.interface('v0').set({ netns: b });
    expect(tx.review().interfaces[`${b}:v0`]).toMatchObject({ netns: b });
    await tx.commit();
    expect(ipJson<{ ifname: string }[]>(a, 'link', 'show').map((l) => l.ifname)).not.toContain('v0');
    expect(
      ipJson<{ addr_info: { local: string }[]; operstate: string }[]>(b, 'addr', 'show', 'v0')[0]?.addr_info.map((i) => i.local),
    ).toEqual(expect.arrayContaining(['10.0.0.1', '2001:db8::1']));
    expect(lab.db.interfaces.get({ netns: b, ifname: 'v0' })).toMatchObject({ state: 'up' });
    for (const n of ns.names) await expectStoreMatchesKernel(lab.db, n);
  });

  it('is undone on a failure: the link comes home with its addresses, routes and neighbours', async () => {
    const before = bothViews();
    const tx = lab.db.begin();
    tx.interface('v0').set({ netns: ns.names[1] as string, mtu: 1400 });
    tx.addRoute({ dst: '10.5.0.0/16', gateway: '192.0.2.1' });
    const err = await tx.commit().catch((e) => e);
    expect(err).toBeInstanceOf(TransactionError);
    expect(err.code).toBe('ENETUNREACH');
    expect(err.notRolledBack).toEqual([]);
    expect(bothViews()).toEqual(before);
    for (const n of ns.names) await expectStoreMatchesKernel(lab.db, n);
  });

  it('is refused at staging to a namespace the store does not follow', () => {
    const tx = lab.db.begin();
    expect(() => tx.interface('v0').set({ netns: 'nst-not-followed' })).toThrow(/not followed/);
    expect(() => tx.interface('brw').set({ netns: ns.names[1] as string })).toThrow(/has ports/);
  });
});

/** Commits `tx` while `spy` is in place; what the commit rejected with. */
async function commitUnder(
  tx: Transaction,
  spy: { mockRestore(): void },
  options?: { timeout?: number },
): Promise<TransactionError> {
  try {
    return await tx.commit(options).catch((e) => e);
  } finally {
    spy.mockRestore();
  }
}

/** Rolled back whole: nothing left out, both namespaces as before, the store equal to the kernel. */
async function expectRolledBack(err: TransactionError, before: unknown): Promise<void> {
  expect(err.notRolledBack).toEqual([]);
  expect(bothViews()).toEqual(before);
  for (const n of ns.names) await expectStoreMatchesKernel(lab.db, n);
}

describe('fault matrix: a refusal at each phase rolls everything back', () => {
  for (const f of faults) {
    it(f.name, async () => {
      const tx = lab.db.begin();
      common(tx);
      f.stage(tx);
      f.meanwhile?.();
      const before = bothViews();
      await lab.db.sync(); // the store has caught up with the outside change
      const err = await tx.commit().catch((e) => e);
      expect(err).toBeInstanceOf(TransactionError);
      expect(err.step).toMatch(f.step);
      expect(err.code).toBe(f.code);
      expect(err.message).toContain(f.code);
      await expectRolledBack(err, before);
    });
  }

  it('a batch whose outcome is unknown (its socket failed after the kernel took it) is undone with the rest', async () => {
    const before = bothViews();
    const tx = lab.db.begin();
    common(tx);
    // The kernel applies the route phase; the reply is then lost as a broken socket would lose it.
    const batch = Rtnl.prototype.batch;
    const spy = vi.spyOn(Rtnl.prototype, 'batch').mockImplementation(async function (
      this: Rtnl,
      requests: readonly BatchRequest[],
    ) {
      const results = await batch.call(this, requests);
      if (requests.some((r) => r.op === 'route' && r.cmd !== 'del')) {
        throw new SystemError('recv', 105, 'ENOBUFS', 'netlink socket');
      }
      return results;
    });
    const err = await commitUnder(tx, spy);
    expect(err).toBeInstanceOf(TransactionError);
    expect(err.step).toMatch(/route 10\.(6|9)\.0\.0\/16/);
    expect(err.cause).toBeInstanceOf(SystemError);
    await expectRolledBack(err, before);
  });

  it('a target the store never shows times out, names what never came, and rolls back', async () => {
    const before = bothViews();
    const tx = lab.db.begin();
    common(tx);
    // The kernel takes the route; the store's reading of it is made blind to it.
    const bodyOf = lab.db.routes.bodyOf.bind(lab.db.routes);
    const spy = vi.spyOn(lab.db.routes, 'bodyOf').mockImplementation((id) => (id.dst === '10.6.0.0/16' ? undefined : bodyOf(id)));
    const err = await commitUnder(tx, spy, { timeout: 300 });
    expect(err).toBeInstanceOf(TransactionError);
    expect(err.step).toBe('confirm');
    expect(err.cause).toBeInstanceOf(TimeoutError);
    expect(err.message).toContain('the kernel never showed: route 10.6.0.0/16');
    expect(err.message).not.toContain('interface');
    await expectRolledBack(err, before);
  });

  it('a failed check rolls back like a failed step', async () => {
    const before = bothViews();
    const tx = lab.db.begin();
    common(tx);
    tx.check(async () => false);
    const err = await tx.commit().catch((e) => e);
    expect(err).toBeInstanceOf(TransactionError);
    expect(err.step).toBe('check 1');
    expect(err.rolledBack.length).toBeGreaterThan(5);
    expect(bothViews()).toEqual(before);
    for (const n of ns.names) await expectStoreMatchesKernel(lab.db, n);
  });
});
