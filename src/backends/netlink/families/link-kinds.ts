/**
 * IFLA_INFO_DATA and IFLA_INFO_SLAVE_DATA per link kind, as data.
 * Names are the kernel's IFLA_<KIND>_* constants, lower-cased and without
 * their prefix (IFLA_VXLAN_PORT_RANGE -> port_range), as pyroute2 names them.
 * The iproute2 equivalent of each is `ip link add ... type <kind> ...`.
 */
import { ValidationError } from '../../../errors.js';
import { type Schema, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';

/** veth: the peer is a whole ifinfomsg + IFLA attributes; see link.ts. */
export const VETH_INFO_PEER = 1;

const bridgeId = struct('ifla_bridge_id', 'prio_hi:u8 prio_lo:u8 a0:u8 a1:u8 a2:u8 a3:u8 a4:u8 a5:u8');

export const bridgeData = schema('IFLA_BR', [
  [1, 'forward_delay', 'u32'],
  [2, 'hello_time', 'u32'],
  [3, 'max_age', 'u32'],
  [4, 'ageing_time', 'u32'],
  [5, 'stp_state', 'u32'],
  [6, 'priority', 'u16'],
  [7, 'vlan_filtering', 'u8'],
  [8, 'vlan_protocol', 'be16'],
  [9, 'group_fwd_mask', 'u16'],
  [10, 'root_id', 'struct', { struct: bridgeId }],
  [11, 'bridge_id', 'struct', { struct: bridgeId }],
  [12, 'root_port', 'u16'],
  [13, 'root_path_cost', 'u32'],
  [14, 'topology_change', 'u8'],
  [15, 'topology_change_detected', 'u8'],
  [16, 'hello_timer', 'u64'],
  [17, 'tcn_timer', 'u64'],
  [18, 'topology_change_timer', 'u64'],
  [19, 'gc_timer', 'u64'],
  [20, 'group_addr', 'mac'],
  [21, 'fdb_flush', 'flag'],
  [22, 'mcast_router', 'u8'],
  [23, 'mcast_snooping', 'u8'],
  [24, 'mcast_query_use_ifaddr', 'u8'],
  [25, 'mcast_querier', 'u8'],
  [26, 'mcast_hash_elasticity', 'u32'],
  [27, 'mcast_hash_max', 'u32'],
  [28, 'mcast_last_member_cnt', 'u32'],
  [29, 'mcast_startup_query_cnt', 'u32'],
  [30, 'mcast_last_member_intvl', 'u64'],
  [31, 'mcast_membership_intvl', 'u64'],
  [32, 'mcast_querier_intvl', 'u64'],
  [33, 'mcast_query_intvl', 'u64'],
  [34, 'mcast_query_response_intvl', 'u64'],
  [35, 'mcast_startup_query_intvl', 'u64'],
  [36, 'nf_call_iptables', 'u8'],
  [37, 'nf_call_ip6tables', 'u8'],
  [38, 'nf_call_arptables', 'u8'],
  [39, 'vlan_default_pvid', 'u16'],
  [40, 'pad', 'binary'],
  [41, 'vlan_stats_enabled', 'u8'],
  [42, 'mcast_stats_enabled', 'u8'],
  [43, 'mcast_igmp_version', 'u8'],
  [44, 'mcast_mld_version', 'u8'],
  [45, 'vlan_stats_per_port', 'u8'],
  [46, 'multi_boolopt', 'struct', { struct: struct('br_boolopt_multi', 'optval:u32 optmask:u32') }],
  [47, 'mcast_querier_state', 'binary'],
  [48, 'fdb_n_learned', 'u32'],
  [49, 'fdb_max_learned', 'u32'],
]);

export const bridgePortData = schema('IFLA_BRPORT', [
  [1, 'state', 'u8'],
  [2, 'priority', 'u16'],
  [3, 'cost', 'u32'],
  [4, 'mode', 'u8'],
  [5, 'guard', 'u8'],
  [6, 'protect', 'u8'],
  [7, 'fast_leave', 'u8'],
  [8, 'learning', 'u8'],
  [9, 'unicast_flood', 'u8'],
  [10, 'proxyarp', 'u8'],
  [11, 'learning_sync', 'u8'],
  [12, 'proxyarp_wifi', 'u8'],
  [13, 'root_id', 'struct', { struct: bridgeId }],
  [14, 'bridge_id', 'struct', { struct: bridgeId }],
  [15, 'designated_port', 'u16'],
  [16, 'designated_cost', 'u16'],
  [17, 'id', 'u16'],
  [18, 'no', 'u16'],
  [19, 'topology_change_ack', 'u8'],
  [20, 'config_pending', 'u8'],
  [21, 'message_age_timer', 'u64'],
  [22, 'forward_delay_timer', 'u64'],
  [23, 'hold_timer', 'u64'],
  [24, 'flush', 'flag'],
  [25, 'multicast_router', 'u8'],
  [26, 'pad', 'binary'],
  [27, 'mcast_flood', 'u8'],
  [28, 'mcast_to_ucast', 'u8'],
  [29, 'vlan_tunnel', 'u8'],
  [30, 'bcast_flood', 'u8'],
  [31, 'group_fwd_mask', 'u16'],
  [32, 'neigh_suppress', 'u8'],
  [33, 'isolated', 'u8'],
  [34, 'backup_port', 'u32'],
  [35, 'mrp_ring_open', 'u8'],
  [36, 'mrp_in_open', 'u8'],
  [37, 'mcast_eht_hosts_limit', 'u32'],
  [38, 'mcast_eht_hosts_cnt', 'u32'],
  [39, 'locked', 'u8'],
  [40, 'mab', 'u8'],
  [41, 'mcast_n_groups', 'u32'],
  [42, 'mcast_max_groups', 'u32'],
  [43, 'neigh_vlan_suppress', 'u8'],
  [44, 'backup_nhid', 'u32'],
]);

export const vxlanData = schema('IFLA_VXLAN', [
  [1, 'id', 'u32'],
  [2, 'group', 'ip'],
  [3, 'link', 'u32'],
  [4, 'local', 'ip'],
  [5, 'ttl', 'u8'],
  [6, 'tos', 'u8'],
  [7, 'learning', 'u8'],
  [8, 'ageing', 'u32'],
  [9, 'limit', 'u32'],
  [10, 'port_range', 'struct', { struct: struct('ifla_vxlan_port_range', 'low:be16 high:be16') }],
  [11, 'proxy', 'u8'],
  [12, 'rsc', 'u8'],
  [13, 'l2miss', 'u8'],
  [14, 'l3miss', 'u8'],
  [15, 'port', 'be16'],
  [16, 'group6', 'ip'],
  [17, 'local6', 'ip'],
  [18, 'udp_csum', 'u8'],
  [19, 'udp_zero_csum6_tx', 'u8'],
  [20, 'udp_zero_csum6_rx', 'u8'],
  [21, 'remcsum_tx', 'u8'],
  [22, 'remcsum_rx', 'u8'],
  [23, 'gbp', 'flag'],
  [24, 'remcsum_nopartial', 'flag'],
  [25, 'collect_metadata', 'u8'],
  [26, 'label', 'be32'],
  [27, 'gpe', 'flag'],
  [28, 'ttl_inherit', 'u8'],
  [29, 'df', 'u8'],
  [30, 'vnifilter', 'u8'],
  [31, 'localbypass', 'u8'],
  [32, 'label_policy', 'u32'],
]);

export const macvlanData = schema('IFLA_MACVLAN', [
  [1, 'mode', 'u32'],
  [2, 'flags', 'u16'],
  [3, 'macaddr_mode', 'u32'],
  [4, 'macaddr', 'mac'],
  [5, 'macaddr_data', 'binary'],
  [6, 'macaddr_count', 'u32'],
  [7, 'bc_queue_len', 'u32'],
  [8, 'bc_queue_len_used', 'u32'],
  [9, 'bc_cutoff', 's32'],
]);

export const vlanData = schema('IFLA_VLAN', [
  [1, 'id', 'u16'],
  [2, 'flags', 'struct', { struct: struct('ifla_vlan_flags', 'flags:u32 mask:u32') }],
  [3, 'egress_qos', 'binary'],
  [4, 'ingress_qos', 'binary'],
  [5, 'protocol', 'be16'],
]);

export const bondData = schema('IFLA_BOND', [
  [1, 'mode', 'u8'],
  [2, 'active_slave', 'u32'],
  [3, 'miimon', 'u32'],
  [4, 'updelay', 'u32'],
  [5, 'downdelay', 'u32'],
  [6, 'use_carrier', 'u8'],
  [7, 'arp_interval', 'u32'],
  [8, 'arp_ip_target', 'binary'],
  [9, 'arp_validate', 'u32'],
  [10, 'arp_all_targets', 'u32'],
  [11, 'primary', 'u32'],
  [12, 'primary_reselect', 'u8'],
  [13, 'fail_over_mac', 'u8'],
  [14, 'xmit_hash_policy', 'u8'],
  [15, 'resend_igmp', 'u32'],
  [16, 'num_peer_notif', 'u8'],
  [17, 'all_slaves_active', 'u8'],
  [18, 'min_links', 'u32'],
  [19, 'lp_interval', 'u32'],
  [20, 'packets_per_slave', 'u32'],
  [21, 'ad_lacp_rate', 'u8'],
  [22, 'ad_select', 'u8'],
  [23, 'ad_info', 'binary'],
  [24, 'ad_actor_sys_prio', 'u16'],
  [25, 'ad_user_port_key', 'u16'],
  [26, 'ad_actor_system', 'mac'],
  [27, 'tlb_dynamic_lb', 'u8'],
  [28, 'peer_notif_delay', 'u32'],
  [29, 'ad_lacp_active', 'u8'],
  [30, 'missed_max', 'u8'],
  [31, 'ns_ip6_target', 'binary'],
  [32, 'coupled_control', 'u8'],
]);

export const bondPortData = schema('IFLA_BOND_SLAVE', [
  [1, 'state', 'u8'],
  [2, 'mii_status', 'u8'],
  [3, 'link_failure_count', 'u32'],
  [4, 'perm_hwaddr', 'mac'],
  [5, 'queue_id', 'u16'],
  [6, 'ad_aggregator_id', 'u16'],
  [7, 'ad_actor_oper_port_state', 'u8'],
  [8, 'ad_partner_oper_port_state', 'u16'],
  [9, 'prio', 's32'],
]);

export const tunData = schema('IFLA_TUN', [
  [1, 'owner', 'u32'],
  [2, 'group', 'u32'],
  [3, 'type', 'u8'],
  [4, 'pi', 'u8'],
  [5, 'vnet_hdr', 'u8'],
  [6, 'persist', 'u8'],
  [7, 'multi_queue', 'u8'],
  [8, 'num_queues', 'u32'],
  [9, 'num_disabled_queues', 'u32'],
]);

export const vrfData = schema('IFLA_VRF', [[1, 'table', 'u32']]);
export const vrfPortData = schema('IFLA_VRF_PORT', [[1, 'table', 'u32']]);

export const greData = schema('IFLA_GRE', [
  [1, 'link', 'u32'],
  [2, 'iflags', 'be16'],
  [3, 'oflags', 'be16'],
  [4, 'ikey', 'be32'],
  [5, 'okey', 'be32'],
  [6, 'local', 'ip'],
  [7, 'remote', 'ip'],
  [8, 'ttl', 'u8'],
  [9, 'tos', 'u8'],
  [10, 'pmtudisc', 'u8'],
  [11, 'encap_limit', 'u8'],
  [12, 'flowinfo', 'be32'],
  [13, 'flags', 'u32'],
  [14, 'encap_type', 'u16'],
  [15, 'encap_flags', 'u16'],
  [16, 'encap_sport', 'be16'],
  [17, 'encap_dport', 'be16'],
  [18, 'collect_metadata', 'flag'],
  [19, 'ignore_df', 'u8'],
  [20, 'fwmark', 'u32'],
  [21, 'erspan_index', 'u32'],
  [22, 'erspan_ver', 'u8'],
  [23, 'erspan_dir', 'u8'],
  [24, 'erspan_hwid', 'u16'],
]);

/** Kinds with no IFLA_INFO_DATA of their own: dummy, ifb, and anything unknown. */
export const DATA_SCHEMAS = {
  bridge: bridgeData,
  vxlan: vxlanData,
  macvlan: macvlanData,
  macvtap: macvlanData,
  vlan: vlanData,
  bond: bondData,
  tun: tunData,
  vrf: vrfData,
  gre: greData,
  gretap: greData,
};

export const PORT_DATA_SCHEMAS = {
  bridge: bridgePortData,
  bond: bondPortData,
  vrf: vrfPortData,
};

/**
 * Port options go out as iproute2 sends them: `ip link set dev P type
 * bridge_slave cost 5` is IFLA_INFO_KIND "bridge_slave" + IFLA_INFO_SLAVE_DATA,
 * with no IFLA_INFO_SLAVE_KIND (the kernel parses the data by the master's
 * kind and ignores that INFO_KIND for an existing link). So slave data is
 * decoded by IFLA_INFO_SLAVE_KIND in the kernel's messages and by
 * "<kind>_slave" in requests.
 */
export const PORT_DATA_BY_SLAVE_KIND: Record<string, Schema> = {
  ...PORT_DATA_SCHEMAS,
  bridge_slave: bridgePortData,
  bond_slave: bondPortData,
  vrf_slave: vrfPortData,
};

/** iproute2's names for bridge port options (`... type bridge_slave flood off`), mapped to the kernel's. */
export const BRIDGE_PORT_ALIASES: Record<string, string> = {
  hairpin: 'mode',
  root_block: 'protect',
  fastleave: 'fast_leave',
  mcast_fast_leave: 'fast_leave',
  flood: 'unicast_flood',
  proxy_arp: 'proxyarp',
  proxy_arp_wifi: 'proxyarp_wifi',
  mcast_router: 'multicast_router',
  mcast_to_unicast: 'mcast_to_ucast',
  fdb_flush: 'flush',
};

/** STP port states (IFLA_BRPORT_STATE), as `bridge link` names them. */
export const BRIDGE_PORT_STATES: Record<string, number> = {
  disabled: 0,
  listening: 1,
  learning: 2,
  forwarding: 3,
  blocking: 4,
};

const PORT_ALIASES: Record<string, Record<string, string>> = { bridge: BRIDGE_PORT_ALIASES };
const PORT_ENUMS: Record<string, Record<string, Record<string, number>>> = { bridge: { state: BRIDGE_PORT_STATES } };

/**
 * A port's options (`slave_data`) in the kernel's names: iproute2's names are
 * accepted (flood -> unicast_flood) and named values become numbers (state
 * 'forwarding' -> 3); the declaration in link-options.ts then checks them.
 * Order is kept: it is the order on the wire, as iproute2 keeps its
 * arguments' order.
 */
export function portNames(slaveKind: string, data: unknown, where: string): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  const aliases = Object.hasOwn(PORT_ALIASES, slaveKind) ? PORT_ALIASES[slaveKind] : undefined;
  const enums = Object.hasOwn(PORT_ENUMS, slaveKind) ? PORT_ENUMS[slaveKind] : undefined;
  const out: Record<string, unknown> = {};
  for (const [given, value] of Object.entries(data)) {
    const key = aliases && Object.hasOwn(aliases, given) ? (aliases[given] as string) : given;
    if (Object.hasOwn(out, key)) {
      throw new ValidationError(`${where}.slave_data.${given}: ${key} is given twice (under two names)`, `slave_data.${given}`);
    }
    const names = enums && Object.hasOwn(enums, key) ? enums[key] : undefined;
    if (names && typeof value === 'string') {
      if (!Object.hasOwn(names, value)) {
        throw new ValidationError(
          `${where}.slave_data.${given}: "${value}" is not one of ${Object.keys(names).join(', ')}`,
          `slave_data.${given}`,
        );
      }
      out[key] = names[value];
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Link kinds the spec layer accepts in `kind` (the kernel may still lack some). */
export const LINK_KINDS = [
  'veth',
  'bridge',
  'vxlan',
  'macvlan',
  'macvtap',
  'vlan',
  'bond',
  'dummy',
  'tun',
  'ifb',
  'vrf',
  'gre',
  'gretap',
] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

/** macvlan modes, `ip link add ... type macvlan mode bridge`. */
export const MACVLAN_MODES: Record<string, number> = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 };
/** bond modes, `ip link add ... type bond mode active-backup`. */
export const BOND_MODES: Record<string, number> = {
  'balance-rr': 0,
  'active-backup': 1,
  'balance-xor': 2,
  broadcast: 3,
  '802.3ad': 4,
  'balance-tlb': 5,
  'balance-alb': 6,
};
