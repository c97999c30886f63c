/**
 * NDB's interface and address scenarios (tests/test_linux/test_ndb/): creation,
 * addresses, ensure, altnames, namespaces, lookups, views, sources; and the
 * bridge scenarios of the older tests/general/test_ndb.py.
 *
 * pr2test's context gives each test a dummy "default interface" (up) and
 * addresses from allocated networks; here the interface is the veth `di`
 * and the networks are fixed: addresses from 10.10.0.0/24 (counting down
 * from .254, as pr2test pops them), IPv6 ones from fd00:10::/64.
 */
import { expect } from 'vitest';
import { NetState, NetStateError } from '../../../src/index.js';
import { ipJson } from '../../helpers/netns.js';
import { type Ctx, dummy, dummySetup, future, futureTx, NDB, NDB_2022, type Scenario } from './harness.js';

const DEFAULT_INTERFACE = [...dummySetup('di'), 'link set di up'];

/** pr2test's new_ipaddr: 10.10.0.254, .253, ... */
const ip4 = (n: number) => `10.10.0.${254 - n}`;
/** pr2test's new_ip6addr: fd00:10::400, ::401, ... */
const ip6 = (n: number) => `fd00:10::${(1024 + n).toString(16)}`;

const FAMILIES = [
  { id: 'ipv4', addr: ip4, len: 24, family: 'inet' as const },
  { id: 'ipv6', addr: ip6, len: 64, family: 'inet6' as const },
];

type Json = Record<string, unknown>;

/** The record of `ifname` in the first namespace, from the store. */
const stored = (c: Ctx, ifname: string) => c.db.interfaces.get({ netns: c.ns, ifname });

function refusal(from: string, spec: Record<string, unknown>): Scenario {
  return {
    from,
    note: `kind ${spec.kind} is absent from this kernel: the typed refusal, nothing created`,
    setup: DEFAULT_INTERFACE,
    steps: [
      {
        fails: (tx) => tx.create(spec as never),
        orAtStaging: true,
        expect: (c, e) => {
          expect(e.message).toMatch(/EOPNOTSUPP|kind/);
          expect(c.k.link(spec.ifname as string)).toBeUndefined();
        },
      },
    ],
  };
}

const IC = `${NDB}/test_interface_create.py`;
const AD = `${NDB}/test_address.py`;

export const scenarios: Scenario[] = [
  // ---- test_interface_create.py
  {
    from: `${IC}::test_context_manager`,
    note: 'dummy → veth',
    steps: [
      { commit: (tx) => dummy(tx, 'cm0'), expect: (c) => expect(c.k.up('cm0')).toBe(false) },
      {
        commit: (tx) => tx.interface('cm0').set({ state: 'up', address: '00:11:22:36:47:58' }),
        expect: (c) => {
          expect(c.k.up('cm0')).toBe(true);
          expect(c.k.link('cm0')?.address).toBe('00:11:22:36:47:58');
        },
      },
      { commit: (tx) => tx.interface('cm0').remove(), expect: (c) => expect(c.k.link('cm0')).toBeUndefined() },
    ],
  },
  {
    from: `${IC}::test_fail`,
    note: 'an unknown kind: pyroute2 gets EOPNOTSUPP from the kernel; netstate refuses it at staging (ValidationError on kind)',
    steps: [
      {
        fails: (tx) => tx.create({ kind: 'nst-random-kind', ifname: 'fk0' }),
        orAtStaging: true,
        expect: (c) => expect(c.k.link('fk0')).toBeUndefined(),
      },
    ],
  },
  {
    from: `${IC}::test_veth_simple`,
    steps: [
      {
        commit: (tx) => tx.create({ kind: 'veth', ifname: 'vs0', peer: 'vs1' }),
        expect: (c) => {
          expect(stored(c, 'vs0')?.link).toBe(stored(c, 'vs1')?.index);
          expect(stored(c, 'vs1')?.link).toBe(stored(c, 'vs0')?.index);
          expect(c.k.link('vs0')?.link).toBe('vs1');
        },
      },
      {
        commit: (tx) => tx.interface('vs0').remove(),
        expect: (c) => expect([c.k.link('vs0'), c.k.link('vs1')]).toEqual([undefined, undefined]),
      },
    ],
  },
  {
    from: `${IC}::test_veth_spec`,
    note: 'the peer in a second followed namespace, with its own MAC ({ peer: { ifname, address, netns } })',
    namespaces: 2,
    steps: [
      {
        commit: (tx, c) =>
          tx.create({ kind: 'veth', ifname: 'vp0', peer: { ifname: 'vp1', address: '00:11:22:33:44:55', netns: c.names[1] } }),
        expect: (c) => {
          const peer = c.db.interfaces.get({ netns: c.names[1], ifname: 'vp1' });
          expect(stored(c, 'vp0')?.link).toBe(peer?.index);
          expect(peer?.link).toBe(stored(c, 'vp0')?.index);
          expect(c.kOf(1).link('vp1')?.address).toBe('00:11:22:33:44:55');
          expect(c.k.link('vp1')).toBeUndefined();
          expect(c.kOf(1).link('vp0')).toBeUndefined();
        },
      },
      {
        commit: (tx) => tx.interface('vp0').remove(),
        expect: (c) => expect([c.k.link('vp0'), c.kOf(1).link('vp1')]).toEqual([undefined, undefined]),
      },
    ],
  },
  refusal(`${IC}::test_dummy`, { kind: 'dummy', ifname: 'dm0', address: '00:11:22:33:44:55' }),
  {
    from: `${IC}::test_bridge`,
    note: 'the port (a veth for the dummy) created with master set',
    steps: [
      { commit: (tx) => tx.create({ kind: 'bridge', ifname: 'br0' }) },
      {
        commit: (tx) => dummy(tx, 'bp0').set({ master: 'br0' }),
        expect: (c) => {
          expect(c.k.link('bp0')?.master).toBe('br0');
          expect(stored(c, 'bp0')?.master).toBe(stored(c, 'br0')?.index);
        },
      },
    ],
  },
  refusal(`${IC}::test_vrf`, { kind: 'vrf', ifname: 'vrf0', data: { table: 42 } }),
  refusal(`${IC}::test_vlan`, { kind: 'vlan', ifname: 'vl0', link: 'di', data: { id: 101 } }),
  {
    from: `${IC}::test_vxlan`,
    note: 'the host link is a veth (for the dummy); vxlan_link is `link`',
    setup: dummySetup('vxh'),
    steps: [
      {
        commit: (tx) => tx.create({ kind: 'vxlan', ifname: 'vx0', link: 'vxh', data: { id: 101, group: '239.1.1.1', ttl: 16 } }),
        expect: (c) => expect(c.k.data('vx0')).toMatchObject({ id: 101, group: '239.1.1.1', ttl: 16, link: 'vxh' }),
      },
    ],
  },
  {
    from: `${IC}::test_basic_address`,
    steps: [
      { commit: (tx) => dummy(tx, 'ba0').up() },
      {
        commit: (tx) => tx.interface('ba0').addIp(`${ip4(0)}/24`),
        expect: (c) => expect(c.k.addrs('ba0')).toEqual([`${ip4(0)}/24`]),
      },
    ],
  },

  // ---- test_address.py
  ...FAMILIES.flatMap((f): Scenario[] => [
    {
      from: `${AD}::test_add_del_ip_dict[${f.id}]`,
      note: 'addresses as { address, prefixlen } (assumed, as NDB takes them)',
      steps: [
        {
          commit: (tx) =>
            future(dummy(tx, 'ad0'))
              .addIp({ address: f.addr(0), prefixlen: f.len })
              .addIp({ address: f.addr(1), prefixlen: f.len }),
          expect: (c) =>
            expect(c.k.addrs('ad0')).toEqual(expect.arrayContaining([`${f.addr(0)}/${f.len}`, `${f.addr(1)}/${f.len}`])),
        },
        {
          commit: (tx) =>
            future(tx.interface('ad0'))
              .delIp({ address: f.addr(1), prefixlen: f.len })
              .delIp({ address: f.addr(0), prefixlen: f.len }),
          expect: (c) => expect(c.k.addrs('ad0')).toEqual([]),
        },
      ],
    },
    {
      from: `${AD}::test_add_del_ip_string[${f.id}]`,
      steps: [
        {
          commit: (tx) =>
            dummy(tx, 'ad0')
              .addIp(`${f.addr(0)}/${f.len}`)
              .addIp(`${f.addr(1)}/${f.len}`),
          expect: (c) =>
            expect(c.k.addrs('ad0')).toEqual(expect.arrayContaining([`${f.addr(0)}/${f.len}`, `${f.addr(1)}/${f.len}`])),
        },
        {
          commit: (tx) =>
            tx
              .interface('ad0')
              .delIp(`${f.addr(1)}/${f.len}`)
              .delIp(`${f.addr(0)}/${f.len}`),
          expect: (c) => expect(c.k.addrs('ad0')).toEqual([]),
        },
      ],
    },
    {
      from: `${AD}::test_del_ip_match[${f.id}]`,
      note: `delIp({ family: '${f.family}' }) removes every address of the family (assumed)`,
      steps: [
        {
          commit: (tx) => {
            const i = dummy(tx, 'ad0').up();
            for (const n of [0, 1, 2]) i.addIp(`${f.addr(n)}/${f.len}`);
          },
        },
        {
          commit: (tx) => future(tx.interface('ad0')).delIp({ family: f.family }),
          expect: (c) => {
            for (const n of [0, 1, 2]) expect(c.k.addrs('ad0')).not.toContain(`${f.addr(n)}/${f.len}`);
          },
        },
      ],
    },
    {
      from: `${AD}::test_del_ip_fail[${f.id}]`,
      note: 'removing an address the interface does not have: refused at staging (pyroute2: KeyError)',
      steps: [
        {
          commit: (tx) =>
            dummy(tx, 'ad0')
              .up()
              .addIp(`${f.addr(0)}/${f.len}`),
        },
        { refused: (tx) => tx.interface('ad0').delIp(`${f.addr(1)}/${f.len}`), field: 'address' },
      ],
    },
    {
      from: `${AD}::test_del_ip_match_fail[${f.id}]`,
      note: 'delIp({ address }) of an absent address: refused at staging (assumed filter form)',
      steps: [
        {
          commit: (tx) =>
            dummy(tx, 'ad0')
              .up()
              .addIp(`${f.addr(0)}/${f.len}`),
        },
        { refused: (tx) => future(tx.interface('ad0')).delIp({ address: f.addr(1) }), field: 'address' },
      ],
    },
  ]),

  // ---- test_ensure.py
  {
    from: `${NDB}/test_ensure.py::test_ensure_interface_simple[dummy]`,
    note: 'tx.ensure(spec) (assumed: NDB ensure — create if missing, else bring to the spec); dummy → veth',
    setup: [...dummySetup('en0'), ...dummySetup('en1'), 'link set en1 up'],
    steps: [
      {
        commit: (tx) => {
          for (const n of ['en0', 'en1', 'en2']) futureTx(tx).ensure({ kind: 'veth', ifname: n, peer: `${n}p`, state: 'up' });
        },
        expect: (c) => expect(['en0', 'en1', 'en2'].map((n) => c.k.up(n))).toEqual([true, true, true]),
      },
    ],
  },
  {
    from: `${NDB}/test_ensure.py::test_ensure_interface_simple[vxlan]`,
    note: 'tx.ensure(spec) (assumed); vxlan on a veth host link',
    setup: [
      ...dummySetup('vh'),
      'link set vh up',
      'link add ev0 type vxlan id 2020 dev vh dstport 4789',
      'link add ev1 type vxlan id 2021 dev vh dstport 4789',
      'link set ev1 up',
    ],
    steps: [
      {
        commit: (tx) => {
          for (const [n, id] of [
            ['ev0', 2020],
            ['ev1', 2021],
            ['ev2', 2022],
          ] as const)
            futureTx(tx).ensure({ kind: 'vxlan', ifname: n, link: 'vh', data: { id, port: 4789 }, state: 'up' });
        },
        expect: (c) => {
          expect(['ev0', 'ev1', 'ev2'].map((n) => c.k.up(n))).toEqual([true, true, true]);
          expect(['ev0', 'ev1', 'ev2'].map((n) => c.k.data(n)?.id)).toEqual([2020, 2021, 2022]);
        },
      },
    ],
  },
  {
    from: `${NDB}/test_ensure.py::test_ensure_ensure_ip`,
    note: 'tx.ensure(spec).ensureIp(a) (assumed)',
    steps: [
      { commit: (tx) => dummy(tx, 'ei0').addIp(`${ip4(0)}/24`) },
      {
        commit: (tx) =>
          futureTx(tx)
            .ensure({ kind: 'veth', ifname: 'ei0', peer: 'ei0p', state: 'up' })
            .ensureIp(`${ip4(0)}/24`)
            .ensureIp(`${ip4(1)}/24`),
        expect: (c) => {
          expect(c.k.up('ei0')).toBe(true);
          expect(c.k.addrs('ei0')).toEqual(expect.arrayContaining([`${ip4(0)}/24`, `${ip4(1)}/24`]));
        },
      },
    ],
  },

  // ---- test_altnames.py
  {
    from: `${NDB}/test_altnames.py::test_altname_complex`,
    note: 'addAltname/delAltname on the interface handle (assumed); pyroute2 marks it xfail (flaky)',
    setup: DEFAULT_INTERFACE,
    steps: [
      {
        commit: (tx) => future(tx.interface('di')).addAltname('dialt1'),
        expect: (c) => expect(c.k.link('di')?.altnames).toEqual(['dialt1']),
      },
      {
        commit: (tx) => future(tx.interface('di')).delAltname('dialt1').addAltname('dialt2'),
        expect: (c) => expect(c.k.link('di')?.altnames).toEqual(['dialt2']),
      },
      {
        commit: (tx) => future(tx.interface('di')).delAltname('dialt2'),
        expect: (c) => expect(c.k.link('di')?.altnames ?? []).toEqual([]),
      },
    ],
  },

  // ---- test_netns.py
  {
    from: `${NDB}/test_netns.py::test_views_contain`,
    namespaces: 2,
    steps: [
      {
        commit: (tx, c) => tx.create({ kind: 'veth', ifname: 'nv0', peer: { ifname: 'nv1', netns: c.names[1] } }),
        expect: (c) => {
          expect(c.db.interfaces.get('nv0')).toBeDefined();
          expect(c.db.interfaces.get('nv1')).toBeDefined();
          expect(c.db.interfaces.get({ netns: c.names[0], ifname: 'nv0' })).toBeDefined();
          expect(c.db.interfaces.get({ netns: c.names[1], ifname: 'nv1' })).toBeDefined();
        },
      },
    ],
  },
  {
    from: `${NDB}/test_netns.py::test_interface_move_altname`,
    note: "the moved link's index is taken in the other namespace: the kernel gives it another; its altname goes with it (addAltname assumed)",
    namespaces: 2,
    setup: [['link add mv2 index 500 type veth peer name mv2p'], ['link add mv1 index 500 type veth peer name mv1p']],
    steps: [
      { commit: (tx) => future(tx.interface('mv2')).addAltname('mvalt') },
      {
        commit: (tx, c) => tx.interface('mv2').set({ netns: c.names[1] }),
        expect: (c) => {
          const moved = c.kOf(1).link('mv2');
          expect(moved?.ifindex).not.toBe(500);
          expect(moved?.altnames).toEqual(['mvalt']);
          expect(c.db.interfaces.get({ netns: c.names[1], ifname: 'mv2' })?.index).toBe(moved?.ifindex);
        },
      },
    ],
  },
  {
    from: `${NDB}/test_netns.py::test_interface_move`,
    note: 'dummy → veth; moved, then set up with a MAC and an address on the other side',
    namespaces: 2,
    steps: [
      { commit: (tx) => dummy(tx, 'im0') },
      { commit: (tx, c) => tx.interface('im0').set({ netns: c.names[1] }) },
      {
        commit: (tx, c) =>
          tx
            .interface('im0', { netns: c.names[1] })
            .set({ state: 'up', address: '00:11:22:33:44:55' })
            .addIp(`${ip4(0)}/24`),
        expect: (c) => {
          expect(c.kOf(1).link('im0')).toMatchObject({ address: '00:11:22:33:44:55' });
          expect(c.kOf(1).up('im0')).toBe(true);
          expect(c.kOf(1).addrs('im0')).toEqual([`${ip4(0)}/24`]);
        },
      },
    ],
  },
  {
    from: `${NDB}/test_netns.py::test_source_basic`,
    note: 'created in the second namespace with three addresses; a store following only that namespace finds them on it',
    namespaces: 2,
    steps: [
      {
        commit: (tx, c) => {
          const i = tx.create({ kind: 'veth', ifname: 'sb0', peer: 'sb0p', netns: c.names[1] });
          for (const n of [0, 1, 2]) i.addIp(`${ip4(n)}/24`);
        },
      },
      {
        run: async (c) => {
          await using other = await NetState.open({ netns: c.names[1] });
          const index = other.interfaces.get('sb0')?.index;
          expect(index).toBeGreaterThan(0);
          for (const n of [0, 1, 2]) expect(other.addresses.get({ address: ip4(n), prefixlen: 24 })?.index).toBe(index);
        },
      },
    ],
  },

  // ---- test_syntax.py
  {
    from: `${NDB}/test_syntax.py::test_cm_interface_create`,
    steps: [{ commit: (tx) => dummy(tx, 'sx0').down(), expect: (c) => expect(c.k.up('sx0')).toBe(false) }],
  },
  {
    from: `${NDB}/test_syntax.py::test_cm_address_create`,
    steps: [
      { commit: (tx) => dummy(tx, 'sx0') },
      {
        commit: (tx) => tx.interface('sx0').addIp(`${ip4(0)}/24`),
        expect: (c) => expect(c.k.addrs('sx0')).toEqual([`${ip4(0)}/24`]),
      },
    ],
  },
  {
    from: `${NDB}/test_syntax.py::test_cm_interface_change_assign`,
    steps: [
      { commit: (tx) => dummy(tx, 'sx0') },
      { commit: (tx) => tx.interface('sx0').up(), expect: (c) => expect(c.k.up('sx0')).toBe(true) },
    ],
  },
  {
    from: `${NDB}/test_syntax.py::test_string_key_in_interfaces`,
    note: 'an interface found by name and by MAC',
    steps: [
      {
        commit: (tx) => dummy(tx, 'sk0', { address: '00:11:22:33:44:55' }).up(),
        expect: (c) => {
          expect(c.db.interfaces.get('sk0')).toBeDefined();
          expect(c.db.interfaces.get({ address: '00:11:22:33:44:55' })?.ifname).toBe('sk0');
          expect(c.db.interfaces.get('sk9')).toBeUndefined();
          expect(c.db.interfaces.get({ address: '00:11:22:33:66:66' })).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${NDB}/test_syntax.py::test_string_key_in_addresses`,
    note: "an address found by 'a' and by 'a/len' (assumed: as a route is found by its prefix), not by another length",
    steps: [
      {
        commit: (tx) =>
          dummy(tx, 'sk0')
            .up()
            .addIp(`${ip4(0)}/24`),
        expect: (c) => {
          expect(c.db.addresses.get(ip4(0))).toBeDefined();
          expect(c.db.addresses.get(`${ip4(0)}/24`)).toBeDefined();
          expect(c.db.addresses.get(ip4(1))).toBeUndefined();
          expect(c.db.addresses.get(`${ip4(1)}/24`)).toBeUndefined();
          for (const len of [16, 28, 32]) expect(c.db.addresses.get(`${ip4(0)}/${len}`)).toBeUndefined();
        },
      },
    ],
  },

  // ---- test_views.py and test_reports.py
  {
    from: `${NDB}/test_views.py::test_readonly`,
    steps: [
      {
        run: (c) => {
          const ro = c.db.readonly();
          expect(() => ro.create({ ifname: 'test', kind: 'bridge' })).toThrow(NetStateError);
          const lo = ro.interfaces.list({ ifname: 'lo' });
          expect(lo.map((i) => [i.ifname, i.address, i.netns])).toEqual([['lo', '00:00:00:00:00:00', c.ns]]);
        },
      },
    ],
  },
  ...(['routes', 'addresses', 'interfaces', 'neighbours'] as const).map(
    (view): Scenario => ({
      from: `${NDB}/test_views.py::test_nested_count[${view}]`,
      note: 'what belongs to br0 as the store counts it, as ip -j counts it (dump and summary are one call here)',
      setup: [...dummySetup('nc0'), ...dummySetup('nc1'), 'link set nc0 up', 'link set nc1 up'],
      steps: [
        {
          commit: (tx) =>
            tx
              .create({ kind: 'bridge', ifname: 'br0' })
              .up()
              .addPort('nc0')
              .addPort('nc1')
              .addIp(`${ip4(0)}/24`)
              .addIp(`${ip4(1)}/24`),
        },
        { commit: (tx) => tx.addRoute({ dst: '10.11.0.0/24', gateway: ip4(2) }) },
        {
          run: (c) => {
            const index = stored(c, 'br0')?.index as number;
            const kernel: Record<typeof view, () => number> = {
              routes: () =>
                ([4, 6] as const)
                  .flatMap((f) => c.k.routes({ family: f, table: 'all' }))
                  .filter((r) => r.dev === 'br0' && r.type !== 'multicast').length,
              addresses: () => c.k.addrInfo('br0').length,
              interfaces: () => ipJson(c.ns, 'link', 'show', 'master', 'br0').length,
              neighbours: () => ipJson(c.ns, 'neigh', 'show', 'dev', 'br0').length,
            };
            const store: Record<typeof view, () => number> = {
              routes: () =>
                c.db.routes.list({ netns: c.ns, oif: index, table: 'all' }).filter((r) => r.type !== 'multicast').length,
              addresses: () => c.db.addresses.count({ netns: c.ns, index }),
              interfaces: () => c.db.interfaces.count({ netns: c.ns, master: index }),
              neighbours: () => c.db.neighbours.count({ netns: c.ns, ifindex: index }),
            };
            const n = store[view]();
            expect(n).toBe(kernel[view]());
            const all = (c.db[view] as { count(f: object): number }).count({ netns: c.ns });
            expect(n < all || n === 0).toBe(true);
          },
        },
      ],
    }),
  ),
  ...(
    [
      ['interfaces', (c: Ctx) => c.db.interfaces.get('lo')],
      ['routes', (c: Ctx) => c.db.routes.get({ dst: '127.0.0.0/8', table: 'local' })],
      ['addresses', (c: Ctx) => c.db.addresses.get('127.0.0.1/8')],
    ] as const
  ).map(
    ([view, find]): Scenario => ({
      from: `${NDB}/test_reports.py::test_contains[${view}]`,
      note:
        view === 'routes'
          ? "NDB looks in every table; netstate's lookup names the table (local)"
          : view === 'addresses'
            ? "an address found by 'a/len' (assumed)"
            : undefined,
      steps: [{ run: (c) => expect(find(c)).toBeDefined() }],
    }),
  ),
  {
    from: `${NDB}/test_reports.py::test_nested_ipaddr`,
    steps: [
      {
        commit: (tx) =>
          dummy(tx, 'ni0')
            .up()
            .addIp(`${ip4(0)}/24`)
            .addIp(`${ip4(1)}/24`),
        expect: (c) => expect(c.db.addresses.list({ netns: c.ns, ifname: 'ni0', family: 'inet' })).toHaveLength(2),
      },
    ],
  },
  {
    from: `${NDB}/test_reports.py::test_nested_ports`,
    steps: [
      {
        commit: (tx) => {
          dummy(tx, 'np0');
          dummy(tx, 'np1');
        },
      },
      {
        commit: (tx) => tx.create({ kind: 'bridge', ifname: 'br0' }).addPort('np0').addPort('np1'),
        expect: (c) => {
          const ports = c.db.interfaces.list({ netns: c.ns, master: stored(c, 'br0')?.index }).map((i) => i.ifname);
          expect(ports.sort()).toEqual(
            ipJson(c.ns, 'link', 'show', 'master', 'br0')
              .map((l) => l.ifname)
              .sort(),
          );
          expect(ports).toHaveLength(2);
        },
      },
    ],
  },

  // ---- test_sources.py
  {
    from: `${NDB}/test_sources.py::test_multiple_sources`,
    note: 'a store following two namespaces (not the root one) reads each; once closed, reading throws',
    namespaces: 2,
    steps: [
      {
        run: async (c) => {
          const db = await NetState.open({ netns: c.names });
          for (const netns of c.names) {
            expect(db.interfaces.count({ netns })).toBeGreaterThan(0);
            expect(db.addresses.count({ netns })).toBeGreaterThan(0);
            expect(db.routes.count({ netns, table: 'all' })).toBeGreaterThan(0);
          }
          await db.close();
          expect(() => db.interfaces.list()).toThrow(NetStateError);
        },
      },
    ],
  },
  {
    from: `${NDB}/test_sources.py::test_source_localhost_restart`,
    note: "a source's restart is db.resync(): the store works after it",
    steps: [
      { commit: (tx) => dummy(tx, 'sr0').up() },
      {
        run: async (c) => {
          await c.db.resync(c.ns);
          expect(stored(c, 'sr0')?.state).toBe('up');
        },
      },
      { commit: (tx) => dummy(tx, 'sr1'), expect: (c) => expect(stored(c, 'sr1')?.state).toBe('down') },
      {
        commit: (tx) => {
          tx.interface('sr0').remove();
          tx.interface('sr1').remove();
        },
      },
    ],
  },
  {
    from: `${NDB}/test_sources.py::test_source_netns_restart`,
    namespaces: 2,
    steps: [
      {
        run: async (c) => {
          const before = c.db.interfaces.count({ netns: c.names[1] });
          await c.db.resync(c.names[1]);
          expect(c.db.interfaces.count({ netns: c.names[1] })).toBe(before);
        },
      },
      {
        commit: (tx, c) => tx.create({ kind: 'veth', ifname: 'snr0', peer: 'snr0p', netns: c.names[1] }).up(),
        expect: (c) => expect(c.db.interfaces.get({ netns: c.names[1], ifname: 'snr0' })?.state).toBe('up'),
      },
    ],
  },

  // ---- the older tests/general/test_ndb.py (TestBridge)
  ...(['up', 'down'] as const).map(
    (state): Scenario => ({
      from: `${NDB_2022}::TestBridge::test_stp_link_${state}`,
      note: "br_stp_state as the bridge's data (stp_state)",
      steps: [
        {
          commit: (tx) => tx.create({ kind: 'bridge', ifname: 'stp0', data: { stp_state: 0 } }).set({ state }),
          expect: (c) => {
            expect(c.k.data('stp0')?.stp_state).toBe(0);
            expect(c.k.up('stp0')).toBe(state === 'up');
          },
        },
        {
          commit: (tx) => tx.interface('stp0').set({ data: { stp_state: 1 } }),
          expect: (c) => {
            expect(c.k.data('stp0')?.stp_state).toBe(1);
            expect((stored(c, 'stp0')?.data as Json | undefined)?.stp_state).toBe(1);
          },
        },
        {
          commit: (tx) => tx.interface('stp0').set({ data: { stp_state: 0 } }),
          expect: (c) => expect(c.k.data('stp0')?.stp_state).toBe(0),
        },
      ],
    }),
  ),
  {
    from: `${NDB_2022}::TestBridge::test_manage_ports`,
    steps: [
      {
        commit: (tx) => {
          dummy(tx, 'mp1');
          dummy(tx, 'mp2');
        },
      },
      {
        commit: (tx) => tx.create({ kind: 'bridge', ifname: 'mpb' }).addPort('mp1').addPort('mp2'),
        expect: (c) => expect([c.k.link('mp1')?.master, c.k.link('mp2')?.master]).toEqual(['mpb', 'mpb']),
      },
      {
        commit: (tx) => tx.interface('mpb').delPort('mp1').delPort('mp2'),
        expect: (c) => expect([c.k.link('mp1')?.master, c.k.link('mp2')?.master]).toEqual([undefined, undefined]),
      },
    ],
  },
];
