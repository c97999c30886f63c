/**
 * The Rtnl specs refuse bad input with a ValidationError naming the field,
 * before any kernel call (no kernel here: builders run against a fake name
 * resolver). One row per refusal found by random inputs, and the field types
 * they are built from.
 */
import { describe, expect, it } from 'vitest';
import { FAMILIES, type FamilyName } from '../../src/backends/netlink/codec/message.js';
import type { BuildContext, Command } from '../../src/backends/netlink/families/family.js';
import { parseSpec, spec, tcRate, u32 } from '../../src/backends/schema.js';
import { LinkError, NetStateError, TcError, ValidationError } from '../../src/errors.js';

const ctx: BuildContext = {
  index: async (name) => {
    if (typeof name === 'number') return name;
    if (name === 'v0' || name === 'br0') return name === 'v0' ? 3 : 4;
    throw new LinkError(`no interface named "${name}"`);
  },
  netnsFd: () => 99,
};

const circular: Record<string, unknown> = { ifname: 'v0' };
circular.self = circular;

/** [title, object, command, spec, the field named, a phrase of the message] */
const refused: [string, FamilyName, Command, unknown, string | undefined, string][] = [
  ['a null spec', 'route', 'add', null, undefined, 'expected an object, got null'],
  ['an array for a spec', 'link', 'set', [{ ifname: 'v0' }], undefined, 'expected an object'],
  ['a string for a spec', 'address', 'add', 'v0 10.0.0.1/24', undefined, 'expected an object'],
  ['a circular spec (an unknown field)', 'link', 'set', circular, 'self', 'unknown field "self"'],
  ['a BigInt MTU', 'link', 'set', { ifname: 'v0', mtu: 1400n }, 'mtu', '1400n'],
  ['NaN as a table', 'route', 'add', { dst: '10.0.0.0/8', table: Number.NaN }, 'table', 'NaN'],
  ['Infinity as a priority', 'route', 'add', { dst: '10.0.0.0/8', priority: Infinity }, 'priority', 'Infinity'],
  ['a huge priority', 'route', 'add', { dst: '10.0.0.0/8', metric: 2 ** 32 }, 'metric', '4294967296'],
  ['a number as a string', 'link', 'set', { ifname: 'v0', mtu: '1400' }, 'mtu', '"1400"'],
  ['a symbol', 'route', 'add', { dst: Symbol('x') }, 'dst', 'Symbol(x)'],
  ['a function', 'neighbour', 'add', { ifname: 'v0', dst: () => '10.0.0.9' }, 'dst', 'a function'],
  ['a nested null', 'route', 'add', { dst: '10.0.0.0/8', metrics: null }, 'metrics', 'expected an object, got null'],
  ['a leading zero in an address', 'route', 'add', { dst: '10.0.0.0/8', gateway: '10.0.0.01' }, 'gateway', '10.0.0.01'],
  ['a leading zero in a prefix length', 'address', 'add', { ifname: 'v0', address: '10.0.0.1/024' }, 'address', '/024'],
  ['a NUL in an interface name', 'link', 'add', { ifname: 'a\0b', kind: 'bridge' }, 'ifname', 'NUL'],
  ['proxy: "x" (not a boolean)', 'neighbour', 'add', { ifname: 'v0', dst: '10.0.0.9', proxy: 'x' }, 'proxy', 'true or false'],
  ['invert: "yes"', 'rule', 'add', { src: '10.0.0.0/8', invert: 'yes' }, 'invert', 'true or false'],
  ['bridge stp_state -1', 'link', 'add', { ifname: 'br1', kind: 'bridge', data: { stp_state: -1 } }, 'data.stp_state', '-1'],
  ['bridge stp_state 3', 'link', 'add', { ifname: 'br1', kind: 'bridge', data: { stp_state: 3 } }, 'data.stp_state', '3'],
  [
    'a bridge vlan_filtering of "on"',
    'link',
    'add',
    { ifname: 'b', kind: 'bridge', data: { vlan_filtering: 'on' } },
    'data.vlan_filtering',
    'true or false',
  ],
  [
    'a read-only bridge option',
    'link',
    'add',
    { ifname: 'b', kind: 'bridge', data: { hello_timer: 1 } },
    'data.hello_timer',
    'reported by the kernel',
  ],
  [
    'an unknown bridge option',
    'link',
    'add',
    { ifname: 'b', kind: 'bridge', data: { stp: 1 } },
    'data.stp',
    'not an option of bridge',
  ],
  ['a vxlan id of 25 bits', 'link', 'add', { ifname: 'vx', kind: 'vxlan', data: { id: 2 ** 24 } }, 'data.id', '16777216'],
  ['a vlan id of 4095', 'link', 'add', { ifname: 'v0.1', kind: 'vlan', link: 'v0', data: { id: 4095 } }, 'data.id', '4095'],
  [
    'a macvlan mode that does not exist',
    'link',
    'add',
    { ifname: 'm', kind: 'macvlan', link: 'v0', data: { mode: 'hub' } },
    'data.mode',
    'macvlan mode',
  ],
  [
    'a bridge port priority of 64',
    'link',
    'set',
    { ifname: 'v0', slave_kind: 'bridge', slave_data: { priority: 64 } },
    'slave_data.priority',
    '0..63',
  ],
  ['a port option without slave_kind', 'link', 'set', { ifname: 'v0', slave_data: { cost: 1 } }, 'slave_kind', 'slave_kind'],
  ['a peer that is a number', 'link', 'add', { ifname: 'v5', kind: 'veth', peer: 5 }, 'peer', "peer's name"],
  [
    'a peer with a bad name',
    'link',
    'add',
    { ifname: 'v5', kind: 'veth', peer: { ifname: 'x/y' } },
    'peer.ifname',
    'not a valid interface name',
  ],
  ['kind given as a number', 'link', 'add', { ifname: 'v5', kind: 7 }, 'kind', 'unknown link kind'],
  ['master: true', 'link', 'set', { ifname: 'v0', master: true }, 'master', 'null for none'],
  ['tbf rate 1e30', 'qdisc', 'add', { ifname: 'v0', kind: 'tbf', rate: 1e30, burst: 1, latency: 1 }, 'rate', 'not a rate'],
  [
    'tbf rate "1e30bit"',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'tbf', rate: '1e30bit', burst: 1, latency: 1 },
    'rate',
    'not a rate',
  ],
  [
    'tbf rate below a byte a second',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'tbf', rate: 7, burst: 1, latency: 1 },
    'rate',
    'not a rate',
  ],
  [
    'tbf negative burst',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'tbf', rate: '1mbit', burst: -1, latency: 1 },
    'burst',
    'not a size',
  ],
  [
    'tbf burst of 5 GiB',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'tbf', rate: '1mbit', burst: '5gb', latency: 1 },
    'burst',
    'not a size',
  ],
  [
    'tbf NaN latency',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'tbf', rate: '1mbit', burst: 1, latency: Number.NaN },
    'latency',
    'not a time',
  ],
  [
    'tbf unit "constructor"',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'tbf', rate: '10constructor', burst: 1, latency: 1 },
    'rate',
    'not a rate',
  ],
  [
    'tbf queue beyond 4 GiB',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'tbf', rate: '100gbit', burst: 1, latency: '4s' },
    'latency',
    '32-bit',
  ],
  [
    'tbf mtu without peakrate',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'tbf', rate: '1mbit', burst: 1, latency: 1, mtu: 1500 },
    'mtu',
    'peakrate',
  ],
  ['netem loss of 101%', 'qdisc', 'add', { ifname: 'v0', kind: 'netem', loss: '101%' }, 'loss', 'percentage'],
  ['netem delay beyond its u32 ticks', 'qdisc', 'add', { ifname: 'v0', kind: 'netem', delay: '4000s' }, 'delay', 'at most'],
  [
    'an option of another qdisc kind',
    'qdisc',
    'add',
    { ifname: 'v0', kind: 'htb', rate: '1mbit' },
    'rate',
    'unknown field "rate"',
  ],
  ['options on a qdisc del', 'qdisc', 'del', { ifname: 'v0', kind: 'tbf', rate: '1mbit' }, 'rate', 'unknown field "rate"'],
  ['a handle that is not one', 'qdisc', 'add', { ifname: 'v0', kind: 'htb', handle: '1:2:3' }, 'handle', 'not a handle'],
  [
    'a route metric that does not exist',
    'route',
    'add',
    { dst: '10.0.0.0/8', metrics: { mut: 1 } },
    'metrics.mut',
    'not a route metric',
  ],
  ['an empty multipath', 'route', 'add', { dst: '10.0.0.0/8', multipath: [] }, 'multipath', 'non-empty'],
  [
    'a nexthop weight of 0',
    'route',
    'add',
    { dst: '10.0.0.0/8', multipath: [{ gateway: '10.0.0.2', weight: 0 }] },
    'multipath.0.weight',
    '1..256',
  ],
  [
    'gateway and via that disagree',
    'route',
    'add',
    { dst: '10.0.0.0/8', gateway: '10.0.0.2', via: '10.0.0.3' },
    'via',
    'disagree',
  ],
  [
    'priority and metric that disagree',
    'route',
    'add',
    { dst: '10.0.0.0/8', oif: 'v0', priority: 1, metric: 2 },
    'metric',
    'disagree',
  ],
  ['a route get with a gateway', 'route', 'get', { dst: '10.0.0.1', gateway: '10.0.0.2' }, 'gateway', 'unknown field "gateway"'],
  ['a route dump filter typo', 'route', 'dump', { tabel: 100 }, 'tabel', 'unknown field "tabel"'],
  ['a link dump filter typo', 'link', 'dump', { knd: 'veth' }, 'knd', 'unknown field "knd"'],
  ['an address get filter typo', 'address', 'get', { ifname: 'v0', famliy: 'inet' }, 'famliy', 'unknown field'],
  ['a neighbour dump with a bad master', 'neighbour', 'dump', { master: '' }, 'master', 'cannot be empty'],
  ['a qdisc dump filter typo', 'qdisc', 'dump', { dev: 'v0' }, 'dev', 'unknown field "dev"'],
  ['a rule dump filter typo', 'rule', 'dump', { prio: 1 }, 'prio', 'unknown field "prio"'],
  ['a link get with attributes', 'link', 'get', { ifname: 'v0', mtu: 1500 }, 'mtu', 'unknown field "mtu"'],
  ['a rule range backwards', 'rule', 'add', { src: '10.0.0.0/8', dport_range: '443-80' }, 'dport_range', 'above end'],
  ['a rule port beyond 65535', 'rule', 'add', { src: '10.0.0.0/8', sport_range: [1, 70000] }, 'sport_range', '0..65535'],
  [
    'a neighbour master on add (only dumps filter by it)',
    'neighbour',
    'add',
    { ifname: 'v0', dst: '10.0.0.9', master: 'br0' },
    'master',
    'unknown field',
  ],
  [
    'an address label over 15 bytes',
    'address',
    'add',
    { ifname: 'v0', address: '10.0.0.1/24', label: 'v0:aaaaaaaaaaaaa' },
    'label',
    '15 bytes',
  ],
  [
    'address flags with a bogus name',
    'address',
    'add',
    { ifname: 'v0', address: '10.0.0.1/24', flags: ['nodad', 'fast'] },
    'flags',
    '"fast"',
  ],
  ['a lifetime of -1', 'address', 'add', { ifname: 'v0', address: '10.0.0.1/24', valid_lft: -1 }, 'valid_lft', "'forever'"],
  ['a table named "__proto__"', 'route', 'add', { dst: '10.0.0.0/8', oif: 'v0', table: '__proto__' }, 'table', 'routing table'],
  ['a num_tx_queues of 0', 'link', 'add', { ifname: 'x', kind: 'bridge', num_tx_queues: 0 }, 'num_tx_queues', '1..4096'],
  ['family "ipx"', 'rule', 'add', { family: 'ipx', table: 1 }, 'family', 'address family'],
];

describe('bad specs are ValidationErrors naming the field', () => {
  it.each(refused)('%s', async (_title, op, cmd, input, fieldName, phrase) => {
    const err = await FAMILIES[op].build(cmd, input, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(fieldName);
    expect((err as Error).message).toContain(phrase);
  });

  it('an unknown qdisc kind is a TcError, one of another type a ValidationError', async () => {
    await expect(FAMILIES.qdisc.build('add', { ifname: 'v0', kind: 'cake' }, ctx)).rejects.toBeInstanceOf(TcError);
    await expect(FAMILIES.qdisc.build('add', { ifname: 'v0', kind: 5n }, ctx)).rejects.toBeInstanceOf(ValidationError);
  });

  it('an unknown interface is a LinkError', async () => {
    await expect(FAMILIES.route.build('add', { dst: '10.0.0.0/8', dev: 'nope0' }, ctx)).rejects.toBeInstanceOf(LinkError);
  });

  it('a getter that throws is a ValidationError with the getter’s error as its cause', async () => {
    const boom = new Error('boom');
    const hostile = {
      get ifname(): string {
        throw boom;
      },
    };
    const err = await FAMILIES.link.build('set', hostile, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).cause).toBe(boom);
  });
});

describe('what is accepted is what iproute2 means', () => {
  it.each([
    ['true as 1', { stp_state: true }, { stp_state: 1 }],
    ['1 as 1', { stp_state: 1 }, { stp_state: 1 }],
    ['2 (user STP, as dumps show it)', { stp_state: 2 }, { stp_state: 2 }],
    ['false as 0', { mcast_snooping: false }, { mcast_snooping: 0 }],
    ['the caller’s order kept (the wire order follows it)', { priority: 100, stp_state: 1 }, { priority: 100, stp_state: 1 }],
  ])('bridge data: %s', async (_title, data, expected) => {
    const req = await FAMILIES.link.build('add', { ifname: 'br1', kind: 'bridge', data }, ctx);
    const linkinfo = req.body.attrs.linkinfo as { data: Record<string, unknown> };
    expect(linkinfo.data).toStrictEqual(expected);
    expect(Object.keys(linkinfo.data)).toEqual(Object.keys(expected));
  });

  it('a dumped rule goes back as it came: suppress_prefixlen 0xffffffff is "none"', async () => {
    const req = await FAMILIES.rule.build(
      'add',
      { family: 'inet', table: 254, priority: 32766, suppress_prefixlen: 0xffffffff },
      ctx,
    );
    expect(req.body.attrs.suppress_prefixlen).toBeUndefined();
  });

  it('undefined fields are left out, as if not given', async () => {
    const req = await FAMILIES.link.build('set', { ifname: 'v0', mtu: undefined, state: 'up' }, ctx);
    expect(req.body.attrs.mtu).toBeUndefined();
  });
});

describe('field types', () => {
  it('a class instance or a Proxy takes the same checks as a plain object', () => {
    const S = spec({ n: u32.optional() });
    class Thing {
      n = 5;
    }
    expect(parseSpec(S, new Thing(), 'thing')).toEqual({ n: 5 });
    expect(parseSpec(S, new Proxy({ n: 6 }, {}), 'proxy')).toEqual({ n: 6 });
    expect(() => parseSpec(S, new Proxy({ n: -1 }, {}), 'proxy')).toThrow(ValidationError);
  });

  it.each([
    ['10mbit', 1_250_000],
    ['1gbit', 125_000_000],
    ['8', 1],
    [8e9, 1e9],
  ])('tc rate %s is %d bytes/s', (text, bytes) => {
    expect(parseSpec(tcRate, text, 'rate')).toBe(bytes);
  });

  it('every refusal is a NetStateError whose message shows the value, never a TypeError', () => {
    const S = spec({ n: u32.optional() });
    for (const v of [1n, Symbol('s'), () => 1, circular, Number.NaN, -0.5, '', null, [], {}, new Date(0)]) {
      let err: unknown;
      try {
        parseSpec(S, { n: v }, 'n');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NetStateError);
    }
  });
});
