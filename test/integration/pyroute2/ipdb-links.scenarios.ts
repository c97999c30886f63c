/** IPDB's interface scenarios (tests/general/test_ipdb.py): create, remove, rename, attributes, kinds, bridges. */
import { expect } from 'vitest';
import { NetStateError, TransactionError } from '../../../src/index.js';
import { CONFIRM_MS, dummy, dummySetup, IPDB, type Scenario } from './harness.js';

const X = `${IPDB}::TestExplicit`;

/** BasicSetup: pyroute2 makes one dummy (`self.ifd`) before each test. */
const IFD = dummySetup('d0');

/** A kind this kernel lacks: the commit must fail with the kernel's EOPNOTSUPP, or staging refuse a kind netstate does not know. */
function refusal(from: string, spec: Record<string, unknown>, note?: string): Scenario {
  return {
    from,
    note: note ?? `kind ${spec.kind} is absent from this kernel: the typed refusal, nothing created`,
    setup: IFD,
    steps: [
      {
        fails: (tx) => tx.create(spec as never),
        orAtStaging: true,
        expect: (c, e) => {
          if (e instanceof TransactionError) {
            expect(e.cause).toMatchObject({ code: 'EOPNOTSUPP' });
            expect(e.message).toMatch(/EOPNOTSUPP/);
          } else expect(e).toMatchObject({ field: 'kind' });
          expect(c.k.link(spec.ifname as string)).toBeUndefined();
        },
      },
    ],
  };
}

export const scenarios: Scenario[] = [
  {
    from: `${X}::test_simple`,
    setup: IFD,
    steps: [{ run: (c) => expect(c.db.interfaces.list().map((i) => i.ifname)).toEqual(c.k.linkNames()) }],
  },
  {
    from: `${X}::test_empty_transaction`,
    setup: IFD,
    steps: [
      {
        commit: (tx, c) => {
          tx.interface('lo');
          expect(typeof c.db.interfaces.get('lo')?.mtu).toBe('number');
        },
        unchanged: true,
        expect: (_c, report) => expect(report.steps).toBe(0),
      },
    ],
  },
  {
    from: `${X}::test_attr_same_value`,
    setup: IFD,
    steps: [{ commit: (tx, c) => tx.interface('d0').set({ mtu: c.db.interfaces.get('d0')?.mtu }), unchanged: true }],
  },
  {
    from: `${X}::test_idx_set`,
    note: 'by_name and by_index: a record found by name is the one found by its index',
    setup: IFD,
    steps: [
      {
        run: (c) => {
          for (const i of c.db.interfaces.list()) expect(c.db.interfaces.get(i.index as number)).toEqual(i);
        },
      },
    ],
  },
  {
    from: `${X}::test_rename`,
    steps: [
      { commit: (tx) => dummy(tx, 'ra') },
      {
        commit: (tx) => tx.interface('ra').set({ ifname: 'rb' }),
        expect: (c) => {
          expect(c.k.link('rb')).toBeDefined();
          expect(c.k.link('ra')).toBeUndefined();
          expect(c.db.interfaces.get('rb')).toBeDefined();
          expect(c.db.interfaces.get('ra')).toBeUndefined();
        },
      },
      {
        commit: (tx) => tx.interface('rb').set({ ifname: 'ra' }),
        expect: (c) => {
          expect(c.k.link('ra')).toBeDefined();
          expect(c.k.link('rb')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_updown`,
    setup: IFD,
    steps: [
      { commit: (tx) => tx.interface('d0').up(), expect: (c) => expect(c.k.up('d0')).toBe(true) },
      { commit: (tx) => tx.interface('d0').down(), expect: (c) => expect(c.k.up('d0')).toBe(false) },
    ],
  },
  {
    from: `${X}::test_create_ip_up`,
    note: 'dummy → veth (peer up)',
    steps: [
      {
        commit: (tx) => dummy(tx, 'cu').up().addIp('172.16.7.8/24'),
        expect: (c) => {
          expect(c.k.addrs('cu')).toContain('172.16.7.8/24');
          expect(c.db.interfaces.get('cu')?.ipaddr).toContain('172.16.7.8/24');
        },
      },
    ],
  },
  {
    from: `${X}::test_create_tuntap_fail`,
    note: "tun/tap: kind 'tuntap' with pyroute2's spec ({ mode, uid, gid }); an invalid mode is refused, nothing created",
    steps: [
      {
        fails: (tx) => tx.create({ kind: 'tuntap', ifname: 'fAiL', mode: 'fail' as never }),
        orAtStaging: true,
        expect: (c) => expect(c.k.link('fAiL')).toBeUndefined(),
      },
    ],
  },
  {
    from: `${X}::test_create_tuntap`,
    note: "tun/tap: kind 'tuntap', mode 'tap', uid and gid, as pyroute2 spells it; a persistent tap",
    steps: [
      {
        commit: (tx) => tx.create({ kind: 'tuntap', ifname: 'tap0', mode: 'tap', uid: 1, gid: 1 }),
        expect: (c) => {
          const l = c.k.link('tap0');
          expect((l?.linkinfo as Record<string, unknown>)?.info_kind).toBe('tun');
          expect(c.k.data('tap0')).toMatchObject({ type: 'tap', persist: true });
          expect(c.db.interfaces.get('tap0')).toBeDefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_bridge_port_options`,
    note: 'bridge port options through set(): brport_unicast_flood, brport_cost (assumed names, as pyroute2 spells them); dummy → veth',
    setup: [...IFD, 'link add br0 type bridge'],
    steps: [
      { commit: (tx) => tx.interface('br0').addPort('d0').up() },
      {
        commit: (tx) => tx.interface('d0').up().set({ brport_unicast_flood: 0, brport_cost: 500 }),
        expect: (c) => {
          expect(c.k.portData('d0')).toMatchObject({ flood: false, cost: 500 });
          expect(c.k.link('d0')?.master).toBe('br0');
        },
      },
    ],
  },
  {
    from: `${X}::test_bridge_controls_set`,
    note: "bridge options as the kind's data: { stp_state, forward_delay }",
    setup: [...IFD, 'link add br0 type bridge'],
    steps: [
      {
        commit: (tx) =>
          tx
            .interface('br0')
            .addPort('d0')
            .up()
            .set({ data: { stp_state: 0, forward_delay: 500 } }),
        expect: (c) => {
          expect(c.k.data('br0')).toMatchObject({ stp_state: 0, forward_delay: 500 });
          expect(c.k.link('d0')?.master).toBe('br0');
        },
      },
    ],
  },
  {
    from: `${X}::test_bridge_controls_add`,
    note: "bridge options given at creation, as the kind's data",
    setup: IFD,
    steps: [
      {
        commit: (tx) =>
          tx
            .create({ kind: 'bridge', ifname: 'br0', data: { stp_state: 0, forward_delay: 500 } })
            .addPort('d0')
            .up(),
        expect: (c) => {
          expect(c.k.data('br0')).toMatchObject({ stp_state: 0, forward_delay: 500 });
          expect(c.k.link('d0')?.master).toBe('br0');
        },
      },
    ],
  },
  {
    from: `${X}::test_create_veth`,
    steps: [
      {
        commit: (tx) => tx.create({ kind: 'veth', ifname: 'va', peer: 'vb' }),
        expect: (c) => {
          expect(c.k.link('va')?.link).toBe('vb');
          expect(c.k.link('vb')?.link).toBe('va');
          expect(c.db.interfaces.get('vb')).toBeDefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_veth_peer_attrs`,
    note: 'the peer in a second namespace followed by the same store, with its own MAC',
    namespaces: 2,
    steps: [
      {
        commit: (tx, c) =>
          tx.create({
            kind: 'veth',
            ifname: 'xva',
            address: '06:00:00:00:02:02',
            peer: { ifname: 'va', address: '06:00:00:00:02:03', netns: c.names[1] },
          }),
        expect: (c) => {
          expect(c.k.link('xva')?.address).toBe('06:00:00:00:02:02');
          expect(c.kOf(1).link('va')?.address).toBe('06:00:00:00:02:03');
          expect(c.db.interfaces.get({ netns: c.names[1], ifname: 'va' })?.address).toBe('06:00:00:00:02:03');
        },
      },
      {
        commit: (tx) => tx.interface('xva').remove(),
        expect: (c) => {
          expect(c.k.link('xva')).toBeUndefined();
          expect(c.kOf(1).link('va')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_global_netns`,
    note: 'two veths whose first ends move to a second followed namespace in the commit that creates them; renamed there, the other ends set up',
    namespaces: 2,
    steps: [
      {
        commit: (tx, c) => {
          tx.create({ kind: 'veth', ifname: 'xga', peer: 'ga' }).set({ netns: c.names[1] });
          tx.create({ kind: 'veth', ifname: 'xgb', peer: 'gb' }).set({ netns: c.names[1] });
        },
        expect: (c) => {
          expect(c.kOf(1).linkNames()).toEqual(expect.arrayContaining(['xga', 'xgb']));
          expect(c.k.linkNames()).toEqual(expect.arrayContaining(['ga', 'gb']));
          expect(c.k.link('xga')).toBeUndefined();
        },
      },
      {
        commit: (tx, c) => {
          tx.interface('xga', { netns: c.names[1] }).set({ ifname: 'eth0' });
          tx.interface('xgb', { netns: c.names[1] }).set({ ifname: 'eth1' });
        },
      },
      {
        commit: (tx) => {
          tx.interface('ga').up();
          tx.interface('gb').up();
        },
        expect: (c) => {
          expect(c.k.up('ga') && c.k.up('gb')).toBe(true);
          expect(c.kOf(1).linkNames()).toEqual(expect.arrayContaining(['eth0', 'eth1']));
        },
      },
      {
        commit: (tx) => {
          tx.interface('ga').remove();
          tx.interface('gb').remove();
        },
        expect: (c) => {
          expect(c.k.link('ga')).toBeUndefined();
          expect(c.kOf(1).link('eth0')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_create_macaddr`,
    note: 'MACs in lower, upper and mixed case (issue #454); dummy → veth',
    steps: [
      { commit: (tx) => dummy(tx, 'ma').set({ address: '00:11:22:aa:bb:c0' }) },
      { commit: (tx) => dummy(tx, 'mb').set({ address: '00:11:22:AA:BB:C1' }) },
      {
        commit: (tx) => dummy(tx, 'mc', { address: '00:11:22:AA:bb:C2' }),
        expect: (c) => {
          expect(['ma', 'mb', 'mc'].map((n) => c.k.link(n)?.address)).toEqual([
            '00:11:22:aa:bb:c0',
            '00:11:22:aa:bb:c1',
            '00:11:22:aa:bb:c2',
          ]);
        },
      },
    ],
  },
  {
    from: `${X}::test_create_fail`,
    note: 'a kind nobody knows: refused at staging, nothing staged',
    steps: [{ refused: (tx) => tx.create({ kind: 'nst-no-such-kind', ifname: 'cf' }), field: 'kind' }],
  },
  {
    from: `${X}::test_create_fail_repeat1`,
    note: 'a multicast MAC in the creation spec: the kernel refuses, nothing stays; then a valid one commits',
    steps: [
      { fails: (tx) => dummy(tx, 'fr', { address: '11:22:33:44:55:66' }) },
      {
        commit: (tx) => dummy(tx, 'fr', { address: '00:11:22:33:44:55' }),
        expect: (c) => {
          expect(c.k.link('fr')?.address).toBe('00:11:22:33:44:55');
          expect(c.db.interfaces.get('fr')?.index).toBeGreaterThan(0);
        },
      },
    ],
  },
  {
    from: `${X}::test_create_fail_repeat2`,
    note: 'the multicast MAC set after create(): same as repeat1',
    steps: [
      { fails: (tx) => dummy(tx, 'fr').set({ address: '11:22:33:44:55:66' }) },
      {
        commit: (tx) => dummy(tx, 'fr').set({ address: '00:11:22:33:44:55' }),
        expect: (c) => expect(c.k.link('fr')?.address).toBe('00:11:22:33:44:55'),
      },
    ],
  },
  {
    from: `${X}::test_create_reuse_addr`,
    note: "create({ reuse: true }) on an existing interface is that interface (assumed: pyroute2's 'reuse' flag)",
    steps: [
      {
        commit: (tx) => dummy(tx, 'ru').addIp('172.16.47.2/24').down(),
        expect: (c) => expect(c.k.up('ru')).toBe(false),
      },
      {
        commit: (tx) => tx.create({ kind: 'veth', ifname: 'ru', peer: 'rup', reuse: true }).up(),
        expect: (c) => {
          expect(c.k.addrs('ru')).toContain('172.16.47.2/24');
          expect(c.k.up('ru')).toBe(true);
        },
      },
    ],
  },
  {
    from: `${X}::test_create_double_reuse`,
    note: 'a second create() of an existing name is refused; with { reuse: true } it is the same interface (same index)',
    steps: [
      { commit: (tx) => dummy(tx, 'dr') },
      { refused: (tx) => dummy(tx, 'dr'), field: 'ifname' },
      {
        commit: (tx) => tx.create({ kind: 'veth', ifname: 'dr', peer: 'drp', reuse: true }),
        unchanged: true,
      },
    ],
  },
  {
    from: `${X}::test_create_double_dummy`,
    note: 'dummy → veth: the second creation of one name is refused at staging',
    steps: [{ commit: (tx) => dummy(tx, 'dd') }, { refused: (tx) => dummy(tx, 'dd'), field: 'ifname' }],
  },
  {
    from: `${X}::test_create_double_bridge`,
    steps: [
      { commit: (tx) => tx.create({ kind: 'bridge', ifname: 'db0' }) },
      { refused: (tx) => tx.create({ kind: 'bridge', ifname: 'db0' }), field: 'ifname' },
    ],
  },
  {
    from: `${X}::test_create_plain`,
    steps: [
      {
        commit: (tx) => dummy(tx, 'cp').addIp('172.16.0.1/24'),
        expect: (c) => {
          expect(c.k.addrs('cp')).toContain('172.16.0.1/24');
          expect(c.db.interfaces.get('cp')?.ipaddr).toContain('172.16.0.1/24');
        },
      },
    ],
  },
  {
    from: `${X}::test_create_and_remove`,
    steps: [
      {
        commit: (tx) => dummy(tx, 'cr').addIp('172.16.0.1/24'),
        expect: (c) => expect(c.k.addrs('cr')).toContain('172.16.0.1/24'),
      },
      {
        commit: (tx) => tx.interface('cr').remove(),
        expect: (c) => {
          expect(c.k.link('cr')).toBeUndefined();
          expect(c.db.interfaces.get('cr')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_master_cleanup_del_port`,
    setup: [...IFD, 'link add br0 type bridge'],
    steps: [
      {
        commit: (tx) => tx.interface('br0').addPort('d0'),
        expect: (c) => {
          expect(c.k.link('d0')?.master).toBe('br0');
          expect(c.db.interfaces.get('d0')?.master).toBe(c.db.interfaces.get('br0')?.index);
        },
      },
      {
        commit: (tx) => tx.interface('br0').delPort('d0'),
        expect: (c) => {
          expect(c.k.link('d0')).toBeDefined();
          expect(c.k.link('d0')?.master).toBeUndefined();
          expect(c.db.interfaces.get('d0')?.master).toBeFalsy();
        },
      },
    ],
  },
  {
    from: `${X}::test_create_bridge`,
    note: '_create_master(bridge): two veth ports (for dummies) and two addresses, added and removed',
    setup: [...dummySetup('p1'), ...dummySetup('p2')],
    steps: [
      { commit: (tx) => tx.create({ kind: 'bridge', ifname: 'm0' }).addPort('p1').addIp('172.16.0.1/24') },
      {
        commit: (tx) => tx.interface('m0').addPort('p2').addIp('172.16.0.2/24'),
        expect: (c) => {
          expect(c.k.addrs('m0')).toEqual(expect.arrayContaining(['172.16.0.1/24', '172.16.0.2/24']));
          expect([c.k.link('p1')?.master, c.k.link('p2')?.master]).toEqual(['m0', 'm0']);
        },
      },
      {
        commit: (tx) => tx.interface('m0').delPort('p1').delPort('p2').delIp('172.16.0.1/24').delIp('172.16.0.2/24'),
        expect: (c) => {
          expect(c.k.addrs('m0')).toEqual([]);
          expect([c.k.link('p1')?.master, c.k.link('p2')?.master]).toEqual([undefined, undefined]);
        },
      },
    ],
  },
  ...(['macvlan', 'macvtap'] as const).flatMap((kind) =>
    (['vepa', 'bridge'] as const).map(
      (mode): Scenario => ({
        from: `${X}::test_create_${kind}_${mode}`,
        note: 'the lower link is a veth (for a dummy)',
        setup: dummySetup('ml0'),
        steps: [
          {
            commit: (tx) => tx.create({ kind, ifname: 'mv0', link: 'ml0', data: { mode } }),
            expect: (c) => {
              expect((c.k.link('mv0')?.linkinfo as Record<string, unknown>)?.info_kind).toBe(kind);
              expect(c.k.link('mv0')?.link).toBe('ml0');
              expect(c.k.data('mv0')?.mode).toBe(mode);
              expect(c.db.interfaces.get('mv0')?.link).toBe(c.db.interfaces.get('ml0')?.index);
            },
          },
        ],
      }),
    ),
  ),
  {
    from: `${X}::test_create_utf_name`,
    note: 'dummy → veth named ༀ (3 bytes of UTF-8)',
    steps: [
      {
        commit: (tx) => tx.create({ kind: 'veth', ifname: 'ༀ', peer: 'ༀp' }),
        expect: (c) => expect(c.k.link('ༀ')).toBeDefined(),
      },
      { commit: (tx) => tx.interface('ༀ').remove(), expect: (c) => expect(c.k.link('ༀ')).toBeUndefined() },
    ],
  },
  {
    from: `${X}::test_create_vxlan`,
    note: 'the vxlan sits on a veth (for a dummy) through `link`',
    setup: dummySetup('vxl'),
    steps: [
      {
        commit: (tx) => tx.create({ kind: 'vxlan', ifname: 'vx0', link: 'vxl', data: { id: 101, group: '239.1.1.1' } }),
        expect: (c) => {
          expect(c.k.data('vx0')).toMatchObject({ id: 101, group: '239.1.1.1', link: 'vxl' });
          expect(c.db.interfaces.get('vx0')?.data).toMatchObject({ id: 101, group: '239.1.1.1' });
        },
      },
    ],
  },
  refusal(`${X}::test_create_bond`, { kind: 'bond', ifname: 'bo0' }),
  refusal(`${X}::test_create_team`, { kind: 'team', ifname: 'tm0' }),
  refusal(`${X}::test_create_gre`, {
    kind: 'gre',
    ifname: 'gre1',
    data: { local: '172.16.0.1', remote: '172.16.0.2', ttl: 16 },
  }),
  refusal(`${X}::test_create_gretap`, { kind: 'gretap', ifname: 'gt1', data: { local: '172.16.0.1', ttl: 16 } }),
  refusal(`${X}::test_create_ip6gre`, { kind: 'ip6gre', ifname: 'g61' }),
  refusal(`${X}::test_create_ip6gretap`, { kind: 'ip6gretap', ifname: 'gt61' }),
  refusal(`${X}::test_create_vrf`, { kind: 'vrf', ifname: 'vrf1', data: { table: 100 } }),
  refusal(`${X}::test_create_vlan_by_interface`, { kind: 'vlan', ifname: 'vl1', link: 'd0', data: { id: 101 } }),
  refusal(`${IPDB}::TestRace::test_dummy0_loaded`, { kind: 'dummy', ifname: 'dummy0' }),
  {
    from: `${X}::test_review_new`,
    note: 'review of a created interface shows only + sets (a bridge for the dummy: lo is staged as its port)',
    steps: [
      {
        run: (c) => {
          const tx = c.db.begin();
          tx.create({ kind: 'bridge', ifname: 'none' }).addIp('172.16.21.1/24').addIp('172.16.21.2/24').addPort('lo');
          const r = tx.review().interfaces.none as Record<string, unknown>;
          expect(r['+ipaddr']).toHaveLength(2);
          expect(r['+ports']).toEqual(['lo']);
          for (const k of ['-ipaddr', '-ports', 'ipaddr', 'ports']) expect(r).not.toHaveProperty(k);
          tx.drop();
        },
      },
    ],
  },
  {
    from: `${X}::test_review`,
    note: 'an empty transaction reviews as empty; after drop(), review() throws',
    steps: [
      {
        run: (c) => {
          const tx = c.db.begin();
          expect(tx.review().interfaces).toEqual({});
          tx.interface('lo').addIp('172.16.21.1/24');
          const r = tx.review().interfaces.lo as Record<string, unknown[] | undefined>;
          expect(r['+ipaddr']).toEqual(['172.16.21.1/24']);
          for (const k of ['-ipaddr', '+ports', '-ports']) expect(r[k] ?? []).toHaveLength(0);
          tx.drop();
          expect(() => tx.review()).toThrow(NetStateError);
        },
      },
    ],
  },
  {
    from: `${X}::test_global_review_interface`,
    steps: [
      {
        run: (c) => {
          const tx = c.db.begin();
          tx.interface('lo').addIp('172.16.21.1/24');
          expect((tx.review().interfaces.lo as Record<string, unknown>)['+ipaddr']).toHaveLength(1);
          tx.drop();
          expect(() => tx.review()).toThrow(NetStateError);
        },
      },
    ],
  },
  {
    from: `${X}::test_fail_ipaddr`,
    note: 'an impossible address is refused at staging; the interface stays without addresses and can be removed',
    steps: [
      { commit: (tx) => dummy(tx, 'fi') },
      { refused: (tx) => tx.interface('fi').addIp('123.456.789.1024/153'), field: 'address' },
      {
        commit: (tx) => tx.interface('fi').remove(),
        expect: (c) => expect(c.k.link('fi')).toBeUndefined(),
      },
    ],
  },
  {
    from: `${IPDB}::TestImplicit::test_chain`,
    note: 'implicit mode: create().commit(), then edit() shortcuts',
    steps: [
      {
        run: async (c) => {
          await c.db.create({ kind: 'veth', ifname: 'ch', peer: 'chp' }).commit();
          await c.db.interfaces.edit('ch', (i) => i.up());
          expect(c.k.up('ch')).toBe(true);
          await c.db.interfaces.edit('ch', (i) => i.addIp('172.16.0.1/24').down());
          expect(c.k.addrs('ch')).toContain('172.16.0.1/24');
          expect(c.k.up('ch')).toBe(false);
          await c.db.interfaces.edit('ch', (i) => i.remove());
          expect(c.k.link('ch')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${IPDB}::TestMisc::test_context_manager`,
    steps: [{ run: (c) => expect(c.db.interfaces.get('lo')?.index).toBe(1) }],
  },
  {
    from: `${IPDB}::TestMisc::test_read_only_cm`,
    note: 'the read-only view opens no transaction',
    steps: [
      {
        run: (c) => {
          const ro = c.db.readonly();
          expect(ro.interfaces.get('lo')?.ifname).toBe('lo');
          expect(() => ro.begin()).toThrow(NetStateError);
        },
      },
    ],
  },
  {
    from: `${IPDB}::TestMisc::test_modes`,
    note: 'explicit mode refuses a change outside begin(); implicit mode opens a transaction for it',
    setup: IFD,
    mode: 'explicit',
    steps: [
      {
        run: async (c) => {
          expect(() => c.db.create({ kind: 'bridge', ifname: 'mx' })).toThrow(NetStateError);
          await expect(c.db.interfaces.edit('d0', (i) => i.up())).rejects.toThrow(NetStateError);
          expect(c.k.up('d0')).toBe(false);
        },
      },
    ],
  },
  {
    from: `${IPDB}::TestMisc::test_eventqueue`,
    note: 'the event stream reports the creation of test1984 (a bridge for the dummy)',
    steps: [
      {
        run: async (c) => {
          const seen: string[] = [];
          const sub = c.db.events$.subscribe((e) => {
            if (e.kind === 'interface' && e.action === 'add' && e.after?.ifname === 'test1984') seen.push(e.netns);
          });
          await c.db.create({ kind: 'bridge', ifname: 'test1984' }).commit();
          sub.unsubscribe();
          expect(seen).toEqual([c.ns]);
        },
      },
    ],
  },
  {
    from: `${IPDB}::TestMisc::test_context_exception_in_code`,
    note: 'an exception inside edit(): the staged address is dropped, never committed',
    setup: IFD,
    steps: [
      {
        run: async (c) => {
          await expect(
            c.db.interfaces.edit('d0', (i) => {
              i.addIp('172.16.9.1/24');
              throw new Error('hands up');
            }),
          ).rejects.toThrow('hands up');
          expect(c.k.addrs('d0')).not.toContain('172.16.9.1/24');
        },
      },
    ],
  },
  {
    from: `${IPDB}::TestMisc::test_context_exception_in_transaction`,
    note: 'a multicast MAC fails the commit: the added address goes, the removed one comes back',
    setup: [...IFD, 'addr add 172.16.0.1/24 dev d0'],
    steps: [
      {
        fails: (tx) => tx.interface('d0').addIp('172.16.9.1/24').delIp('172.16.0.1/24').set({ address: '11:22:33:44:55:66' }),
        expect: (c) => {
          expect(c.k.addrs('d0')).toEqual(['172.16.0.1/24']);
        },
      },
    ],
  },
  {
    from: `${IPDB}::TestImplicit::test_generic_post_callback`,
    note: 'a subscriber of events$ makes each new port a port of the bridge, in commits of its own',
    steps: [
      {
        run: async (c) => {
          await c.db.create({ kind: 'bridge', ifname: 'cbm' }).commit();
          const joins: Promise<unknown>[] = [];
          const sub = c.db.events$.subscribe((e) => {
            const name = e.after?.ifname as string | undefined;
            if (e.kind === 'interface' && e.action === 'add' && (name === 'cbp1' || name === 'cbp2')) {
              const tx = c.db.begin();
              tx.interface('cbm').addPort(name);
              joins.push(tx.commit({ timeout: CONFIRM_MS }));
            }
          });
          await c.db.create({ kind: 'veth', ifname: 'cbp1', peer: 'cbp1p' }).commit();
          await c.db.create({ kind: 'veth', ifname: 'cbp2', peer: 'cbp2p' }).commit();
          await Promise.all(joins);
          sub.unsubscribe();
          expect([c.k.link('cbp1')?.master, c.k.link('cbp2')?.master]).toEqual(['cbm', 'cbm']);
        },
      },
    ],
  },
];
