/** Addresses, routes, rules, neighbours and qdiscs against the real kernel, checked through `ip -j` / `tc -j`. */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetlinkError, Rtnl } from '../../src/index.js';
import { expectSameAsIproute2 } from '../helpers/kernel-view.js';
import { ipJson, tcJson, useNetns } from '../helpers/netns.js';

const ns = useNetns();
let nl: Rtnl;

beforeEach(async () => {
  nl = await Rtnl.open({ netns: ns.name });
  await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
  await nl.link('set', { ifname: 'v0', state: 'up' });
  await nl.link('set', { ifname: 'v1', state: 'up' });
  await nl.addr('add', { ifname: 'v0', address: '10.0.0.1/24' });
  await nl.addr('add', { ifname: 'v0', address: '2001:db8::1/64', flags: ['nodad'] });
});
afterEach(() => nl.close());

describe('addresses', () => {
  it('adds, lists and deletes v4 and v6 addresses', async () => {
    await nl.addr('add', { ifname: 'v1', address: '10.0.0.2/24', label: 'v1:a' });
    const mine = await nl.addr('dump', { ifname: 'v0' });
    expect(mine.map((a) => `${a.address}/${a.prefixlen}`)).toEqual(expect.arrayContaining(['10.0.0.1/24', '2001:db8::1/64']));
    expect(await nl.addr('get', { ifname: 'v1', family: 'inet' })).toMatchObject({ local: '10.0.0.2', label: 'v1:a' });
    await nl.addr('del', { ifname: 'v1', address: '10.0.0.2/24' });
    expect(ipJson(ns.name, '-4', 'addr', 'show', 'dev', 'v1')).toEqual([]);
    await expectSameAsIproute2(nl, ns.name);
  });

  it('refuses a duplicate address with EEXIST and the request that caused it', async () => {
    const err = await nl.addr('add', { ifname: 'v0', address: '10.0.0.1/24' }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'EEXIST', errno: 17, request: { type: 'RTM_NEWADDR' } });
  });
});

describe('routes', () => {
  it('adds routes in small and large tables, with metrics, multipath, and v6', async () => {
    await nl.route('add', { dst: '10.1.0.0/16', gateway: '10.0.0.2', table: 100, metric: 5 });
    await nl.route('add', { dst: '10.2.0.0/16', gateway: '10.0.0.2', table: 1000, metrics: { mtu: 1300, advmss: 1260 } });
    await nl.route('add', {
      dst: '10.4.0.0/16',
      multipath: [
        { gateway: '10.0.0.2', weight: 1 },
        { gateway: '10.0.0.3', hops: 2 },
      ],
    });
    await nl.route('add', { dst: 'default', gateway: '10.0.0.254' });
    await nl.route('add', { dst: '2001:db8:1::/48', gateway: '2001:db8::2', table: 1000 });
    await nl.route('add', { dst: '10.9.0.0/16', type: 'blackhole' });
    expect(await nl.route('dump', { table: 1000 })).toEqual([
      expect.objectContaining({ dst: '10.2.0.0/16', table: 1000, gateway: '10.0.0.2', metrics: { mtu: 1300, advmss: 1260 } }),
      expect.objectContaining({ family: 'inet6', dst: '2001:db8:1::/48', table: 1000, priority: 1024 }),
    ]);
    const [mp] = ipJson(ns.name, 'route', 'show', '10.4.0.0/16');
    expect((mp!.nexthops as { weight: number }[]).map((h) => h.weight)).toEqual([1, 3]);
    expect(ipJson(ns.name, 'route', 'show', 'table', '1000')).toEqual([
      expect.objectContaining({ dst: '10.2.0.0/16', metrics: expect.anything() }),
    ]);
    await expectSameAsIproute2(nl, ns.name);
  });

  it('replaces, changes and deletes a route; the gateway is not part of its identity', async () => {
    await nl.route('add', { dst: '10.1.0.0/16', gateway: '10.0.0.2' });
    await nl.route('replace', { dst: '10.1.0.0/16', gateway: '10.0.0.3' });
    expect(ipJson(ns.name, 'route', 'show', '10.1.0.0/16')).toEqual([expect.objectContaining({ gateway: '10.0.0.3' })]);
    await nl.route('set', { dst: '10.1.0.0/16', gateway: '10.0.0.4' });
    expect(ipJson(ns.name, 'route', 'show', '10.1.0.0/16')).toEqual([expect.objectContaining({ gateway: '10.0.0.4' })]);
    await nl.route('del', { dst: '10.1.0.0/16' });
    expect(ipJson(ns.name, 'route', 'show', '10.1.0.0/16')).toEqual([]);
  });

  it('looks up a destination like `ip route get`', async () => {
    await nl.route('add', { dst: '10.1.0.0/16', gateway: '10.0.0.2' });
    const r = await nl.route('get', { dst: '10.1.2.3' });
    expect(r).toMatchObject({ dst: '10.1.2.3/32', gateway: '10.0.0.2' });
  });

  it("an unreachable gateway is refused with the kernel's own sentence", async () => {
    const err = await nl.route('add', { dst: '10.3.0.0/16', gateway: '192.0.2.1' }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'ENETUNREACH', extack: 'Nexthop has invalid gateway' });
    expect(err.message).toContain('192.0.2.1');
  });
});

describe('rules', () => {
  it('adds rules with the full match set; two rules differing only in src are two rules', async () => {
    await nl.rule('add', { src: '10.1.0.0/16', table: 100, priority: 1000 });
    await nl.rule('add', { src: '10.2.0.0/16', table: 100, priority: 1000 });
    await nl.rule('add', { family: 'inet', fwmark: 16, fwmask: 255, iifname: 'v0', table: 1000, priority: 1001 });
    await nl.rule('add', {
      family: 'inet',
      uid_range: { start: 1000, end: 2000 },
      ip_proto: 'tcp',
      dport_range: '80-443',
      table: 100,
      priority: 1002,
    });
    await nl.rule('add', { src: '2001:db8::/32', table: 100, priority: 1003 });
    const rules = await nl.rule('dump', { priority: 1000 });
    expect(rules.map((r) => r.src).sort()).toEqual(['10.1.0.0/16', '10.2.0.0/16']);
    expect(ipJson(ns.name, 'rule', 'show')).toContainEqual(
      expect.objectContaining({ priority: 1001, fwmark: '0x10', fwmask: '0xff', iif: 'v0', table: '1000' }),
    );
    await nl.rule('del', { src: '10.1.0.0/16', table: 100, priority: 1000 });
    expect((await nl.rule('dump', { priority: 1000 })).map((r) => r.src)).toEqual(['10.2.0.0/16']);
    await expectSameAsIproute2(nl, ns.name);
  });
});

describe('neighbours', () => {
  it('adds, replaces and deletes v4 and v6 entries', async () => {
    await nl.neigh('add', { ifname: 'v0', dst: '10.0.0.9', lladdr: '02:00:00:00:00:09' });
    await nl.neigh('add', { ifname: 'v0', dst: '2001:db8::9', lladdr: '02:00:00:00:00:19' });
    await nl.neigh('replace', { ifname: 'v0', dst: '10.0.0.9', lladdr: '02:00:00:00:00:0a' });
    expect(ipJson(ns.name, 'neigh', 'show', 'dev', 'v0')).toEqual(
      expect.arrayContaining([expect.objectContaining({ dst: '10.0.0.9', lladdr: '02:00:00:00:00:0a', state: ['PERMANENT'] })]),
    );
    await expectSameAsIproute2(nl, ns.name);
    await nl.neigh('del', { ifname: 'v0', dst: '10.0.0.9' });
    expect((await nl.neigh('dump', { ifname: 'v0', family: 'inet' })).filter((n) => n.dst === '10.0.0.9')).toEqual([]);
  });
});

describe('qdiscs', () => {
  it('sets tbf, htb, ingress, clsact and pfifo as tc reports them', async () => {
    await nl.qdisc('replace', { ifname: 'v0', kind: 'tbf', rate: '10mbit', burst: 32768, latency: '50ms' });
    await nl.qdisc('add', { ifname: 'v1', kind: 'htb', handle: '1:', default: '10' });
    await nl.qdisc('add', { ifname: 'v0', kind: 'ingress' });
    await nl.link('add', { ifname: 'br0', kind: 'bridge' });
    await nl.qdisc('add', { ifname: 'br0', kind: 'clsact' });
    // The same tbf made by tc itself must read back identically.
    await nl.link('add', { ifname: 'ref0', kind: 'veth', peer: 'ref1' });
    execFileSync('ip', [
      'netns',
      'exec',
      ns.name,
      'tc',
      'qdisc',
      'replace',
      'dev',
      'ref0',
      'root',
      'tbf',
      'rate',
      '10mbit',
      'burst',
      '32768',
      'latency',
      '50ms',
    ]);
    const [tbf] = tcJson(ns.name, 'qdisc', 'show', 'dev', 'v0', 'root');
    const [ref] = tcJson(ns.name, 'qdisc', 'show', 'dev', 'ref0', 'root');
    expect(tbf).toMatchObject({ kind: 'tbf', options: { rate: 1250000, lat: 50000 } });
    expect(tbf?.options).toEqual(ref?.options);
    expect(tcJson(ns.name, 'qdisc', 'show', 'dev', 'v1')).toContainEqual(
      expect.objectContaining({ kind: 'htb', handle: '1:', options: expect.objectContaining({ default: '0x10' }) }),
    );
    const mine = await nl.qdisc('dump', { ifname: 'v0' });
    expect(mine).toContainEqual(
      expect.objectContaining({ kind: 'tbf', parent: 'root', rate: 10_000_000, burst: 32768, limit: 95268 }),
    );
    expect(mine).toContainEqual(expect.objectContaining({ kind: 'ingress', parent: 'ingress' }));
    expect(await nl.qdisc('dump', { ifname: 'br0' })).toContainEqual(expect.objectContaining({ kind: 'clsact' }));
    await nl.qdisc('del', { ifname: 'v0', parent: 'root' });
    expect(tcJson(ns.name, 'qdisc', 'show', 'dev', 'v0', 'root')).not.toContainEqual(expect.objectContaining({ kind: 'tbf' }));
    await nl.qdisc('replace', { ifname: 'v0', kind: 'pfifo', limit: 50 });
    expect(tcJson(ns.name, 'qdisc', 'show', 'dev', 'v0', 'root')).toContainEqual(
      expect.objectContaining({ kind: 'pfifo', options: { limit: 50 } }),
    );
  });

  it("netem, which this kernel lacks, is refused with the kernel's sentence", async () => {
    const err = await nl.qdisc('add', { ifname: 'v0', kind: 'netem', delay: '10ms', loss: '1%' }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'ENOENT', extack: 'Specified qdisc kind is unknown' });
  });
});
