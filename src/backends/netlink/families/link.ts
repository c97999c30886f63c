/**
 * Links: RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK with struct ifinfomsg.
 * iproute2 equivalent: `ip link add|set|del|show`.
 */
import { ValidationError } from '../../../errors.js';
import { type Attrs, type Body, type SchemaChoice, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, NLM_F } from '../constants.js';
import { type BuildContext, type Command, type Family, matchesAll, NEW_FLAGS, type Request } from './family.js';
import {
  BOND_MODES,
  bridgePortData,
  DATA_SCHEMAS,
  LINK_KINDS,
  MACVLAN_MODES,
  PORT_DATA_BY_SLAVE_KIND,
  PORT_DATA_SCHEMAS,
  portData,
} from './link-kinds.js';
import { ADDR_GEN_MODES, IFF_UP, OPERSTATES } from './names.js';
import { checkIfname, checkInt, checkKnownKeys, checkMac, checkMtu, checkObject, U32 } from './validate.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;

export const ifinfomsg = struct('ifinfomsg', 'family:u8 pad:u8 ifi_type:u16 index:s32 flags:u32 change:u32');

/** RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS: what iproute2 asks for in link requests. */
export const RTEXT_FILTER_VF = 1;
export const RTEXT_FILTER_SKIP_STATS = 8;

const kindSchemas: Record<string, import('../codec/attributes.js').Schema> = { ...DATA_SCHEMAS };

const linkinfo = schema('IFLA_INFO', [
  [1, 'kind', 'string'],
  [2, 'data', 'nested', { schema: { by: 'kind', schemas: kindSchemas } satisfies SchemaChoice }],
  [3, 'xstats', 'binary'],
  [4, 'slave_kind', 'string'],
  [5, 'slave_data', 'nested', { schema: { by: ['slave_kind', 'kind'], schemas: PORT_DATA_BY_SLAVE_KIND } }],
]);

const afSpec = schema('IFLA_AF_SPEC', [
  [2, 'inet', 'nested', { schema: schema('IFLA_INET', [[1, 'conf', 'binary']]) }],
  [
    10,
    'inet6',
    'nested',
    {
      schema: schema('IFLA_INET6', [
        [1, 'flags', 'u32'],
        [2, 'conf', 'binary'],
        [3, 'stats', 'binary'],
        [4, 'mcast', 'binary'],
        [5, 'cacheinfo', 'binary'],
        [6, 'icmp6stats', 'binary'],
        [7, 'token', 'ip'],
        [8, 'addr_gen_mode', 'u8'],
        [9, 'ra_mtu', 'u32'],
      ]),
    },
  ],
]);

const stats64 = struct(
  'rtnl_link_stats64',
  'rx_packets:u64 tx_packets:u64 rx_bytes:u64 tx_bytes:u64 rx_errors:u64 tx_errors:u64 rx_dropped:u64 ' +
    'tx_dropped:u64 multicast:u64 collisions:u64 rx_length_errors:u64 rx_over_errors:u64 rx_crc_errors:u64 ' +
    'rx_frame_errors:u64 rx_fifo_errors:u64 rx_missed_errors:u64 tx_aborted_errors:u64 tx_carrier_errors:u64 ' +
    'tx_fifo_errors:u64 tx_heartbeat_errors:u64 tx_window_errors:u64 rx_compressed:u64 tx_compressed:u64 ' +
    'rx_nohandler:u64 rx_otherhost_dropped:u64',
);

/** IFLA_* attributes of a link message. */
export const linkBody = schema(
  'IFLA',
  [
    [1, 'address', 'mac'],
    [2, 'broadcast', 'mac'],
    [3, 'ifname', 'asciiz'],
    [4, 'mtu', 'u32'],
    [5, 'link', 'u32'],
    [6, 'qdisc', 'asciiz'],
    [7, 'stats', 'binary'],
    [8, 'cost', 'u32'],
    [9, 'priority', 'u32'],
    [10, 'master', 'u32'],
    [11, 'wireless', 'binary'],
    [12, 'protinfo', 'nested', { schema: bridgePortData, nestedFlag: true }],
    [13, 'txqlen', 'u32'],
    [14, 'map', 'binary'],
    [15, 'weight', 'u32'],
    [16, 'operstate', 'u8'],
    [17, 'linkmode', 'u8'],
    [18, 'linkinfo', 'nested', { schema: linkinfo }],
    [19, 'net_ns_pid', 'u32'],
    [20, 'ifalias', 'string'],
    [21, 'num_vf', 'u32'],
    [22, 'vfinfo_list', 'binary'],
    [23, 'stats64', 'struct', { struct: stats64 }],
    [24, 'vf_ports', 'binary'],
    [25, 'port_self', 'binary'],
    [26, 'af_spec', 'nested', { schema: afSpec }],
    [27, 'group', 'u32'],
    [28, 'net_ns_fd', 'u32'],
    [29, 'ext_mask', 'u32'],
    [30, 'promiscuity', 'u32'],
    [31, 'num_tx_queues', 'u32'],
    [32, 'num_rx_queues', 'u32'],
    [33, 'carrier', 'u8'],
    [34, 'phys_port_id', 'binary'],
    [35, 'carrier_changes', 'u32'],
    [36, 'phys_switch_id', 'binary'],
    [37, 'link_netnsid', 's32'],
    [38, 'phys_port_name', 'asciiz'],
    [39, 'proto_down', 'u8'],
    [40, 'gso_max_segs', 'u32'],
    [41, 'gso_max_size', 'u32'],
    [42, 'pad', 'binary'],
    [43, 'xdp', 'binary'],
    [44, 'event', 'u32'],
    [45, 'new_netnsid', 's32'],
    [46, 'target_netnsid', 's32'],
    [47, 'carrier_up_count', 'u32'],
    [48, 'carrier_down_count', 'u32'],
    [49, 'new_ifindex', 's32'],
    [50, 'min_mtu', 'u32'],
    [51, 'max_mtu', 'u32'],
    [
      52,
      'prop_list',
      'nested',
      { schema: schema('IFLA_PROP', [[53, 'alt_ifname', 'asciiz', { array: true }]]), nestedFlag: true },
    ],
    [53, 'alt_ifname', 'asciiz'],
    [54, 'perm_address', 'mac'],
    [55, 'proto_down_reason', 'binary'],
    [56, 'parent_dev_name', 'asciiz'],
    [57, 'parent_dev_bus_name', 'asciiz'],
    [58, 'gro_max_size', 'u32'],
    [59, 'tso_max_size', 'u32'],
    [60, 'tso_max_segs', 'u32'],
    [61, 'allmulti', 'u32'],
    [62, 'devlink_port', 'binary'],
    [63, 'gso_ipv4_max_size', 'u32'],
    [64, 'gro_ipv4_max_size', 'u32'],
    [65, 'dpll_pin', 'binary'],
    [66, 'max_pacing_offload_horizon', 'u32'],
    [67, 'netns_immutable', 'u8'],
    [68, 'headroom', 'u16'],
    [69, 'tailroom', 'u16'],
  ],
  ifinfomsg,
);

// veth's INFO_DATA holds the peer: a whole ifinfomsg + IFLA attributes.
kindSchemas.veth = schema('VETH_INFO', [[1, 'peer', 'nested', { schema: linkBody }]]);

/** The record a link decodes to. */
export interface LinkRecord {
  index: number;
  ifname: string;
  /** IFF_* bits, as in `ip link` (UP, BROADCAST, LOWER_UP, ...). */
  flags: number;
  /** 'up' when IFF_UP is set (administratively up), else 'down'. */
  state: 'up' | 'down';
  operstate?: string | number;
  kind?: string;
  data?: Attrs;
  slave_kind?: string;
  slave_data?: Attrs;
  mtu?: number;
  address?: string;
  master?: number;
  link?: number;
  altnames?: string[];
  ifi_type: number;
  [attr: string]: unknown;
}

export function linkToRecord(body: Body): LinkRecord {
  const h = body.header;
  // The 32-bit stats and the ifmap duplicate stats64 or mean nothing on virtual links.
  const {
    linkinfo,
    prop_list,
    operstate,
    stats: _stats,
    map: _map,
    ...attrs
  } = body.attrs as Attrs & {
    linkinfo?: Attrs;
    prop_list?: { alt_ifname?: string[] };
    operstate?: number;
  };
  const rec: LinkRecord = {
    index: h.index as number,
    ifname: attrs.ifname as string,
    flags: h.flags as number,
    state: ((h.flags as number) & IFF_UP) !== 0 ? 'up' : 'down',
    ifi_type: h.ifi_type as number,
    ...attrs,
  };
  if (operstate !== undefined) rec.operstate = OPERSTATES.name(operstate);
  if (linkinfo) {
    if (linkinfo.kind !== undefined) rec.kind = linkinfo.kind as string;
    if (linkinfo.data !== undefined) rec.data = linkinfo.data as Attrs;
    if (linkinfo.slave_kind !== undefined) rec.slave_kind = linkinfo.slave_kind as string;
    if (linkinfo.slave_data !== undefined) rec.slave_data = linkinfo.slave_data as Attrs;
  }
  if (prop_list?.alt_ifname) rec.altnames = prop_list.alt_ifname;
  return rec;
}

/** Friendly spellings inside `data`, by kind: names for the kernel's numbers. */
const DATA_ENUMS: Record<string, Record<string, Record<string, number>>> = {
  macvlan: { mode: MACVLAN_MODES },
  macvtap: { mode: MACVLAN_MODES },
  bond: { mode: BOND_MODES },
};

const LINK_SPEC_KEYS = new Set([
  'addr_gen_mode',
  'index',
  'ifname',
  'newname',
  'kind',
  'data',
  'peer',
  'slave_kind',
  'slave_data',
  'state',
  'mtu',
  'address',
  'broadcast',
  'txqlen',
  'master',
  'link',
  'ifalias',
  'alias',
  'group',
  'netns',
  'net_ns_fd',
  'net_ns_pid',
  'flags',
  'change',
  'operstate',
  'linkmode',
  'num_tx_queues',
  'num_rx_queues',
  'gso_max_size',
  'gso_max_segs',
  'promiscuity',
  'carrier',
  'proto_down',
  'family',
  'ifi_type',
]);

function kindData(kind: string, data: unknown, field: string): Attrs {
  const obj = { ...checkObject(data, field) };
  const sch = DATA_SCHEMAS[kind as keyof typeof DATA_SCHEMAS];
  if (!sch) throw new ValidationError(`${field}: kind "${kind}" takes no data`, field);
  for (const [key, value] of Object.entries(obj)) {
    if (!sch.byName.has(key)) {
      throw new ValidationError(
        `${field}.${key}: not an option of ${kind} (known: ${sch.names().join(', ')})`,
        `${field}.${key}`,
      );
    }
    const names = DATA_ENUMS[kind]?.[key];
    if (names && typeof value === 'string') {
      const n = names[value];
      if (n === undefined) {
        throw new ValidationError(
          `${field}.${key}: "${value}" is not a ${kind} ${key} (one of ${Object.keys(names).join(', ')})`,
        );
      }
      obj[key] = n;
    }
  }
  return obj;
}

/** Builds the IFLA attributes and ifinfomsg header of a spec (the peer of a veth uses this too). */
async function linkAttrs(cmd: Command, spec: Record<string, unknown>, ctx: BuildContext, where: string): Promise<Body> {
  checkKnownKeys(spec, LINK_SPEC_KEYS, where);
  const header: Record<string, number> = { family: AF.UNSPEC, pad: 0, ifi_type: 0, index: 0, flags: 0, change: 0 };
  const attrs: Attrs = {};
  if (spec.index !== undefined) header.index = checkInt(spec.index, `${where}.index`, 1, 0x7fffffff);
  if (spec.flags !== undefined) header.flags = checkInt(spec.flags, `${where}.flags`, 0, U32);
  if (spec.change !== undefined) header.change = checkInt(spec.change, `${where}.change`, 0, U32);
  if (spec.state !== undefined) {
    if (spec.state !== 'up' && spec.state !== 'down') {
      throw new ValidationError(`${where}.state: expected 'up' or 'down', got ${JSON.stringify(spec.state)}`, 'state');
    }
    header.change = (header.change as number) | IFF_UP;
    header.flags = spec.state === 'up' ? (header.flags as number) | IFF_UP : (header.flags as number) & ~IFF_UP;
  }
  if (spec.ifname !== undefined) attrs.ifname = checkIfname(spec.ifname, `${where}.ifname`);
  if (spec.newname !== undefined) {
    if (header.index === 0) {
      if (attrs.ifname === undefined) throw new ValidationError(`${where}.newname: name the link to rename with ifname or index`);
      header.index = await ctx.index(attrs.ifname as string, `${where}.ifname`);
    }
    attrs.ifname = checkIfname(spec.newname, `${where}.newname`);
  }
  if (spec.txqlen !== undefined) attrs.txqlen = checkInt(spec.txqlen, `${where}.txqlen`, 0, U32);
  if (spec.operstate !== undefined) attrs.operstate = OPERSTATES.number(spec.operstate, `${where}.operstate`);
  if (spec.linkmode !== undefined) attrs.linkmode = checkInt(spec.linkmode, `${where}.linkmode`, 0, 1);
  if (spec.mtu !== undefined) attrs.mtu = checkMtu(spec.mtu, `${where}.mtu`);
  if (spec.address !== undefined) attrs.address = checkMac(spec.address, `${where}.address`);
  if (spec.broadcast !== undefined) attrs.broadcast = checkMac(spec.broadcast, `${where}.broadcast`);
  if (spec.link !== undefined) attrs.link = await ctx.index(spec.link as string | number, `${where}.link`);
  if (spec.master !== undefined) {
    attrs.master =
      spec.master === null || spec.master === 0 ? 0 : await ctx.index(spec.master as string | number, `${where}.master`);
  }
  const alias = spec.ifalias ?? spec.alias;
  if (alias !== undefined) {
    if (typeof alias !== 'string' || Buffer.byteLength(alias) > 255) {
      throw new ValidationError(`${where}.alias: expected a string of at most 255 bytes`, 'alias');
    }
    attrs.ifalias = alias;
  }
  if (spec.group !== undefined) attrs.group = checkInt(spec.group, `${where}.group`, 0, U32);
  for (const key of ['num_tx_queues', 'num_rx_queues', 'gso_max_size', 'gso_max_segs', 'promiscuity'] as const) {
    if (spec[key] !== undefined) attrs[key] = checkInt(spec[key], `${where}.${key}`, 0, U32);
  }
  for (const key of ['carrier', 'proto_down'] as const) {
    if (spec[key] !== undefined) attrs[key] = checkInt(Number(spec[key]), `${where}.${key}`, 0, 1);
  }
  if (spec.netns !== undefined) {
    if (typeof spec.netns === 'string') attrs.net_ns_fd = ctx.netnsFd(spec.netns);
    else if (typeof spec.netns === 'number') attrs.net_ns_pid = checkInt(spec.netns, `${where}.netns`, 1, 0x7fffffff);
    else throw new ValidationError(`${where}.netns: a namespace name or a pid`, 'netns');
  }
  if (spec.addr_gen_mode !== undefined) {
    // `ip link set X addrgenmode none`: how (and whether) the kernel makes IPv6 link-local addresses.
    attrs.af_spec = { inet6: { addr_gen_mode: ADDR_GEN_MODES.number(spec.addr_gen_mode, `${where}.addr_gen_mode`) } };
  }
  if (spec.net_ns_fd !== undefined) attrs.net_ns_fd = checkInt(spec.net_ns_fd, `${where}.net_ns_fd`, 0, 0x7fffffff);
  if (spec.net_ns_pid !== undefined) attrs.net_ns_pid = checkInt(spec.net_ns_pid, `${where}.net_ns_pid`, 1, 0x7fffffff);

  const linkinfo: Attrs = {};
  if (spec.kind !== undefined) {
    const kind = spec.kind as string;
    if (!(LINK_KINDS as readonly string[]).includes(kind)) {
      throw new ValidationError(
        `${where}.kind: unknown link kind ${JSON.stringify(kind)} (known: ${LINK_KINDS.join(', ')})`,
        'kind',
      );
    }
    linkinfo.kind = kind;
    if (kind === 'veth') {
      if (spec.data !== undefined) throw new ValidationError(`${where}.data: veth takes its options in 'peer'`, 'data');
      if (spec.peer !== undefined) {
        const peer = typeof spec.peer === 'string' ? { ifname: spec.peer } : checkObject(spec.peer, `${where}.peer`);
        linkinfo.data = { peer: await linkAttrs(cmd, peer, ctx, `${where}.peer`) };
      }
    } else if (spec.data !== undefined) {
      linkinfo.data = kindData(kind, spec.data, `${where}.data`);
    }
    if (kind === 'vxlan' && attrs.link !== undefined) {
      // `ip link add vx0 type vxlan ... dev v0`: a vxlan's lower device is its own option
      // (IFLA_VXLAN_LINK), not IFLA_LINK, which the vxlan driver ignores.
      linkinfo.data = { ...((linkinfo.data as Attrs | undefined) ?? {}), link: attrs.link };
      delete attrs.link;
    }
  } else if (spec.data !== undefined || spec.peer !== undefined) {
    throw new ValidationError(`${where}: 'data' and 'peer' need a 'kind'`, 'kind');
  }
  if (spec.peer !== undefined && spec.kind !== 'veth') {
    throw new ValidationError(`${where}.peer: only a veth has a peer`, 'peer');
  }
  if (spec.slave_kind !== undefined || spec.slave_data !== undefined) {
    const slaveKind = spec.slave_kind as string;
    const sch = PORT_DATA_SCHEMAS[slaveKind as keyof typeof PORT_DATA_SCHEMAS];
    if (!sch) {
      throw new ValidationError(
        `${where}.slave_kind: expected one of ${Object.keys(PORT_DATA_SCHEMAS).join(', ')}`,
        'slave_kind',
      );
    }
    // As `ip link set dev P type bridge_slave ...`: INFO_KIND "<kind>_slave", no INFO_SLAVE_KIND.
    if (linkinfo.kind === undefined) linkinfo.kind = `${slaveKind}_slave`;
    else linkinfo.slave_kind = slaveKind;
    if (spec.slave_data !== undefined) {
      linkinfo.slave_data = portData(slaveKind, checkObject(spec.slave_data, `${where}.slave_data`), where);
    }
  }
  if (Object.keys(linkinfo).length) attrs.linkinfo = linkinfo;
  return { header, attrs: inIproute2Order(attrs) };
}

/** The order `ip link` writes attributes in, so our requests are byte-identical to its. */
const ATTR_ORDER = [
  'link',
  'ifname',
  'address',
  'broadcast',
  'mtu',
  'txqlen',
  'operstate',
  'linkmode',
  'master',
  'ifalias',
  'group',
  'num_tx_queues',
  'num_rx_queues',
  'gso_max_size',
  'gso_max_segs',
  'promiscuity',
  'carrier',
  'proto_down',
  'net_ns_fd',
  'net_ns_pid',
  'af_spec',
  'linkinfo',
];

/** Known attributes in iproute2's order; any other keeps its place after them (never dropped). */
function inIproute2Order(attrs: Attrs): Attrs {
  const out: Attrs = {};
  for (const key of ATTR_ORDER) if (attrs[key] !== undefined) out[key] = attrs[key];
  for (const [key, value] of Object.entries(attrs)) if (!(key in out)) out[key] = value;
  return out;
}

async function build(cmd: Command, spec: Record<string, unknown>, ctx: BuildContext): Promise<Request> {
  if (cmd === 'dump') {
    const body = await linkAttrs(cmd, {}, ctx, 'link');
    body.attrs.ext_mask = RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS;
    // Kernel-side filters (strict checking): by master and by kind.
    if (spec.master !== undefined) body.attrs.master = await ctx.index(spec.master as string | number, 'master');
    if (typeof spec.kind === 'string') body.attrs.linkinfo = { kind: spec.kind };
    return { type: RTM_GETLINK, flags: NEW_FLAGS.dump, body, strict: true };
  }
  const body = await linkAttrs(cmd, spec, ctx, 'link');
  if (cmd === 'add') {
    if (spec.ifname === undefined) throw new ValidationError('link add: ifname is required', 'ifname');
    if (spec.kind === undefined) throw new ValidationError('link add: kind is required', 'kind');
    return { type: RTM_NEWLINK, flags: NEW_FLAGS.add, body };
  }
  if (body.header.index === 0 && spec.ifname === undefined) {
    throw new ValidationError(`link ${cmd}: name the link with ifname or index`, 'ifname');
  }
  if ((cmd === 'set' || cmd === 'del') && body.header.index === 0) {
    // As `ip link set dev X` / `ip link del X`: address the link by index, resolved first,
    // so an unknown name is a clear error before any change is attempted.
    body.header.index = await ctx.index(spec.ifname as string, 'ifname');
    if (spec.newname === undefined) body.attrs = omit(body.attrs, 'ifname');
  }
  switch (cmd) {
    case 'set':
      return { type: RTM_NEWLINK, flags: NLM_F.REQUEST | NLM_F.ACK, body };
    case 'replace':
      return { type: RTM_NEWLINK, flags: NEW_FLAGS.replace, body };
    case 'del':
      return { type: RTM_DELLINK, flags: NEW_FLAGS.del, body };
    case 'get':
      body.attrs.ext_mask = RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS;
      return { type: RTM_GETLINK, flags: NEW_FLAGS.get, body };
  }
}

function omit(attrs: Attrs, key: string): Attrs {
  const { [key]: _dropped, ...rest } = attrs;
  return rest;
}

async function filter(spec: Record<string, unknown>, ctx: BuildContext): Promise<(r: LinkRecord) => boolean> {
  const wanted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'master' || key === 'link') wanted[key] = await ctx.index(value as string | number, key);
    else wanted[key] = value;
  }
  return (r) => matchesAll(r, wanted);
}

export const link: Family<LinkRecord> = {
  name: 'link',
  types: { new: RTM_NEWLINK, del: RTM_DELLINK, get: RTM_GETLINK },
  body: linkBody,
  build,
  toRecord: linkToRecord,
  filter,
};
