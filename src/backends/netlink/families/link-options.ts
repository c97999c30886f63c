/**
 * The options of each link kind (`data`, IFLA_INFO_DATA) and of each kind of
 * port (`slave_data`, IFLA_INFO_SLAVE_DATA), declared with zod field by
 * field: types, widths and the ranges the kernel accepts. Booleans are
 * true/false or 1/0, never anything else; values the kernel only reports
 * (timers, ids, counters) are refused instead of being silently ignored.
 *
 * Each declaration covers the attributes of the kind's codec schema in
 * link-kinds.ts: those named here get their own type, the rest are checked
 * by their wire type (a u16 is an integer in 0..65535), so an option added
 * to the codec is validated from the start, and typed once declared here.
 */
import {
  binary,
  bit,
  choice,
  field,
  int,
  ipAddress,
  mac,
  presence,
  Refusal,
  s32,
  shown,
  spec,
  text,
  u8,
  u16,
  u32,
  u64,
  type z,
} from '../../schema.js';
import type { AttrSpec, Schema } from '../codec/attributes.js';
import type { Struct } from '../codec/struct.js';
import {
  BOND_MODES,
  bondData,
  bondPortData,
  bridgeData,
  bridgePortData,
  greData,
  MACVLAN_MODES,
  macvlanData,
  tunData,
  vlanData,
  vrfData,
  vrfPortData,
  vxlanData,
} from './link-kinds.js';

/** Attributes larger than this are refused: a whole nested IFLA_LINKINFO must fit one 64 KiB attribute. */
const MAX_BINARY = 4096;

function readOnly(name: string) {
  return field<never, never>(() => new Refusal(`${name} is reported by the kernel, it cannot be set`));
}

/** A struct option ({ field: number, ... }) checked field by field against the struct's widths. */
function structOf(st: Struct) {
  const shape: Record<string, z.ZodOptional<z.ZodType<number, number>>> = {};
  for (const f of st.fields) shape[f.name] = byWireType(f.type).optional();
  return spec(shape);
}

function byWireType(type: string): z.ZodType<number, number> {
  switch (type) {
    case 'u8':
      return u8;
    case 's8':
      return int(-128, 127);
    case 'u16':
    case 'be16':
      return u16;
    case 's16':
      return int(-0x8000, 0x7fff);
    case 's32':
      return s32;
    default:
      return u32;
  }
}

/** The check of an attribute by its wire type alone, for attributes not declared below. */
function generic(a: AttrSpec): z.ZodType {
  switch (a.type) {
    case 'u64':
      return u64;
    case 'ip':
      return ipAddress();
    case 'mac':
      return mac;
    case 'flag':
      return presence;
    case 'string':
    case 'asciiz':
      return text(255);
    case 'struct':
      return a.struct ? structOf(a.struct) : binary(MAX_BINARY);
    case 'binary':
    case 'nested':
    case 'records':
      return binary(MAX_BINARY);
    default:
      return byWireType(a.type);
  }
}

/**
 * The options spec of one kind: `declared` fields with their own types,
 * `reportOnly` ones refused, every other attribute of the codec schema by
 * its wire type. Its TypeScript type is the declared fields'.
 */
function options<D extends z.core.$ZodLooseShape>(kind: string, codec: Schema, declared: D, reportOnly: readonly string[] = []) {
  const shape: Record<string, z.ZodType> = {};
  for (const a of codec.attrs) {
    if (a.name === 'pad') continue;
    shape[a.name] = (reportOnly.includes(a.name) ? readOnly(a.name) : generic(a)).optional();
  }
  Object.assign(shape, declared);
  const settable = Object.keys(shape)
    .filter((k) => !reportOnly.includes(k))
    .join(', ');
  return spec(shape, (key) => `"${key}" is not an option of ${kind} (known: ${settable})`) as unknown as ReturnType<
    typeof spec<D>
  >;
}

/** bridge stp_state: off, or on (the kernel reads any non-zero as on and reports 1 for kernel STP, 2 for user STP). */
const stpState = field<boolean | 0 | 1 | 2, number>((v) => {
  if (v === true) return 1;
  if (v === false) return 0;
  if (v === 0 || v === 1 || v === 2) return v;
  return new Refusal(`expected true or false (or 0, 1, 2 as the kernel reports STP off, kernel STP, user STP), got ${shown(v)}`);
});

/** 802.1Q or 802.1ad, by name or ethertype: the only two the kernel's vlan and bridge take. */
const vlanProtocol = choice({ '802.1Q': 0x8100, '802.1ad': 0x88a8 }, 'VLAN protocol');

/** The bridge's options: `ip link add br0 type bridge stp_state 1 priority 100 ...`. */
export const BridgeData = options(
  'bridge',
  bridgeData,
  {
    /** STP timers, in centiseconds (USER_HZ): forward_delay 2..30 s, hello_time 1..10 s, max_age 6..40 s while STP runs. */
    forward_delay: u32.optional(),
    hello_time: u32.optional(),
    max_age: u32.optional(),
    ageing_time: u32.optional(),
    stp_state: stpState.optional(),
    priority: u16.optional(),
    vlan_filtering: bit.optional(),
    vlan_protocol: vlanProtocol.optional(),
    group_fwd_mask: u16.optional(),
    group_addr: mac.optional(),
    fdb_flush: presence.optional(),
    /** 0 disabled, 1 temporary (learned from queries), 2 permanent. */
    mcast_router: int(0, 2).optional(),
    mcast_snooping: bit.optional(),
    mcast_query_use_ifaddr: bit.optional(),
    mcast_querier: bit.optional(),
    mcast_hash_elasticity: u32.optional(),
    mcast_hash_max: u32.optional(),
    mcast_last_member_cnt: u32.optional(),
    mcast_startup_query_cnt: u32.optional(),
    mcast_last_member_intvl: u64.optional(),
    mcast_membership_intvl: u64.optional(),
    mcast_querier_intvl: u64.optional(),
    mcast_query_intvl: u64.optional(),
    mcast_query_response_intvl: u64.optional(),
    mcast_startup_query_intvl: u64.optional(),
    nf_call_iptables: bit.optional(),
    nf_call_ip6tables: bit.optional(),
    nf_call_arptables: bit.optional(),
    /** 0 (none) or a VLAN id 1..4094. */
    vlan_default_pvid: int(0, 4094).optional(),
    vlan_stats_enabled: bit.optional(),
    mcast_stats_enabled: bit.optional(),
    mcast_igmp_version: int(2, 3).optional(),
    mcast_mld_version: int(1, 2).optional(),
    vlan_stats_per_port: bit.optional(),
    multi_boolopt: spec({ optval: u32.optional(), optmask: u32.optional() }).optional(),
    fdb_max_learned: u32.optional(),
  },
  [
    'root_id',
    'bridge_id',
    'root_port',
    'root_path_cost',
    'topology_change',
    'topology_change_detected',
    'hello_timer',
    'tcn_timer',
    'topology_change_timer',
    'gc_timer',
    'mcast_querier_state',
    'fdb_n_learned',
  ],
);

/** A bridge port's options (`slave_data` with slave_kind 'bridge'; `bridge link set dev X ...`). */
export const BridgePortData = options(
  'a bridge port',
  bridgePortData,
  {
    /** STP port state: 0 disabled, 1 listening, 2 learning, 3 forwarding, 4 blocking. */
    state: int(0, 4).optional(),
    /** Port priority: 0..63 (the kernel's BR_MAX_PORT_PRIORITY). */
    priority: int(0, 63).optional(),
    /** Path cost: 1..65535 for STP, any u32 taken. */
    cost: u32.optional(),
    /** Hairpin mode. */
    mode: bit.optional(),
    guard: bit.optional(),
    protect: bit.optional(),
    fast_leave: bit.optional(),
    learning: bit.optional(),
    unicast_flood: bit.optional(),
    proxyarp: bit.optional(),
    learning_sync: bit.optional(),
    proxyarp_wifi: bit.optional(),
    flush: presence.optional(),
    /** 0 disabled, 1 temporary, 2 permanent, 3 temporary (no query). */
    multicast_router: int(0, 3).optional(),
    mcast_flood: bit.optional(),
    mcast_to_ucast: bit.optional(),
    vlan_tunnel: bit.optional(),
    bcast_flood: bit.optional(),
    group_fwd_mask: u16.optional(),
    neigh_suppress: bit.optional(),
    isolated: bit.optional(),
    /** The index of the backup port (0: none). */
    backup_port: u32.optional(),
    mrp_ring_open: bit.optional(),
    mrp_in_open: bit.optional(),
    mcast_eht_hosts_limit: u32.optional(),
    locked: bit.optional(),
    mab: bit.optional(),
    mcast_max_groups: u32.optional(),
    neigh_vlan_suppress: bit.optional(),
    backup_nhid: u32.optional(),
  },
  [
    'root_id',
    'bridge_id',
    'designated_port',
    'designated_cost',
    'id',
    'no',
    'topology_change_ack',
    'config_pending',
    'message_age_timer',
    'forward_delay_timer',
    'hold_timer',
    'mcast_eht_hosts_cnt',
    'mcast_n_groups',
  ],
);

/** vxlan: `ip link add vx0 type vxlan id 42 dstport 4789 local 10.0.0.1 ...`. */
export const VxlanData = options('vxlan', vxlanData, {
  /** The VNI: 24 bits. */
  id: int(0, 0xffffff).optional(),
  group: ipAddress(4).optional(),
  group6: ipAddress(6).optional(),
  /** The underlay device's index. */
  link: u32.optional(),
  local: ipAddress(4).optional(),
  local6: ipAddress(6).optional(),
  ttl: u8.optional(),
  tos: u8.optional(),
  learning: bit.optional(),
  ageing: u32.optional(),
  limit: u32.optional(),
  port_range: spec({ low: u16.optional(), high: u16.optional() }).optional(),
  proxy: bit.optional(),
  rsc: bit.optional(),
  l2miss: bit.optional(),
  l3miss: bit.optional(),
  /** The UDP destination port. */
  port: u16.optional(),
  udp_csum: bit.optional(),
  udp_zero_csum6_tx: bit.optional(),
  udp_zero_csum6_rx: bit.optional(),
  remcsum_tx: bit.optional(),
  remcsum_rx: bit.optional(),
  gbp: presence.optional(),
  remcsum_nopartial: presence.optional(),
  collect_metadata: bit.optional(),
  /** IPv6 flow label: 20 bits. */
  label: int(0, 0xfffff).optional(),
  gpe: presence.optional(),
  ttl_inherit: bit.optional(),
  /** 0 unset, 1 set, 2 inherit. */
  df: int(0, 2).optional(),
  vnifilter: bit.optional(),
  localbypass: bit.optional(),
  /** 0 fixed, 1 inherit. */
  label_policy: int(0, 1).optional(),
});

/** macvlan / macvtap: `ip link add link v0 mv0 type macvlan mode bridge`. */
export const MacvlanData = options(
  'macvlan',
  macvlanData,
  {
    mode: choice(MACVLAN_MODES as Record<keyof typeof MACVLAN_MODES, number>, 'macvlan mode').optional(),
    flags: u16.optional(),
    /** 0 add, 1 delete, 2 flush, 3 set (the source-mode MAC list). */
    macaddr_mode: int(0, 3).optional(),
    macaddr: mac.optional(),
    macaddr_data: binary(MAX_BINARY).optional(),
    bc_queue_len: u32.optional(),
    bc_cutoff: s32.optional(),
  },
  ['macaddr_count', 'bc_queue_len_used'],
);

/** vlan: `ip link add link v0 v0.10 type vlan id 10 [protocol 802.1ad]`. */
export const VlanData = options('vlan', vlanData, {
  /** 0..4094 (4095 is reserved). */
  id: int(0, 4094).optional(),
  flags: spec({ flags: u32.optional(), mask: u32.optional() }).optional(),
  egress_qos: binary(MAX_BINARY).optional(),
  ingress_qos: binary(MAX_BINARY).optional(),
  protocol: vlanProtocol.optional(),
});

/** bond: `ip link add bond0 type bond mode active-backup miimon 100`. */
export const BondData = options(
  'bond',
  bondData,
  {
    mode: choice(BOND_MODES as Record<keyof typeof BOND_MODES, number>, 'bond mode').optional(),
    /** The active port's index. */
    active_slave: u32.optional(),
    miimon: u32.optional(),
    updelay: u32.optional(),
    downdelay: u32.optional(),
    use_carrier: bit.optional(),
    arp_interval: u32.optional(),
    arp_ip_target: binary(MAX_BINARY).optional(),
    /** 0 none, 1 active, 2 backup, 3 all, 4..6 filter variants. */
    arp_validate: int(0, 6).optional(),
    /** 0 any, 1 all. */
    arp_all_targets: int(0, 1).optional(),
    /** The primary port's index. */
    primary: u32.optional(),
    /** 0 always, 1 better, 2 failure. */
    primary_reselect: int(0, 2).optional(),
    /** 0 none, 1 active, 2 follow. */
    fail_over_mac: int(0, 2).optional(),
    /** 0 layer2, 1 layer3+4, 2 layer2+3, 3 encap2+3, 4 encap3+4, 5 vlan+srcmac. */
    xmit_hash_policy: int(0, 5).optional(),
    resend_igmp: int(0, 255).optional(),
    num_peer_notif: u8.optional(),
    all_slaves_active: bit.optional(),
    min_links: u32.optional(),
    lp_interval: int(1, 0x7fffffff).optional(),
    packets_per_slave: int(0, 65535).optional(),
    /** 0 slow, 1 fast. */
    ad_lacp_rate: bit.optional(),
    /** 0 stable, 1 bandwidth, 2 count. */
    ad_select: int(0, 2).optional(),
    ad_actor_sys_prio: int(1, 65535).optional(),
    ad_user_port_key: int(0, 1023).optional(),
    ad_actor_system: mac.optional(),
    tlb_dynamic_lb: bit.optional(),
    peer_notif_delay: u32.optional(),
    ad_lacp_active: bit.optional(),
    missed_max: int(1, 255).optional(),
    ns_ip6_target: binary(MAX_BINARY).optional(),
    coupled_control: bit.optional(),
  },
  ['ad_info'],
);

/** A bond port's options (`slave_data` with slave_kind 'bond'). */
export const BondPortData = options(
  'a bond port',
  bondPortData,
  {
    queue_id: u16.optional(),
    prio: s32.optional(),
  },
  [
    'state',
    'mii_status',
    'link_failure_count',
    'perm_hwaddr',
    'ad_aggregator_id',
    'ad_actor_oper_port_state',
    'ad_partner_oper_port_state',
  ],
);

/** tun/tap as IFLA_TUN_* (the kernel makes them through /dev/net/tun; it reports these). */
export const TunData = options('tun', tunData, {
  owner: u32.optional(),
  group: u32.optional(),
  /** 1 tun, 2 tap. */
  type: int(1, 2).optional(),
  pi: bit.optional(),
  vnet_hdr: bit.optional(),
  persist: bit.optional(),
  multi_queue: bit.optional(),
  num_queues: u32.optional(),
  num_disabled_queues: u32.optional(),
});

/** vrf: `ip link add vrf0 type vrf table 10`. */
export const VrfData = options('vrf', vrfData, { table: int(1, 0xffffffff).optional() });
export const VrfPortData = options('a vrf port', vrfPortData, { table: u32.optional() });

/** gre / gretap: `ip link add gre1 type gre remote 10.0.0.2 local 10.0.0.1 ttl 64`. */
export const GreData = options('gre', greData, {
  /** The underlay device's index. */
  link: u32.optional(),
  iflags: u16.optional(),
  oflags: u16.optional(),
  ikey: u32.optional(),
  okey: u32.optional(),
  local: ipAddress(4).optional(),
  remote: ipAddress(4).optional(),
  ttl: u8.optional(),
  tos: u8.optional(),
  pmtudisc: bit.optional(),
  encap_limit: u8.optional(),
  flowinfo: u32.optional(),
  flags: u32.optional(),
  encap_type: u16.optional(),
  encap_flags: u16.optional(),
  encap_sport: u16.optional(),
  encap_dport: u16.optional(),
  collect_metadata: presence.optional(),
  ignore_df: bit.optional(),
  fwmark: u32.optional(),
  /** ERSPAN session index: 20 bits. */
  erspan_index: int(0, 0xfffff).optional(),
  erspan_ver: int(0, 2).optional(),
  erspan_dir: bit.optional(),
  erspan_hwid: int(0, 63).optional(),
});

/** `data` per link kind; kinds not listed take none (veth takes `peer` instead). */
export const KIND_DATA = {
  bridge: BridgeData,
  vxlan: VxlanData,
  macvlan: MacvlanData,
  macvtap: MacvlanData,
  vlan: VlanData,
  bond: BondData,
  tun: TunData,
  vrf: VrfData,
  gre: GreData,
  gretap: GreData,
};

/** `slave_data` per port kind (`slave_kind`). */
export const PORT_DATA = {
  bridge: BridgePortData,
  bond: BondPortData,
  vrf: VrfPortData,
};

export type KindData = { [K in keyof typeof KIND_DATA]: z.input<(typeof KIND_DATA)[K]> };
export type PortData = { [K in keyof typeof PORT_DATA]: z.input<(typeof PORT_DATA)[K]> };
