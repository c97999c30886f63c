/** Links against the real kernel, checked through `ip -j`. */
import { afterEach, describe, expect, it } from 'vitest';
import { NetlinkError, Rtnl } from '../../src/index.js';
import { expectSameAsIproute2 } from '../helpers/kernel-view.js';
import { ipJson, useNetns } from '../helpers/netns.js';

const ns = useNetns(2);
let nl: Rtnl;
afterEach(() => nl?.close());

async function open(): Promise<Rtnl> {
  nl = await Rtnl.open({ netns: ns.name });
  return nl;
}

function kindOf(name: string, ifname: string): string | undefined {
  const [l] = ipJson(name, '-d', 'link', 'show', 'dev', ifname);
  return (l?.linkinfo as { info_kind?: string } | undefined)?.info_kind;
}

describe('links', () => {
  it('creates a veth pair and changes state, mtu, mac, alias, txqlen and name', async () => {
    await open();
    await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
    await nl.link('set', { ifname: 'v0', state: 'up', mtu: 1400, address: '02:00:00:00:00:01', alias: 'uplink', txqlen: 500 });
    const [l] = ipJson(ns.name, 'link', 'show', 'dev', 'v0');
    expect(l).toMatchObject({ mtu: 1400, address: '02:00:00:00:00:01', ifalias: 'uplink', txqlen: 500 });
    expect(l?.flags).toContain('UP');
    const rec = await nl.link('get', { ifname: 'v0' });
    expect(rec).toMatchObject({ ifname: 'v0', kind: 'veth', state: 'up', mtu: 1400, ifalias: 'uplink' });
    expect(rec?.link).toBe((await nl.link('get', { ifname: 'v1' }))?.index);
    await nl.link('set', { ifname: 'v1', newname: 'peer1' });
    expect(ipJson(ns.name, 'link', 'show', 'dev', 'peer1')).toHaveLength(1);
    await expectSameAsIproute2(nl, ns.name);
  });

  it('creates bridge, macvlan, vxlan and ifb links of the right kind', async () => {
    await open();
    await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
    await nl.link('add', { ifname: 'br0', kind: 'bridge', data: { stp_state: 0, forward_delay: 200 } });
    await nl.link('add', { ifname: 'mv0', kind: 'macvlan', link: 'v0', data: { mode: 'bridge' } });
    await nl.link('add', { ifname: 'vx0', kind: 'vxlan', data: { id: 42, port: 4789, local: '10.0.0.1' } });
    await nl.link('add', { ifname: 'ifb7', kind: 'ifb' });
    expect(['br0', 'mv0', 'vx0', 'ifb7'].map((n) => kindOf(ns.name, n))).toEqual(['bridge', 'macvlan', 'vxlan', 'ifb']);
    const [vx] = ipJson(ns.name, '-d', 'link', 'show', 'dev', 'vx0');
    expect((vx!.linkinfo as { info_data: Record<string, unknown> }).info_data).toMatchObject({ id: 42, port: 4789 });
    expect((await nl.link('dump', { kind: 'bridge' })).map((l) => l.ifname)).toEqual(['br0']);
    await expectSameAsIproute2(nl, ns.name);
  });

  it('adds a port to a bridge and takes it out again', async () => {
    await open();
    await nl.link('add', { ifname: 'br0', kind: 'bridge' });
    await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
    await nl.link('set', { ifname: 'v0', master: 'br0' });
    expect(ipJson(ns.name, 'link', 'show', 'master', 'br0').map((l) => l.ifname)).toEqual(['v0']);
    expect((await nl.link('dump', { master: 'br0' })).map((l) => l.ifname)).toEqual(['v0']);
    const port = await nl.link('get', { ifname: 'v0' });
    expect(port?.slave_kind).toBe('bridge');
    await nl.link('set', { ifname: 'v0', slave_kind: 'bridge', slave_data: { cost: 7 } });
    const [detail] = ipJson(ns.name, '-d', 'link', 'show', 'dev', 'v0');
    expect((detail!.linkinfo as { info_slave_data: { cost: number } }).info_slave_data.cost).toBe(7);
    await nl.link('set', { ifname: 'v0', master: null });
    expect(ipJson(ns.name, 'link', 'show', 'master', 'br0')).toEqual([]);
  });

  it('creates the peer of a veth directly in another namespace, and moves a link', async () => {
    await open();
    const [, other] = ns.names as [string, string];
    await nl.link('add', { ifname: 'v0', kind: 'veth', peer: { ifname: 'v1', netns: other } });
    expect(ipJson(other, 'link', 'show', 'dev', 'v1')).toHaveLength(1);
    expect(ipJson(ns.name, 'link', 'show').map((l) => l.ifname)).not.toContain('v1');
    await nl.link('set', { ifname: 'v0', netns: other });
    expect(
      ipJson(other, 'link', 'show')
        .map((l) => l.ifname)
        .sort(),
    ).toEqual(['lo', 'v0', 'v1']);
    expect(await nl.link('get', { ifname: 'v0' })).toBeUndefined();
  });

  it('deletes a link, by name and by index', async () => {
    await open();
    await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
    await nl.link('add', { ifname: 'br0', kind: 'bridge' });
    await nl.link('del', { ifname: 'v0' });
    const br = await nl.link('get', { ifname: 'br0' });
    await nl.link('del', { index: br?.index });
    expect(ipJson(ns.name, 'link', 'show').map((l) => l.ifname)).toEqual(['lo']);
  });

  it.each([
    ['dummy', {}],
    ['vlan', { link: 'v0', data: { id: 10 } }],
    ['bond', { data: { mode: 'active-backup' } }],
    ['vrf', { data: { table: 10 } }],
    ['gre', { data: { remote: '10.0.0.2', local: '10.0.0.1' } }],
  ])('a kind this kernel lacks (%s) is refused with a typed error, and nothing is created', async (kind, extra) => {
    await open();
    await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
    // Built at run time, so through the untyped entry point.
    const err = (await nl.call('link', 'add', { ifname: 'x0', kind, ...extra }).catch((e) => e)) as NetlinkError;
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EOPNOTSUPP');
    expect(err.extack).toBe('Unknown device type');
    expect(err.request.type).toBe('RTM_NEWLINK');
    expect(err.message).toContain(kind);
    expect(ipJson(ns.name, 'link', 'show').map((l) => l.ifname)).not.toContain('x0');
  });

  it('tun/tap cannot be created over netlink (kind "tun"; kind "tuntap" goes through ioctl, see tuntap.test.ts)', async () => {
    await open();
    const err = await nl.link('add', { ifname: 'tap0', kind: 'tun' }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'EOPNOTSUPP', extack: 'tun/tap creation via rtnetlink is not supported.' });
    expect(ipJson(ns.name, 'link', 'show').map((l) => l.ifname)).toEqual(['lo']);
  });
});
