/**
 * What users saw go wrong (issue 11, "What was seen"), one test each: the
 * kernel rewrites values and removes things on its own, and a transaction
 * must model that rather than be surprised by it. Each is checked through
 * `ip -j` (the independent reader) as well as the store.
 */
import { describe, expect, it } from 'vitest';
import { type NetState, TransactionError, ValidationError } from '../../../src/index.js';
import { exactView } from '../../helpers/exact-view.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { ipAll, useLabStore } from '../../helpers/lab.js';
import { ip, ipJson } from '../../helpers/netns.js';

const lab = useLabStore({ namespaces: 2 });
const ns = lab.ns;
const db = (): NetState => lab.db;

async function outside(commands: string[], where = ns.name): Promise<void> {
  ipAll(where, commands);
  await db().sync();
}

/**
 * Runs `stage` + commit with a check that fails once everything is applied
 * and confirmed, so every step must be undone; checks that the rollback was
 * exact (both namespaces, through `ip -j`, and the store) and returns the error.
 */
async function failsExactly(stage: (tx: ReturnType<NetState['begin']>) => void): Promise<TransactionError> {
  const before = ns.names.map((n) => exactView(n));
  const tx = db().begin();
  stage(tx);
  tx.check(async () => false);
  const err = await tx.commit().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TransactionError);
  const te = err as TransactionError;
  expect(te.notRolledBack).toEqual([]);
  expect(ns.names.map((n) => exactView(n))).toEqual(before);
  for (const n of ns.names) await expectStoreMatchesKernel(db(), n);
  return te;
}

const linkOf = (name: string, where = ns.name) => ipJson<Record<string, unknown>[]>(where, '-d', 'link', 'show', name)[0];

describe('seen 1: bridges and their kernel-chosen MAC', () => {
  it('adds a port to a bridge made outside (the bridge takes the port MAC: not a failure)', async () => {
    await outside(['link add brx type bridge', 'link add p0 type veth peer name p1']);
    await db().begin().interface('brx').addPort('p0').commit();
    expect(linkOf('p0')?.master).toBe('brx');
    expect(linkOf('brx')?.address).toBe(linkOf('p0')?.address);
    await expectStoreMatchesKernel(db(), ns.name);
  });

  it('a failed commit that added the first port of a bridge puts its MAC back (not 00:00:00:00:00:00)', async () => {
    await outside(['link add brx type bridge', 'link add p0 type veth peer name p1']);
    const before = linkOf('brx')?.address;
    const err = await failsExactly((tx) => {
      tx.interface('brx').addPort('p0');
    });
    expect(err.step).toBe('check 1');
    expect(linkOf('brx')?.address).toBe(before);
  });

  it('an events$ handler that enslaves every new link meanwhile leaves the rollback exact', async () => {
    await outside(['link add brx type bridge']);
    const sub = db().events$.subscribe((e) => {
      if (e.kind === 'interface' && e.action === 'add' && e.after?.kind === 'veth' && !e.after.master) {
        try {
          ip(ns.name, 'link', 'set', String(e.after.ifname), 'master', 'brx');
        } catch {}
      }
    });
    try {
      const tx = db().begin();
      tx.create({ kind: 'veth', ifname: 'e0', peer: 'e1' });
      tx.check(async () => false);
      const err = await tx.commit().catch((e: TransactionError) => e);
      expect(err).toBeInstanceOf(TransactionError);
      expect((err as TransactionError).notRolledBack).toEqual([]);
    } finally {
      sub.unsubscribe();
    }
    expect(ipJson(ns.name, 'link', 'show')).not.toContainEqual(expect.objectContaining({ ifname: 'e0' }));
  });
});

describe('seen 2: IPv4 secondaries go with their primary', () => {
  it('removes a secondary and its primary in one transaction', async () => {
    await outside(['addr add 10.0.0.5/24 dev v0']);
    await db().begin().interface('v0').delIp('10.0.0.5/24').delIp('10.0.0.1/24').commit();
    const left = ipJson<{ addr_info: { local: string }[] }[]>(ns.name, '-4', 'addr', 'show', 'v0')[0]?.addr_info ?? [];
    expect(left).toEqual([]);
    await expectStoreMatchesKernel(db(), ns.name);
  });

  it('removes only a primary: its secondaries go too, and the review said nothing wrong', async () => {
    await outside(['addr add 10.0.0.5/24 dev v0']);
    await db().begin().interface('v0').delIp('10.0.0.1/24').commit();
    await expectStoreMatchesKernel(db(), ns.name);
  });

  it('a failed commit that removed a primary puts back its secondaries, primary first', async () => {
    await outside(['addr add 10.0.0.5/24 dev v0', 'addr add 10.0.0.6/24 dev v0']);
    await failsExactly((tx) => {
      tx.interface('v0').delIp('10.0.0.1/24');
    });
  });
});

describe('seen 3: routes the kernel flushes with the last IPv4 address', () => {
  it('a failed commit that swapped the only IPv4 address keeps the routes through the link', async () => {
    await failsExactly((tx) => {
      tx.interface('v0').addIp('10.0.1.1/24').delIp('10.0.0.1/24');
    });
  });
});

describe('seen 4: values the kernel rewrites', () => {
  it('an IPv6 route with priority 0 (the kernel stores 1024)', async () => {
    const tx = db().begin();
    tx.addRoute({ dst: '2001:db8:5::/48', gateway: '2001:db8::2', priority: 0 });
    await tx.commit();
    expect(ipJson(ns.name, '-6', 'route', 'show', '2001:db8:5::/48')[0]).toMatchObject({ metric: 1024 });
  });

  it('a rule with a numeric action (6 is blackhole)', async () => {
    await db().begin().addRule({ priority: 700, action: 6 }).commit();
    expect(ipJson(ns.name, 'rule', 'show', 'priority', '700')[0]).toMatchObject({ action: 'blackhole' });
    await expectStoreMatchesKernel(db(), ns.name);
  });

  it('an alias set on a link that is down (the kernel announces nothing)', async () => {
    await outside(['link add q0 type veth peer name q1']);
    await db().begin().interface('q0').set({ alias: 'uplink' }).commit();
    expect(linkOf('q0')?.ifalias).toBe('uplink');
    expect(db().interfaces.get('q0')?.ifalias).toBe('uplink');
  });

  it('a failed commit takes an alias set on a down link away again', async () => {
    await outside(['link add q0 type veth peer name q1']);
    await failsExactly((tx) => {
      tx.interface('q0').set({ ifalias: 'uplink' });
    });
    expect(linkOf('q0')?.ifalias).toBeUndefined();
  });
});

describe('seen 5: veth peers', () => {
  it('applies attributes staged on the new peer', async () => {
    const tx = db().begin();
    tx.create({ kind: 'veth', ifname: 'a0', peer: 'b0' });
    tx.interface('b0').set({ mtu: 1400 }).addIp('10.7.0.2/24').up();
    await tx.commit();
    expect(linkOf('b0')).toMatchObject({ mtu: 1400 });
    await expectStoreMatchesKernel(db(), ns.name);
  });

  it('takes the peer address (MAC) given at creation', async () => {
    await db()
      .begin()
      .create({ kind: 'veth', ifname: 'a0', peer: { ifname: 'b0', address: '02:00:00:00:0b:00' } })
      .commit();
    expect(linkOf('b0')?.address).toBe('02:00:00:00:0b:00');
  });

  it('creates the peer straight into another followed namespace, and can remove the pair again', async () => {
    const other = ns.names[1] as string;
    await db()
      .begin()
      .create({ kind: 'veth', ifname: 'a0', peer: { ifname: 'b0', netns: other } })
      .commit();
    const peer = db().interfaces.get({ netns: other, ifname: 'b0' });
    expect(peer?.link).toBe(linkOf('a0')?.ifindex);
    const tx = db().begin();
    tx.interface('b0', { netns: other }).remove();
    await tx.commit();
    expect(ipJson(ns.name, 'link', 'show')).not.toContainEqual(expect.objectContaining({ ifname: 'a0' }));
  });
});

describe('seen 6: vxlan on a lower link', () => {
  it('sends the lower link as the vxlan device attribute (the kernel lacks vxlan multicast without it)', async () => {
    await db()
      .begin()
      .create({ kind: 'vxlan', ifname: 'vx0', link: 'v0', data: { id: 101, group: '239.1.1.1' } })
      .commit();
    const vx = linkOf('vx0') as { linkinfo: { info_data: Record<string, unknown> } };
    expect(vx.linkinfo.info_data).toMatchObject({ id: 101, group: '239.1.1.1', link: 'v0' });
    await expectStoreMatchesKernel(db(), ns.name);
  });
});

describe('seen 7: dump, change, load', () => {
  it('brings a removed veth pair back with both MACs', async () => {
    const saved = JSON.parse(JSON.stringify(db().dump()));
    await outside(['link del v0']);
    await db().begin().load(saved).commit();
    expect(linkOf('v1')?.address).toBe(
      saved.namespaces[ns.name].interfaces.find((i: { ifname: string }) => i.ifname === 'v1').address,
    );
    await expectStoreMatchesKernel(db(), ns.name);
  });

  it('brings a bridge port back (the bridge MAC is the kernel’s)', async () => {
    await outside(['link add br0 type bridge', 'link set v1 master br0']);
    const saved = db().dump();
    await outside(['link set v1 nomaster']);
    await db().begin().load(saved).commit();
    expect(linkOf('v1')?.master).toBe('br0');
  });

  it('brings a link back from the namespace it moved to', async () => {
    const other = ns.names[1] as string;
    const saved = db().dump();
    await outside([`link set v1 netns ${other}`]);
    await db().begin().load(saved).commit();
    expect(linkOf('v1')).toBeDefined();
    expect(ipJson(other, 'link', 'show')).not.toContainEqual(expect.objectContaining({ ifname: 'v1' }));
  });
});

describe('seen 8: two freezes covering one route', () => {
  it('revert a deleted route once, without a false EEXIST', async () => {
    const a = db().interfaces.freeze('v0');
    const b = db().routes.freeze('10.9.0.0/16');
    const errors: unknown[] = [];
    a.reverts$.subscribe((r) => r.error && errors.push(r.error));
    b.reverts$.subscribe((r) => r.error && errors.push(r.error));
    try {
      await outside(['route del 10.9.0.0/16']);
      await a.settled();
      await b.settled();
      await db().sync();
      await a.settled();
      await b.settled();
      expect(errors).toEqual([]);
      expect(ipJson(ns.name, 'route', 'show', '10.9.0.0/16')).toHaveLength(1);
    } finally {
      a.release();
      b.release();
    }
  });
});

describe('seen 9: a rule spec that names nothing removes nothing', () => {
  it.each([
    ['an empty spec', {}],
    ['a priority no rule has', { priority: 42 }],
  ])('%s is refused', (_name, spec) => {
    expect(() => db().begin().removeRule(spec)).toThrow(ValidationError);
  });

  it('a bare number no rule has is refused too', () => {
    expect(() =>
      db()
        .begin()
        .removeRule(42 as unknown as Record<string, unknown>),
    ).toThrow(ValidationError);
  });
});

describe('seen 10: sync() is a barrier for IPv6 addresses too', () => {
  it('holds a nodad IPv6 address added just before, every time', async () => {
    for (let i = 1; i <= 30; i++) {
      ip(ns.name, 'addr', 'add', `2001:db8:77::${i}/64`, 'dev', 'v0', 'nodad');
      await db().sync();
      expect(db().addresses.get({ netns: ns.name, address: `2001:db8:77::${i}` })).toBeDefined();
    }
  });
});
