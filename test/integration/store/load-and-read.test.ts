/** NetState: the initial load, the reading API, events, waitFor, dump, close. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NamespaceError, NetState, type StoreEvent, TimeoutError, ValidationError } from '../../../src/index.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { basicLab } from '../../helpers/lab.js';
import { ip, ipJson, useNetns } from '../../helpers/netns.js';

const ns = useNetns(2);
let db: NetState | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

describe('initial load', () => {
  it('holds what the kernel holds: links, addresses, routes in every table, rules, neighbours', async () => {
    basicLab(ns.name);
    ip(ns.name, 'link', 'add', 'br0', 'type', 'bridge');
    ip(ns.name, 'link', 'set', 'v1', 'master', 'br0');
    ip(ns.name, 'rule', 'add', 'from', '10.1.0.0/16', 'table', '100', 'prio', '1000');
    ip(ns.name, 'rule', 'add', 'from', '10.2.0.0/16', 'table', '100', 'prio', '1000');
    ip(
      ns.name,
      'route',
      'add',
      '10.77.0.0/16',
      'table',
      '5000',
      'nexthop',
      'via',
      '10.0.0.2',
      'weight',
      '2',
      'nexthop',
      'via',
      '10.0.0.3',
    );
    db = await NetState.open({ netns: ns.name });
    await expectStoreMatchesKernel(db, ns.name);
    // Two rules that differ only in src are two rows.
    expect(db.rules.list({ priority: 1000 }).map((r) => r.src)).toEqual(['10.1.0.0/16', '10.2.0.0/16']);
    const mp = db.routes.get({ dst: '10.77.0.0/16', table: 5000 });
    expect(
      ((mp?.multipath ?? []) as { gateway: string; weight: number; hops: number }[]).map((h) => [h.gateway, h.weight, h.hops]),
    ).toEqual([
      ['10.0.0.2', 2, 1],
      ['10.0.0.3', 1, 0],
    ]);
  });

  it('follows several namespaces in one store, each row tagged with its namespace', async () => {
    basicLab(ns.names[0] as string);
    ip(ns.names[1] as string, 'link', 'add', 'w0', 'type', 'veth', 'peer', 'name', 'w1');
    db = await NetState.open({ netns: ns.names });
    expect(db.followed).toEqual(ns.names);
    expect(db.interfaces.get('w0')?.netns).toBe(ns.names[1]);
    expect(db.interfaces.get({ ifname: 'lo', netns: ns.names[1] })?.netns).toBe(ns.names[1]);
    expect(db.interfaces.count({ ifname: 'lo' })).toBe(2);
    for (const n of ns.names) await expectStoreMatchesKernel(db, n);
  });

  it('refuses a missing namespace with NamespaceError, and bad options with ValidationError', async () => {
    await expect(NetState.open({ netns: 'nst-does-not-exist' })).rejects.toThrow(NamespaceError);
    await expect(NetState.open({ netns: [ns.name, ns.name] })).rejects.toThrow(ValidationError);
  });

  it('netns: [] follows nothing until told to', async () => {
    basicLab(ns.name);
    const db = await NetState.open({ netns: [], journal: false });
    try {
      expect(db.followed).toEqual([]);
      expect(db.interfaces.count()).toBe(0);
      await db.follow(ns.name);
      expect(db.followed).toEqual([ns.name]);
      expect(db.interfaces.get({ netns: ns.name, ifname: 'v0' })).toBeDefined();
      await expectStoreMatchesKernel(db, ns.name);
    } finally {
      await db.close();
    }
  });

  it('can keep the store in a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nst-store-'));
    try {
      basicLab(ns.name);
      db = await NetState.open({ netns: ns.name, store: join(dir, 'state.sqlite') });
      await expectStoreMatchesKernel(db, ns.name);
      await db.close();
      const count = execFileSync('node', [
        '-e',
        `const D=require(${JSON.stringify(require.resolve('better-sqlite3'))});const d=new D(${JSON.stringify(join(dir, 'state.sqlite'))});console.log(d.prepare("SELECT count(*) n FROM routes").get().n)`,
      ]);
      expect(Number(String(count).trim())).toBeGreaterThan(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reading', () => {
  it('looks up by name, index, prefix, default, or a partial spec; records are frozen', async () => {
    basicLab(ns.name);
    ip(ns.name, 'route', 'add', 'default', 'via', '10.0.0.254');
    db = await NetState.open({ netns: ns.name });
    const v0 = db.interfaces.get('v0');
    expect(v0).toMatchObject({ ifname: 'v0', kind: 'veth', state: 'up', netns: ns.name });
    expect(v0?.ipaddr).toEqual(expect.arrayContaining(['10.0.0.1/24', '2001:db8::1/64']));
    expect(db.interfaces.get(v0?.index as number)?.ifname).toBe('v0');
    expect(Object.isFrozen(v0)).toBe(true);
    expect(() => {
      (v0 as Record<string, unknown>).mtu = 1;
    }).toThrow(TypeError);
    expect(db.routes.get('10.9.0.0/16')).toMatchObject({ gateway: '10.0.0.2', table: 254, oif: v0?.index });
    expect(db.routes.get('default')).toMatchObject({ gateway: '10.0.0.254' });
    expect(db.routes.get('10.8.0.0/16')).toBeUndefined(); // it is in table 100, not main
    expect(db.routes.get({ dst: '10.8.0.0/16', table: 100 })).toMatchObject({ gateway: '10.0.0.2' });
    expect(db.routes.list({ table: 100 }).map((r) => r.dst)).toEqual(['10.8.0.0/16']);
    expect(db.routes.count({ table: 100 })).toBe(1);
    expect(
      db.routes
        .list({ family: 'inet6', dev: 'v0', table: 'main' })
        .map((r) => r.dst)
        .sort(),
    ).toEqual(
      ipJson<{ dst: string }[]>(ns.name, '-6', 'route', 'show', 'dev', 'v0')
        .map((r) => r.dst)
        .sort(),
    );
    expect(db.routes.list({ gateway: '10.0.0.254' }).map((r) => r.dst)).toEqual(['default']);
    expect(db.addresses.list({ ifname: 'v0', family: 'inet' }).map((a) => `${a.address}/${a.prefixlen}`)).toEqual([
      '10.0.0.1/24',
    ]);
    // Any spelling of an IPv6 address finds it; an interface is a name or an index.
    expect(db.addresses.list({ address: '2001:DB8:0::0001/64' }).map((x) => x.address)).toEqual(['2001:db8::1']);
    expect(db.routes.count({ dev: v0?.index as number, table: 'all' })).toBe(db.routes.count({ dev: 'v0', table: 'all' }));
    expect(db.routes.count({ dev: 'v0', table: 'all' })).toBeGreaterThan(3);
    expect(db.neighbours.get('10.0.0.7')).toMatchObject({ lladdr: '02:00:00:00:00:07', state: 'permanent' });
    expect(
      db.interfaces
        .list({ kind: 'veth' })
        .map((i) => i.ifname)
        .sort(),
    ).toEqual(['v0', 'v1']);
    expect(db.interfaces.list({ state: 'down' })).toEqual([]);
    expect(() => db?.routes.list({ dst: 'not-a-prefix' })).toThrow(ValidationError);
    expect(() => db?.routes.list({ family: 'ipx' })).toThrow(ValidationError);
  });

  it('dumps the whole state as JSON-serialisable data', async () => {
    basicLab(ns.name);
    db = await NetState.open({ netns: ns.name });
    const dump = db.dump();
    const round = JSON.parse(JSON.stringify(dump));
    expect(round).toEqual(dump);
    expect(Object.keys(round.namespaces)).toEqual([ns.name]);
    expect(round.namespaces[ns.name].routes.length).toBe(db.routes.count());
  });
});

describe('events and waitFor', () => {
  it('emits typed add / change / remove events with the records before and after', async () => {
    basicLab(ns.name);
    db = await NetState.open({ netns: ns.name });
    const seen: StoreEvent[] = [];
    db.events$.subscribe((e) => seen.push(e));
    ip(ns.name, 'route', 'add', '10.55.0.0/16', 'via', '10.0.0.2');
    await db.waitFor('route', '10.55.0.0/16');
    ip(ns.name, 'route', 'change', '10.55.0.0/16', 'via', '10.0.0.3');
    await db.waitFor('route', { dst: '10.55.0.0/16', gateway: '10.0.0.3' });
    ip(ns.name, 'route', 'del', '10.55.0.0/16');
    await db.waitFor('route', '10.55.0.0/16', { absent: true });
    const mine = seen.filter((e) => (e.after ?? e.before)?.dst === '10.55.0.0/16');
    expect(mine.map((e) => e.action)).toEqual(['add', 'change', 'remove']);
    expect(mine[1]?.before?.gateway).toBe('10.0.0.2');
    expect(mine[1]?.after?.gateway).toBe('10.0.0.3');
    expect(mine[2]?.after).toBeUndefined();
    expect(mine.every((e) => e.kind === 'route' && e.netns === ns.name)).toBe(true);
    await expectStoreMatchesKernel(db, ns.name);
  });

  it('db.sync() is a barrier: what an ip command did before it is in the store after it', async () => {
    const [a, b] = ns.names as [string, string];
    basicLab(a);
    basicLab(b);
    db = await NetState.open({ netns: ns.names });
    for (let i = 0; i < 20; i++) {
      ip(a, 'route', 'add', `10.60.${i}.0/24`, 'via', '10.0.0.2');
      ip(b, 'link', 'set', 'v1', 'mtu', String(1300 + i));
      ip(a, 'route', 'del', `10.60.${i}.0/24`);
      ip(a, 'route', 'add', `10.61.${i}.0/24`, 'via', '10.0.0.2');
      await db.sync();
      expect(db.routes.get(`10.60.${i}.0/24`)).toBeUndefined();
      expect(db.routes.get(`10.61.${i}.0/24`)?.gateway).toBe('10.0.0.2');
      expect(db.interfaces.get({ netns: b, ifname: 'v1' })?.mtu).toBe(1300 + i);
    }
    await db.sync(b);
    await expect(db.sync('nst-nope')).rejects.toBeInstanceOf(NamespaceError);
    await expectStoreMatchesKernel(db, a);
    await expectStoreMatchesKernel(db, b);
  });

  it('waitFor resolves at once when the record is already there, and times out with a clear error', async () => {
    basicLab(ns.name);
    db = await NetState.open({ netns: ns.name });
    await expect(db.waitFor('interface', { ifname: 'v0', state: 'up' })).resolves.toMatchObject({ ifname: 'v0' });
    const err = await db.waitFor('interface', 'nope0', { timeout: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toMatch(/no interface nope0 appeared within 50 ms/);
    await expect(db.waitFor('bogus' as 'route', 'x')).rejects.toThrow(ValidationError);
  });

  it('supports await using', async () => {
    let closed: NetState | undefined;
    {
      await using scoped = await NetState.open({ netns: ns.name });
      closed = scoped;
      expect(scoped.interfaces.get('lo')).toBeDefined();
    }
    expect(() => closed?.interfaces.get('lo')).toThrow();
  });
});
