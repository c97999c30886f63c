/**
 * Messages the kernel sent (captured from `ip ... show` with strace) decode to
 * the records iproute2 prints, and encode back to the same bytes.
 */
import { describe, expect, it } from 'vitest';
import type { Body } from '../../src/backends/netlink/codec/attributes.js';
import { decodeMessage, encodeToBuffer, FAMILIES, familyOfType, typeNumber } from '../../src/backends/netlink/codec/message.js';
import { kernelFixtures } from '../helpers/fixtures.js';

const fixtures = kernelFixtures();

function record(hex: string): Record<string, unknown> {
  const msg = decodeMessage(Buffer.from(hex, 'hex'), 0);
  const fam = familyOfType(typeNumber(msg.type));
  return fam?.toRecord(msg.body as Body) as Record<string, unknown>;
}

function all(name: string): Record<string, unknown>[] {
  return fixtures.filter((f) => f.name === name).map((f) => record(f.hex));
}

// The kernel NUL-terminates strings iproute2 sends bare (IFLA_INFO_KIND, IFLA_IFALIAS) and
// sets NLA_F_NESTED on some attributes; our encoder follows iproute2, whose bytes the request
// fixtures pin. For kernel messages the property is: what we decode survives encoding unchanged.
describe('kernel messages survive decode -> encode -> decode', () => {
  it.each(fixtures.map((f, i) => [`${f.name} #${i}`, f] as const))('%s', (_t, fx) => {
    const msg = decodeMessage(Buffer.from(fx.hex, 'hex'), 0);
    const again = encodeToBuffer({ type: msg.type, flags: msg.flags, seq: msg.seq, pid: msg.pid, body: msg.body as Body });
    expect(decodeMessage(again, 0)).toEqual(msg);
  });
});

describe('kernel messages decode to records', () => {
  it('links: veth with its peer index, bridge, macvlan mode, vxlan id and port, tun/tap data', () => {
    const links = Object.fromEntries(all('links').map((l) => [l.ifname, l]));
    expect(links.lo).toMatchObject({ index: 1, ifname: 'lo', mtu: 65536, address: '00:00:00:00:00:00' });
    expect(links.v0).toMatchObject({ kind: 'veth', mtu: 1400, address: '02:00:00:00:00:01', txqlen: 500, ifalias: 'uplink' });
    expect(links.v0?.link).toBe(links.v1?.index);
    expect(links.br0).toMatchObject({ kind: 'bridge', data: expect.objectContaining({ stp_state: 0 }) });
    expect(links.br1).toMatchObject({ kind: 'bridge', data: expect.objectContaining({ stp_state: 1, priority: 100 }) });
    expect(links.mv0).toMatchObject({ kind: 'macvlan', data: expect.objectContaining({ mode: 4 }), link: links.v0?.index });
    expect(links.vx0).toMatchObject({ kind: 'vxlan', data: expect.objectContaining({ id: 42, port: 4789, local: '10.0.0.1' }) });
    // A tap made by `ip tuntap add dev tap0 mode tap user 4242 group 4343 multi_queue`: IFLA_TUN_* data.
    expect(links.tap0).toMatchObject({
      kind: 'tun',
      data: { type: 2, owner: 4242, group: 4343, pi: 0, vnet_hdr: 0, persist: 1, multi_queue: 1, num_queues: 0 },
    });
    expect(Object.keys(links).sort()).toEqual(['br0', 'br1', 'lo', 'mv0', 'tap0', 'v0', 'v1', 'vx0']);
  });

  it('addresses: v4 with label and broadcast-free local, v6 with nodad', () => {
    const addrs = all('addresses');
    expect(addrs).toContainEqual(
      expect.objectContaining({ family: 'inet', address: '10.0.0.1', local: '10.0.0.1', prefixlen: 24, label: 'v0' }),
    );
    const v6 = addrs.find((a) => a.address === '2001:db8::1');
    expect(v6).toMatchObject({ family: 'inet6', prefixlen: 64, scope: 'global' });
    expect((v6?.flags as number) & 0x02).toBe(0x02); // IFA_F_NODAD
  });

  it('routes: tables above 255, metrics, multipath weights, blackhole, prefsrc', () => {
    const routes = all('routes');
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.1.0.0/16', table: 100, priority: 5, gateway: '10.0.0.3' }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: 'default', table: 300, gateway: '10.0.0.2' }));
    expect(routes).toContainEqual(
      expect.objectContaining({ dst: '10.3.0.0/16', proto: 'static', scope: 'link', metrics: { mtu: 1400 } }),
    );
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.7.0.0/16', prefsrc: '10.0.0.1' }));
    const mp = routes.find((r) => r.dst === '10.4.0.0/16');
    expect(mp?.multipath).toEqual([
      expect.objectContaining({ gateway: '10.0.0.2', hops: 0, weight: 1 }),
      expect.objectContaining({ gateway: '10.0.0.3', hops: 2, weight: 3 }),
    ]);
    expect(routes.find((r) => r.dst === '10.9.0.0/16')).toBeUndefined(); // deleted before the dump
  });

  it('ipv6 routes: default priority 1024', () => {
    const routes = all('ipv6 routes');
    expect(routes).toContainEqual(
      expect.objectContaining({ family: 'inet6', dst: '2001:db8:1::/48', gateway: '2001:db8::2', priority: 1024 }),
    );
  });

  it('rules: the full match set', () => {
    const rules = all('rules');
    expect(rules).toContainEqual(expect.objectContaining({ dst: '10.2.0.0/16', table: 1000, priority: 1001 }));
    expect(rules).toContainEqual(expect.objectContaining({ fwmark: 16, fwmask: 255, iifname: 'v0', table: 100, priority: 1002 }));
    expect(rules).toContainEqual(expect.objectContaining({ oifname: 'v0', action: 'blackhole', flags: 2, priority: 1003 }));
    expect(rules).toContainEqual(
      expect.objectContaining({
        uid_range: { start: 1000, end: 2000 },
        ip_proto: 6,
        dport_range: { start: 80, end: 443 },
        priority: 1004,
      }),
    );
    expect(rules).toContainEqual(expect.objectContaining({ action: 'goto', goto: 1000, priority: 900 }));
    expect(rules.find((r) => r.priority === 1000)).toBeUndefined(); // deleted before the dump
  });

  it('neighbours: v6 permanent entry with its lladdr', () => {
    expect(all('neighbours')).toContainEqual(
      expect.objectContaining({ family: 'inet6', dst: '2001:db8::9', lladdr: '02:00:00:00:00:19', state: 'permanent' }),
    );
  });

  it('qdiscs: htb root with its default class, ingress, clsact, pfifo limit', () => {
    const q = all('qdiscs');
    expect(q).toContainEqual(
      expect.objectContaining({
        kind: 'htb',
        handle: '1:',
        parent: 'root',
        options: expect.objectContaining({ init: expect.objectContaining({ defcls: 16 }) }),
      }),
    );
    expect(q).toContainEqual(expect.objectContaining({ kind: 'ingress', handle: 'ffff:', parent: 'ingress' }));
    expect(q).toContainEqual(expect.objectContaining({ kind: 'clsact', handle: 'ffff:' }));
    expect(q).toContainEqual(expect.objectContaining({ kind: 'pfifo', options: { header: { limit: 100 }, attrs: {} } }));
  });

  it('filters: the u32 match-all key node with its mirred redirect (and the hash table and priority entries)', () => {
    const f = all('filters');
    const v1 = all('links').find((l) => l.ifname === 'v1')?.index;
    expect(f.map((x) => x.handle)).toEqual(['0', '800:', '800::800']);
    expect(f[2]).toMatchObject({
      kind: 'u32',
      parent: 'ingress',
      protocol: 'all',
      priority: 49152,
      match: [{ value: 0, mask: 0, at: 0 }],
      actions: [{ order: 1, kind: 'mirred', action: 'redirect', direction: 'egress', ifindex: v1 }],
    });
  });

  it('every family is covered by a fixture', () => {
    const names = new Set(fixtures.map((f) => f.name));
    expect([...names].sort()).toEqual([
      'addresses',
      'filters',
      'ipv6 routes',
      'links',
      'neighbours',
      'qdiscs',
      'routes',
      'rules',
    ]);
    expect(Object.keys(FAMILIES).length).toBe(7);
  });
});
