/**
 * Bridge port options (IFLA_BRPORT_*), set as `ip link set dev P type
 * bridge_slave ...` sets them (the bytes are pinned in test/fixtures), read
 * back through `ip -j -d link show` (info_slave_data) and
 * /sys/class/net/P/brport/*, and the kernel's accepted ranges.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { NetlinkError, Rtnl, ValidationError } from '../../src/index.js';
import { ip, ipJson, useNetns } from '../helpers/netns.js';

const ns = useNetns();
let nl: Rtnl;
afterEach(() => nl?.close());

/** br0 (up, STP off) with port p0 of veth p0/p1, all up. */
async function bridgeWithPort(): Promise<Rtnl> {
  for (const args of [
    ['link', 'add', 'br0', 'type', 'bridge'],
    ['link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1'],
    ['link', 'set', 'p0', 'master', 'br0'],
    ['link', 'set', 'br0', 'up'],
    ['link', 'set', 'p0', 'up'],
    ['link', 'set', 'p1', 'up'],
  ]) {
    ip(ns.name, ...args);
  }
  nl = await Rtnl.open({ netns: ns.name });
  return nl;
}

/** The port's info_slave_data as `ip -j -d` shows it, without its running timers. */
function slaveData(): Record<string, unknown> {
  const [l] = ipJson(ns.name, '-d', 'link', 'show', 'dev', 'p0');
  const data = (l?.linkinfo as { info_slave_data?: Record<string, unknown> } | undefined)?.info_slave_data ?? {};
  return Object.fromEntries(Object.entries(data).filter(([k]) => !k.endsWith('_timer')));
}

function brport(file: string): string {
  return execFileSync('ip', ['netns', 'exec', ns.name, 'cat', `/sys/class/net/p0/brport/${file}`], { encoding: 'utf8' }).trim();
}

function setPort(slave_data: Record<string, unknown>): Promise<void> {
  return nl.link('set', { ifname: 'p0', slave_kind: 'bridge', slave_data });
}

// [option as given (kernel or iproute2 name), value, ip -j key, ip -j value, brport file, its value, kernel name, decoded value]
const OPTIONS: [string, unknown, string, unknown, string | null, string, string, number][] = [
  ['cost', 5, 'cost', 5, 'path_cost', '5', 'cost', 5],
  ['priority', 3, 'priority', 3, 'priority', '3', 'priority', 3],
  ['learning', false, 'learning', false, 'learning', '0', 'learning', 0],
  ['flood', false, 'flood', false, 'unicast_flood', '0', 'unicast_flood', 0],
  ['proxy_arp', true, 'proxy_arp', true, 'proxyarp', '1', 'proxyarp', 1],
  ['mcast_flood', false, 'mcast_flood', false, 'multicast_flood', '0', 'mcast_flood', 0],
  ['bcast_flood', false, 'bcast_flood', false, 'broadcast_flood', '0', 'bcast_flood', 0],
  ['isolated', true, 'isolated', true, 'isolated', '1', 'isolated', 1],
  ['neigh_suppress', true, 'neigh_suppress', true, 'neigh_suppress', '1', 'neigh_suppress', 1],
  ['hairpin', true, 'hairpin', true, 'hairpin_mode', '1', 'mode', 1],
  ['guard', true, 'guard', true, 'bpdu_guard', '1', 'guard', 1],
  ['root_block', true, 'root_block', true, 'root_block', '1', 'protect', 1],
  ['fastleave', true, 'fastleave', true, 'multicast_fast_leave', '1', 'fast_leave', 1],
  ['mcast_router', 2, 'multicast_router', 2, 'multicast_router', '2', 'multicast_router', 2],
  ['group_fwd_mask', 0x4000, 'group_fwd_mask', '0x4000', 'group_fwd_mask', '0x4000', 'group_fwd_mask', 0x4000],
  ['mcast_to_unicast', true, 'mcast_to_unicast', true, 'multicast_to_unicast', '1', 'mcast_to_ucast', 1],
  ['state', 'learning', 'state', 'learning', 'state', '2', 'state', 2],
  ['locked', true, 'locked', true, null, '', 'locked', 1],
];

describe('bridge port options', () => {
  it('are set in one request and read back through ip -j -d, /sys/class/net/P/brport and the codec', async () => {
    await bridgeWithPort();
    await setPort(Object.fromEntries(OPTIONS.map(([name, value]) => [name, value])));
    const shown = slaveData();
    const record = (await nl.link('get', { ifname: 'p0' }))?.slave_data ?? {};
    for (const [name, , ipKey, ipValue, file, fileValue, kernelName, decoded] of OPTIONS) {
      expect(shown[ipKey], `ip -j: ${name}`).toEqual(ipValue);
      if (file) expect(brport(file), `brport/${file}`).toBe(fileValue);
      expect(record[kernelName], `decoded: ${kernelName}`).toBe(decoded);
    }
  });

  it('switches are true/false or 1/0: the kernel would take any non-zero u8 as on, the spec refuses 7 before it', async () => {
    await bridgeWithPort();
    await setPort({ learning: 1, isolated: true, unicast_flood: 0 });
    expect(slaveData()).toMatchObject({ learning: true, isolated: true, flood: false });
    expect([brport('learning'), brport('isolated'), brport('unicast_flood')]).toEqual(['1', '1', '0']);
    const err = await setPort({ learning: 7 }).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.field).toBe('slave_data.learning');
    expect(brport('learning')).toBe('1');
  });

  // [option, accepted values (read back as set), refused value, who refuses it]: the kernel's ranges
  // on 6.18 (ERANGE, EINVAL); where the spec declares the same range, it refuses first (ValidationError).
  it.each([
    ['cost', [1, 65535], 0, 'ERANGE', 'path_cost'],
    ['cost', [1, 65535], 65536, 'ERANGE', 'path_cost'],
    ['priority', [0, 63], 64, 'spec', 'priority'],
    ['state', [1, 2], 5, 'spec', 'state'],
    ['multicast_router', [0, 2], 4, 'spec', 'multicast_router'],
    ['group_fwd_mask', [0x0001, 0xfffd], 0x0002, 'EINVAL', 'group_fwd_mask'],
    ['mcast_eht_hosts_limit', [1, 0xffffffff], 0, 'EINVAL', null],
  ] as const)('%s: %j accepted, %d refused by %s', async (name, accepted, refused, code, file) => {
    await bridgeWithPort();
    for (const value of accepted) {
      await setPort({ [name]: value });
      const got = (await nl.link('get', { ifname: 'p0' }))?.slave_data?.[name];
      expect(got).toBe(value);
      if (file) expect(Number(brport(file))).toBe(value);
    }
    const err = await setPort({ [name]: refused }).catch((e) => e);
    if (code === 'spec') {
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.field).toBe(`slave_data.${name}`);
    } else {
      expect(err).toBeInstanceOf(NetlinkError);
      expect(err.code).toBe(code);
    }
    expect((await nl.link('get', { ifname: 'p0' }))?.slave_data?.[name]).toBe(accepted[1]);
  });

  it('state: without STP, disabled and blocking fall back to forwarding at once; listening and learning stay', async () => {
    await bridgeWithPort();
    const readBack: Record<string, string> = {};
    for (const state of ['listening', 'learning', 'disabled', 'blocking', 'forwarding']) {
      await setPort({ state });
      readBack[state] = brport('state');
    }
    expect(readBack).toEqual({ listening: '1', learning: '2', disabled: '3', blocking: '3', forwarding: '3' });
  });

  it('state needs STP off (EBUSY), a running port (ENETDOWN), and a carrier unless it is disabled (ENETDOWN)', async () => {
    await bridgeWithPort();
    ip(ns.name, 'link', 'set', 'br0', 'type', 'bridge', 'stp_state', '1');
    expect((await setPort({ state: 'learning' }).catch((e) => e)).code).toBe('EBUSY');
    ip(ns.name, 'link', 'set', 'br0', 'type', 'bridge', 'stp_state', '0');
    ip(ns.name, 'link', 'set', 'p1', 'down'); // p0 is up without a carrier
    expect((await setPort({ state: 'learning' }).catch((e) => e)).code).toBe('ENETDOWN');
    await setPort({ state: 'disabled' });
    expect(brport('state')).toBe('0');
    ip(ns.name, 'link', 'set', 'p0', 'down');
    expect((await setPort({ state: 'disabled' }).catch((e) => e)).code).toBe('ENETDOWN');
  });

  it.each([
    ['a priority wider than u16', { priority: 65536 }, 'slave_data.priority'],
    ['a switch wider than u8', { learning: 256 }, 'slave_data.learning'],
    ['a negative cost', { cost: -1 }, 'slave_data.cost'],
    ['an unknown state name', { state: 'forward' }, 'slave_data.state'],
    ['a misspelt option', { cots: 5 }, 'slave_data.cots'],
    ['one option under both names', { flood: false, unicast_flood: false }, 'slave_data.unicast_flood'],
    ['a boolean for a number', { cost: true }, 'slave_data.cost'],
  ])('bad input (%s) is a ValidationError naming the field, before anything is sent', async (_t, data, field) => {
    await bridgeWithPort();
    const before = slaveData();
    const err = await setPort(data).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.field).toBe(field);
    expect(slaveData()).toEqual(before);
  });
});
