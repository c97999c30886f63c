/**
 * tun/tap devices made by ioctl on /dev/net/tun, checked against what
 * `ip tuntap add` makes for the same options: `ip -j -d link show` and
 * /sys/class/net/DEV/{tun_flags,owner,group} read inside the namespace.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY, sys } from '../../src/backends/libc.js';
import { inNetns } from '../../src/backends/netns.js';
import {
  IFF_MULTI_QUEUE,
  IFF_NO_PI,
  IFF_PERSIST,
  IFF_TAP,
  IFF_TUN,
  IFF_TUN_EXCL,
  IFF_VNET_HDR,
  openTunIn,
  TUNSETIFF,
} from '../../src/backends/tuntap.js';
import { createTuntap, LinkError, Rtnl, TuntapError, type TuntapSpec, tuntapSpecOf, ValidationError } from '../../src/index.js';
import { ip, ipJson, useNetns } from '../helpers/netns.js';

const ns = useNetns(2);
let nl: Rtnl;
afterEach(() => nl?.close());

async function open(name = ns.name): Promise<Rtnl> {
  nl = await Rtnl.open({ netns: name });
  return nl;
}

function names(netns: string): string[] {
  return ipJson(netns, 'link', 'show').map((l) => l.ifname as string);
}

/** `ip -j -d link show dev X` without what differs between two equal devices (index, random MAC). */
function detail(netns: string, dev: string): Record<string, unknown> {
  const [l] = ipJson(netns, '-d', 'link', 'show', 'dev', dev);
  const { ifindex: _i, address: _a, ...rest } = l as Record<string, unknown>;
  return rest;
}

/** What the tun driver shows in sysfs; read inside the namespace (`ip netns exec` mounts its /sys). */
function sysfs(netns: string, dev: string): { tun_flags: number; owner: number; group: number } {
  const read = (f: string) =>
    execFileSync('ip', ['netns', 'exec', netns, 'cat', `/sys/class/net/${dev}/${f}`], { encoding: 'utf8' }).trim();
  return { tun_flags: Number(read('tun_flags')), owner: Number(read('owner')), group: Number(read('group')) };
}

// [title, netstate spec (without ifname/kind), the same as `ip tuntap add` arguments]
const CASES: [string, Omit<TuntapSpec, 'ifname'>, string[]][] = [
  ['tun', { mode: 'tun' }, ['mode', 'tun']],
  ['tap', { mode: 'tap' }, ['mode', 'tap']],
  ['tap with owner and group', { mode: 'tap', owner: 4242, group: 4343 }, ['mode', 'tap', 'user', '4242', 'group', '4343']],
  ['multi-queue tap', { mode: 'tap', multi_queue: true }, ['mode', 'tap', 'multi_queue']],
  ['tun with packet information and vnet header', { mode: 'tun', pi: true, vnet_hdr: true }, ['mode', 'tun', 'pi', 'vnet_hdr']],
  ['owner 0 (root) only', { mode: 'tun', owner: 0 }, ['mode', 'tun', 'user', '0']],
];

describe('tun/tap through nl.link("add", { kind: "tuntap" })', () => {
  it.each(CASES)('%s: the same device as `ip tuntap add` makes', async (_title, options, argv) => {
    const [mine, theirs] = ns.names as [string, string];
    await open(mine);
    await nl.link('add', { kind: 'tuntap', ifname: 'tt0', ...options });
    ip(theirs, 'tuntap', 'add', 'dev', 'tt0', ...argv);

    expect(detail(mine, 'tt0')).toEqual(detail(theirs, 'tt0'));
    expect(sysfs(mine, 'tt0')).toEqual(sysfs(theirs, 'tt0'));

    const { tun_flags, owner, group } = sysfs(mine, 'tt0');
    const want =
      (options.mode === 'tap' ? IFF_TAP : IFF_TUN) |
      IFF_PERSIST |
      (options.pi ? 0 : IFF_NO_PI) |
      (options.vnet_hdr ? IFF_VNET_HDR : 0) |
      (options.multi_queue ? IFF_MULTI_QUEUE : 0);
    expect(tun_flags).toBe(want); // IFF_TUN_EXCL is a request flag only: never stored
    expect(owner).toBe(options.owner ?? -1);
    expect(group).toBe(options.group ?? -1);

    // The codec decodes IFLA_INFO_DATA of kind "tun" (IFLA_TUN_*).
    const rec = await nl.link('get', { ifname: 'tt0' });
    expect(rec?.kind).toBe('tun');
    expect(rec?.data).toMatchObject({
      type: options.mode === 'tap' ? IFF_TAP : IFF_TUN,
      pi: options.pi ? 1 : 0,
      vnet_hdr: options.vnet_hdr ? 1 : 0,
      multi_queue: options.multi_queue ? 1 : 0,
      persist: 1,
    });
    expect(rec?.data?.owner).toBe(options.owner);
    expect(rec?.data?.group).toBe(options.group);
    if (options.multi_queue) expect(rec?.data).toMatchObject({ num_queues: 0, num_disabled_queues: 0 });
  });

  it("is made in the Rtnl's namespace, and removed with link('del')", async () => {
    await open();
    await nl.link('add', { kind: 'tuntap', ifname: 'tap0', mode: 'tap' });
    expect(names(ns.name)).toEqual(['lo', 'tap0']);
    expect(names(ns.names[1] as string)).toEqual(['lo']);
    expect(() => execFileSync('ip', ['link', 'show', 'dev', 'tap0'], { stdio: 'ignore' })).toThrow(); // not in the root namespace
    await nl.link('del', { ifname: 'tap0' });
    expect(names(ns.name)).toEqual(['lo']);
  });

  it("takes pyroute2's uid/gid, and link attributes applied right after creation", async () => {
    await open();
    await nl.link('add', { ifname: 'br0', kind: 'bridge' });
    await nl.link('add', {
      kind: 'tuntap',
      ifname: 'tap0',
      mode: 'tap',
      uid: 4242,
      gid: 4343,
      state: 'up',
      mtu: 1400,
      address: '02:00:00:00:00:07',
      master: 'br0',
      alias: 'vm uplink',
    });
    const [l] = ipJson(ns.name, '-d', 'link', 'show', 'dev', 'tap0');
    expect(l).toMatchObject({ mtu: 1400, address: '02:00:00:00:00:07', master: 'br0', ifalias: 'vm uplink' });
    expect(l?.flags).toContain('UP');
    expect(l?.linkinfo).toHaveProperty('info_data');
    expect((l!.linkinfo as { info_data: unknown }).info_data).toMatchObject({ user: 4242, group: 4343, persist: true });
  });

  it('a refused link attribute removes the device again: all or nothing', async () => {
    await open();
    const err = await nl.link('add', { kind: 'tuntap', ifname: 'tap0', mode: 'tap', master: 'nobr0' }).catch((e) => e);
    expect(err).toBeInstanceOf(LinkError);
    expect(err.message).toContain('nobr0');
    const tooBig = await nl.link('add', { kind: 'tuntap', ifname: 'tap0', mode: 'tap', mtu: 70000 }).catch((e) => e);
    expect(tooBig.code).toBe('EINVAL'); // a tap's max_mtu is 65521
    expect(names(ns.name)).toEqual(['lo']);
  });

  it.each([
    ['by a tun/tap', () => ip(ns.name, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap')],
    ['by a veth', () => ip(ns.name, 'link', 'add', 'tap0', 'type', 'veth', 'peer', 'name', 'p0')],
  ])('a name taken %s is a TuntapError naming EBUSY and the device', async (_title, take) => {
    take();
    await open();
    const before = ipJson(ns.name, 'link', 'show');
    const err = await nl.link('add', { kind: 'tuntap', ifname: 'tap0', mode: 'tap' }).catch((e) => e);
    expect(err).toBeInstanceOf(TuntapError);
    expect(err).toMatchObject({ call: 'TUNSETIFF', code: 'EBUSY', errno: 16, ifname: 'tap0' });
    expect(err.message).toContain('"tap0"');
    expect(err.message).toContain(ns.name);
    expect(ipJson(ns.name, 'link', 'show')).toEqual(before);
  });

  it.each([
    ['no mode', { ifname: 'tap0' }, 'mode'],
    ['an unknown mode', { ifname: 'tap0', mode: 'tab' }, 'mode'],
    ['owner -1 (no owner)', { ifname: 'tap0', mode: 'tap', owner: -1 }, 'owner'],
    ['owner (uid_t)-1', { ifname: 'tap0', mode: 'tap', owner: 0xffffffff }, 'owner'],
    ['a fractional group', { ifname: 'tap0', mode: 'tap', group: 1.5 }, 'group'],
    ['a name over 15 bytes', { ifname: 'tap0123456789abc', mode: 'tap' }, 'ifname'],
    ['a name with a slash', { ifname: 'tap/0', mode: 'tap' }, 'ifname'],
    ['pi as a string', { ifname: 'tap0', mode: 'tap', pi: 'yes' }, 'pi'],
    ['persist false', { ifname: 'tap0', mode: 'tap', persist: false }, 'persist'],
    ['a misspelt option', { ifname: 'tap0', mode: 'tap', multiqueue: true }, 'multiqueue'],
    ['owner and uid both', { ifname: 'tap0', mode: 'tap', owner: 1, uid: 1 }, 'uid'],
    ['index 0', { ifname: 'tap0', mode: 'tap', index: 0 }, 'index'],
    ['an mtu below 68', { ifname: 'tap0', mode: 'tap', mtu: 67 }, 'mtu'],
    ['a bad MAC', { ifname: 'tap0', mode: 'tap', address: '02:00' }, 'address'],
  ])('bad input (%s) is a ValidationError naming the field, and nothing is made', async (_title, spec, field) => {
    await open();
    const err = await nl.link('add', { kind: 'tuntap', ...spec } as never).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.field).toBe(field);
    expect(names(ns.name)).toEqual(['lo']);
  });
});

describe('createTuntap', () => {
  it("fills in a name pattern and returns the kernel's name", () => {
    expect(createTuntap({ ifname: 'tap%d', mode: 'tap' }, { netns: ns.name })).toEqual({ ifname: 'tap0' });
    expect(createTuntap({ ifname: 'tap%d', mode: 'tap' }, { netns: ns.name })).toEqual({ ifname: 'tap1' });
    expect(names(ns.name)).toEqual(['lo', 'tap0', 'tap1']);
  });

  it('gives the index asked for (TUNSETIFINDEX); a taken index is EBUSY', () => {
    createTuntap({ ifname: 'tun7', mode: 'tun', index: 77 }, { netns: ns.name });
    expect(ipJson(ns.name, 'link', 'show', 'dev', 'tun7')[0]?.ifindex).toBe(77);
    const err = (() => {
      try {
        createTuntap({ ifname: 'tun8', mode: 'tun', index: 77 }, { netns: ns.name });
      } catch (e) {
        return e as TuntapError;
      }
    })();
    expect(err).toMatchObject({ code: 'EBUSY', ifname: 'tun8' });
    expect(err?.message).toContain('index 77');
  });

  it('remakes a device from its dump record (tuntapSpecOf): same index, same options', async () => {
    ip(ns.name, 'tuntap', 'add', 'dev', 'tq0', 'mode', 'tap', 'user', '4242', 'group', '4343', 'multi_queue', 'vnet_hdr');
    const before = ipJson(ns.name, '-d', 'link', 'show', 'dev', 'tq0')[0] as Record<string, unknown>;
    await open();
    const rec = await nl.link('get', { ifname: 'tq0' });
    const spec = tuntapSpecOf(rec!);
    expect(spec).toEqual({
      ifname: 'tq0',
      mode: 'tap',
      owner: 4242,
      group: 4343,
      pi: false,
      vnet_hdr: true,
      multi_queue: true,
      index: rec?.index,
    });
    await nl.link('del', { ifname: 'tq0' });
    createTuntap(spec!, { netns: ns.name });
    const { address: _a, ...after } = ipJson(ns.name, '-d', 'link', 'show', 'dev', 'tq0')[0] as Record<string, unknown>;
    const { address: _b, ...was } = before;
    expect(after).toEqual(was);
    expect(tuntapSpecOf({ ifname: 'v0', kind: 'veth' })).toBeUndefined();
  });
});

describe('kernel facts', () => {
  it('a device belongs to the namespace /dev/net/tun was opened in, not the one TUNSETIFF is called from', () => {
    const [a, b] = ns.names as [string, string];
    const fd = openTunIn(a, 'probe0');
    try {
      const ifr = Buffer.alloc(40);
      ifr.write('probe0');
      ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL, 16);
      expect(inNetns(b, () => sys.ioctl(fd, TUNSETIFF, 'void *', ifr))).toBe(0);
      expect(names(a)).toEqual(['lo', 'probe0']);
      expect(names(b)).toEqual(['lo']);
    } finally {
      sys.close(fd);
    }
    // Never made persistent: it died with the file descriptor.
    expect(names(a)).toEqual(['lo']);
    // The calling thread is back in its own namespace.
    const self = sys.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC, 0);
    expect(sys.setns(self, CLONE_NEWNET)).toBe(0);
    sys.close(self);
  });
});
