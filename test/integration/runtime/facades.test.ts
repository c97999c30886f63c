/**
 * The thin facades in p4net's and pyroute2-netns' names: Namespace and
 * VethPair, enableIpv6/disableIpv6; each call a transaction, read back
 * through ip -j and sysctl. Tables of p4net's refusals (MTU outside
 * 68..65535, an IPv4 address to setAddress6, a namespace that exists).
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  disableIpv6,
  enableIpv6,
  LinkError,
  listNetns,
  Namespace,
  NamespaceError,
  NetState,
  ValidationError,
  VethPair,
} from '../../../src/index.js';
import { delNetns, freshName, ipJson, useNetns } from '../../helpers/netns.js';
import { useRuntimeCleanup } from '../../helpers/runtime.js';

const lab = useNetns(1);
let made: string[] = [];
let db: NetState;

beforeEach(async () => {
  made = [freshName('f'), freshName('f')];
  db = await NetState.open({ netns: [lab.name], journal: false });
});
useRuntimeCleanup(() => [...made, lab.name].filter((n) => listNetns().includes(n)));
afterEach(async () => {
  await db.close();
  for (const n of made) delNetns(n);
});

const sysctl = (ns: string, key: string) =>
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', key], { encoding: 'utf8' }).trim();

describe('Namespace', () => {
  it('create, exec, spawn, destroy: a transaction each; the pid is the command own', async () => {
    const ns = await Namespace.create(made[0] as string, { db });
    expect(listNetns()).toContain(ns.name);
    expect(db.namespaces.get(ns.name)).toMatchObject({ followed: true, made: true });
    const out = await ns.exec(['ip', '-j', 'link'], { capture: true });
    expect(JSON.parse(out.stdout).map((l: { ifname: string }) => l.ifname)).toEqual(['lo']);
    const p = ns.spawn(['sleep', '30']);
    expect(execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).split('\n')).toContain(String(p.pid));
    await ns.destroy();
    expect(listNetns()).not.toContain(ns.name);
    expect((await p.wait({ timeout: 2000 })).signal).toBe('SIGTERM');
  });

  it('refuses a namespace that exists (create) or is gone (destroy), as p4net', async () => {
    await expect(Namespace.create(lab.name, { db })).rejects.toBeInstanceOf(NamespaceError);
    expect(() => Namespace.of(made[1] as string)).toThrow(NamespaceError);
  });

  it('await using removes it', async () => {
    {
      await using ns = await Namespace.create(made[0] as string, { db });
      expect(ns.exists).toBe(true);
    }
    expect(listNetns()).not.toContain(made[0]);
  });
});

describe('VethPair', () => {
  it('create, move, up, addresses, MTU and MAC per side; nameOf/namespaceOf follow the ends', async () => {
    const v = new VethPair('va', 'vb', { db, netns: lab.name });
    await v.create();
    await Namespace.create(made[0] as string, { db });
    await v.moveToNamespace('b', made[0] as string);
    expect(v.namespaceOf('b')).toBe(made[0]);
    expect(v.nameOf('b')).toBe('vb');
    await v.setAddress('a', '10.7.0.1/24');
    await v.setAddress6('vb', 'fd00::2/64');
    await v.setMtu('a', 1400);
    await v.setMac('b', '02:00:00:00:00:0b');
    await v.setUp('a');
    await v.setUp('b');
    const a = ipJson(lab.name, 'addr', 'show', 'va')[0] as Record<string, unknown>;
    const b = ipJson(made[0] as string, 'addr', 'show', 'vb')[0] as Record<string, unknown>;
    expect(a.mtu).toBe(1400);
    expect((a.addr_info as { local: string }[]).map((x) => x.local)).toContain('10.7.0.1');
    expect(b.address).toBe('02:00:00:00:00:0b');
    expect((b.addr_info as { local: string }[]).map((x) => x.local)).toContain('fd00::2');
    await v.setDown('a');
    expect((ipJson(lab.name, 'link', 'show', 'va')[0] as { flags: string[] }).flags).not.toContain('UP');
    await v.destroy();
    expect(ipJson(lab.name, 'link').map((l) => l.ifname)).toEqual(['lo']);
  });

  it.each([
    ['an MTU of 67', (v: VethPair) => v.setMtu('a', 67), 'mtu'],
    ['an MTU of 65536', (v: VethPair) => v.setMtu('a', 65536), 'mtu'],
    ['an IPv4 address to setAddress6', (v: VethPair) => v.setAddress6('a', '10.0.0.1/24'), 'address'],
    ['an IPv6 address to setAddress', (v: VethPair) => v.setAddress('a', 'fd00::1/64'), 'address'],
    ['an address without a prefix length', (v: VethPair) => v.setAddress('a', '10.0.0.1'), 'address'],
    ['an unknown side', (v: VethPair) => v.setUp('c'), 'side'],
  ])('refuses %s before anything changes (not clamped)', async (_t, call, field) => {
    const v = new VethPair('va', 'vb', { db, netns: lab.name });
    await v.create();
    const before = ipJson(lab.name, '-d', 'addr');
    const err = await call(v).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.field).toBe(field);
    expect(ipJson(lab.name, '-d', 'addr')).toEqual(before);
  });

  it('refuses a pair whose name is taken (LinkError), and names too long or equal (ValidationError)', async () => {
    await new VethPair('va', 'vb', { db, netns: lab.name }).create();
    await expect(new VethPair('va', 'vc', { db, netns: lab.name }).create()).rejects.toBeInstanceOf(LinkError);
    expect(() => new VethPair('a-very-long-name0', 'b')).toThrow(ValidationError);
    expect(() => new VethPair('same', 'same')).toThrow(ValidationError);
  });
});

describe('enableIpv6 / disableIpv6', () => {
  it('write the sysctls inside the namespace (RA and autoconf off by default); a rollback would put them back', async () => {
    await new VethPair('va', 'vb', { db, netns: lab.name }).create();
    await disableIpv6(lab.name, 'va', { db });
    expect(sysctl(lab.name, 'net.ipv6.conf.va.disable_ipv6')).toBe('1');
    await enableIpv6(lab.name, 'va', { db });
    expect([
      sysctl(lab.name, 'net.ipv6.conf.va.disable_ipv6'),
      sysctl(lab.name, 'net.ipv6.conf.va.accept_ra'),
      sysctl(lab.name, 'net.ipv6.conf.va.autoconf'),
    ]).toEqual(['0', '0', '0']);
    await enableIpv6(lab.name, 'va', { db, acceptRa: true, autoconf: true });
    expect([sysctl(lab.name, 'net.ipv6.conf.va.accept_ra'), sysctl(lab.name, 'net.ipv6.conf.va.autoconf')]).toEqual(['1', '1']);
    // Staged into an open transaction and dropped: nothing changes.
    const tx = db.begin();
    await disableIpv6(lab.name, 'va', { tx });
    expect(tx.review().sysctls).toEqual({ 'net.ipv6.conf.va.disable_ipv6': { from: '0', to: '1' } });
    tx.drop();
    expect(sysctl(lab.name, 'net.ipv6.conf.va.disable_ipv6')).toBe('0');
  });
});
