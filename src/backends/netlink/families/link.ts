/**
 * Links: RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK with struct ifinfomsg.
 * iproute2 equivalent: `ip link add|set|del|show`.
 */
import { ValidationError } from '../../../errors.js';
import {
  field,
  flag,
  ifindex,
  ifname,
  ifRef,
  inInputOrder,
  int,
  linkState,
  mac,
  mtu,
  parseIfRef,
  parseSpec,
  passedThrough,
  Refusal,
  shown,
  spec,
  text,
  u32,
  type z,
} from '../../schema.js';
import { formatMac, parseMac } from '../codec/address.js';
import { type Attrs, type Body, type SchemaChoice, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, NLM_F } from '../constants.js';
import { type BuildContext, type Command, either, type Family, keepMatching, NEW_FLAGS, type Request } from './family.js';
import { bridgePortData, DATA_SCHEMAS, LINK_KINDS, type LinkKind, PORT_DATA_BY_SLAVE_KIND, portNames } from './link-kinds.js';
import { KIND_DATA, type KindData, PORT_DATA, type PortData } from './link-options.js';
import { ADDR_GEN_MODES, IFF_UP, OPERSTATES } from './names.js';

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

/**
 * The record a link decodes to. Fields without `?` are in every link message
 * of this kernel (6.18): a dump, a get, and every RTM_NEWLINK / RTM_DELLINK event.
 */
export interface LinkRecord {
  index: number;
  ifname: string;
  /** IFF_* bits, as in `ip link` (UP, BROADCAST, LOWER_UP, ...). */
  flags: number;
  /** 'up' when IFF_UP is set (administratively up), else 'down'. */
  state: 'up' | 'down';
  /** ARPHRD_* (1 ethernet, 772 loopback). */
  ifi_type: number;
  /** RFC 2863 state by name: UNKNOWN, DOWN, LOWERLAYERDOWN, UP, DORMANT, ... (a number if unnamed). */
  operstate: string | number;
  mtu: number;
  txqlen: number;
  linkmode: number;
  group: number;
  promiscuity: number;
  num_tx_queues: number;
  num_rx_queues: number;
  /** 1 when the link has carrier. */
  carrier: number;
  proto_down: number;
  min_mtu?: number;
  max_mtu?: number;
  kind?: string;
  data?: Attrs;
  slave_kind?: string;
  slave_data?: Attrs;
  /** Link-layer address (links without one, such as ipip, have none). */
  address?: string;
  broadcast?: string;
  perm_address?: string;
  master?: number;
  /** The link this one sits on (a veth's peer), by index; in another namespace when link_netnsid is set. */
  link?: number;
  link_netnsid?: number;
  ifalias?: string;
  qdisc?: string;
  altnames?: string[];
  af_spec?: Attrs;
  stats64?: Record<string, number>;
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
  // mtu, txqlen, operstate, ... come from attributes every link message carries.
  const rec = {
    index: h.index as number,
    ifname: attrs.ifname as string,
    flags: h.flags as number,
    state: ((h.flags as number) & IFF_UP) !== 0 ? 'up' : 'down',
    ifi_type: h.ifi_type as number,
    ...attrs,
  } as LinkRecord;
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

/** A namespace to move the link into: its name (/run/netns/NAME) or a process id in it. */
const netnsRef = field<string | number, string | number>((v) => {
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= 1 && v <= 0x7fffffff ? v : new Refusal(`${shown(v)} is not a process id`);
  }
  if (typeof v === 'string' && v.length > 0 && v.length <= 255 && v !== '.' && v !== '..' && !/[/\0]/.test(v)) return v;
  return new Refusal(`expected a namespace name or a process id, got ${shown(v)}`);
});

/** An options object, checked against its kind's declaration once the kind is known. */
const optionsObject = field<object, Record<string, unknown>>((v) =>
  v !== null && typeof v === 'object' && !Array.isArray(v)
    ? passedThrough(v as Record<string, unknown>, 'an object of options')
    : new Refusal(`expected an object of options, got ${shown(v)}`),
);

/** `master: null` or `0` detaches a port (`ip link set X nomaster`). */
const masterRef = field<string | number | null, string | number | null>((v) => {
  if (v === null || v === 0) return null;
  if (typeof v === 'string' || typeof v === 'number') return parseIfRef(v);
  return new Refusal(`expected an interface name or index, or null for none, got ${shown(v)}`);
});

/** The attributes of a link that any spec may set (the peer of a veth too). */
const linkFields = {
  /** Names the link by index (or, with `add`, asks for that index). */
  index: ifindex.optional(),
  ifname: ifname.optional(),
  /** Renames the link named by ifname or index. */
  newname: ifname.optional(),
  state: linkState.optional(),
  mtu: mtu.optional(),
  address: mac.optional(),
  broadcast: mac.optional(),
  txqlen: u32.optional(),
  /** The bridge, bond or VRF this link is a port of (by name or index); null or 0 for none. */
  master: masterRef.optional(),
  /** The link this one sits on (macvlan, vlan, ...), by name or index. */
  link: ifRef.optional(),
  ifalias: text(255, 'an alias').optional(),
  /** iproute2's name of ifalias. */
  alias: text(255, 'an alias').optional(),
  group: u32.optional(),
  /** Moves the link to a namespace, by name or by a process id in it. */
  netns: netnsRef.optional(),
  net_ns_fd: int(0, 0x7fffffff).optional(),
  net_ns_pid: int(1, 0x7fffffff).optional(),
  /** IFF_* bits set in ifinfomsg, under the mask `change`. */
  flags: u32.optional(),
  change: u32.optional(),
  operstate: OPERSTATES.field(6).optional(),
  /** 0 default, 1 dormant, 2 testing. */
  linkmode: int(0, 2).optional(),
  num_tx_queues: int(1, 4096).optional(),
  num_rx_queues: int(1, 4096).optional(),
  gso_max_size: u32.optional(),
  gso_max_segs: u32.optional(),
  promiscuity: u32.optional(),
  carrier: flag.optional(),
  proto_down: flag.optional(),
  /** How the kernel makes IPv6 link-local addresses: eui64, none, stable_secret, random. */
  addr_gen_mode: ADDR_GEN_MODES.field(3).optional(),
};

/** The other end of a veth: its name, or the attributes it is created with. */
export const PeerSpec = spec(linkFields);
export type PeerSpec = z.input<typeof PeerSpec>;

const LinkSpecSchema = spec({
  ...linkFields,
  kind: literalOf(LINK_KINDS, 'link kind').optional(),
  /** The kind's options (IFLA_INFO_DATA): see link-options.ts. */
  data: optionsObject.optional(),
  /** A veth's other end: a name, or `{ ifname, netns, ... }`. */
  peer: field<string | PeerSpec, string | Record<string, unknown>>((v) => {
    if (typeof v === 'string') return v;
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      return passedThrough(v as Record<string, unknown>, "the peer's attributes");
    return new Refusal(`expected the peer's name or its attributes, got ${shown(v)}`);
  }).optional(),
  /** The kind of master this link is a port of: bridge, bond, vrf (for slave_data). */
  slave_kind: literalOf(Object.keys(PORT_DATA) as (keyof typeof PORT_DATA)[], 'port kind').optional(),
  /** Port options (IFLA_INFO_SLAVE_DATA): see link-options.ts. */
  slave_data: optionsObject.optional(),
});

/** What data goes with which kind (a typo in an option fails at compile time too). */
type KindPart =
  | { [K in keyof KindData]: { kind: K; data?: KindData[K]; peer?: undefined } }[keyof KindData]
  | { kind: 'veth'; data?: undefined; peer?: string | PeerSpec }
  | { kind?: Exclude<LinkKind, keyof KindData | 'veth'>; data?: undefined; peer?: undefined };
type PortPart =
  | { [K in keyof PortData]: { slave_kind: K; slave_data?: PortData[K] } }[keyof PortData]
  | { slave_kind?: undefined; slave_data?: undefined };

/** `link add|set|replace`: like `ip link add v0 type veth peer name v1`, `ip link set v0 up mtu 1400`. */
export type LinkSpec = Omit<z.input<typeof LinkSpecSchema>, 'kind' | 'data' | 'peer' | 'slave_kind' | 'slave_data'> &
  KindPart &
  PortPart;
export const LinkSpec = LinkSpecSchema;

/** `link get|del`: one link, by name or index. */
export const LinkKey = spec({ ifname: ifname.optional(), index: ifindex.optional() });
export type LinkKey = z.input<typeof LinkKey>;

/** `link dump`: by master and kind in the kernel, the rest in record terms. */
export const LinkFilter = spec({
  ifname: ifname.optional(),
  index: ifindex.optional(),
  kind: text(15, 'a link kind').optional(),
  slave_kind: text(15, 'a port kind').optional(),
  /** Ports of this master, by name or index. */
  master: ifRef.optional(),
  link: ifRef.optional(),
  state: linkState.optional(),
  operstate: OPERSTATES.field(6).optional(),
  mtu: u32.optional(),
  address: mac.optional(),
  txqlen: u32.optional(),
  group: u32.optional(),
  ifalias: text(255, 'an alias').optional(),
  alias: text(255, 'an alias').optional(),
});
export type LinkFilter = z.input<typeof LinkFilter>;

/** One of a fixed list of names. */
function literalOf<K extends string>(names: readonly K[], what: string) {
  return field<K, K>((v) =>
    typeof v === 'string' && (names as readonly string[]).includes(v)
      ? (v as K)
      : new Refusal(`unknown ${what} ${shown(v)} (known: ${names.join(', ')})`),
  );
}

type LinkFields = z.output<typeof PeerSpec> & Partial<z.output<typeof LinkSpecSchema>>;

/** Builds the IFLA attributes and ifinfomsg header of a spec (the peer of a veth uses this too). */
async function linkAttrs(s: LinkFields, ctx: BuildContext, where: string): Promise<Body> {
  const header: Record<string, number> = { family: AF.UNSPEC, pad: 0, ifi_type: 0, index: 0, flags: 0, change: 0 };
  const attrs: Attrs = {};
  if (s.index !== undefined) header.index = s.index;
  if (s.flags !== undefined) header.flags = s.flags;
  if (s.change !== undefined) header.change = s.change;
  if (s.state !== undefined) {
    header.change = (header.change as number) | IFF_UP;
    header.flags = s.state === 'up' ? (header.flags as number) | IFF_UP : (header.flags as number) & ~IFF_UP;
  }
  if (s.ifname !== undefined) attrs.ifname = s.ifname;
  if (s.newname !== undefined) {
    if (header.index === 0) {
      if (s.ifname === undefined)
        throw new ValidationError(`${where}.newname: name the link to rename with ifname or index`, 'newname');
      header.index = await ctx.index(s.ifname, `${where}.ifname`);
    }
    attrs.ifname = s.newname;
  }
  if (s.txqlen !== undefined) attrs.txqlen = s.txqlen;
  if (s.operstate !== undefined) attrs.operstate = s.operstate;
  if (s.linkmode !== undefined) attrs.linkmode = s.linkmode;
  if (s.mtu !== undefined) attrs.mtu = s.mtu;
  if (s.address !== undefined) attrs.address = s.address;
  if (s.broadcast !== undefined) attrs.broadcast = s.broadcast;
  if (s.link !== undefined) attrs.link = await ctx.index(s.link, `${where}.link`);
  if (s.master !== undefined) attrs.master = s.master === null ? 0 : await ctx.index(s.master, `${where}.master`);
  const alias = either(s.ifalias, s.alias, 'ifalias', 'alias');
  if (alias !== undefined) attrs.ifalias = alias;
  if (s.group !== undefined) attrs.group = s.group;
  for (const key of ['num_tx_queues', 'num_rx_queues', 'gso_max_size', 'gso_max_segs', 'promiscuity'] as const) {
    if (s[key] !== undefined) attrs[key] = s[key];
  }
  if (s.carrier !== undefined) attrs.carrier = s.carrier ? 1 : 0;
  if (s.proto_down !== undefined) attrs.proto_down = s.proto_down ? 1 : 0;
  if (s.netns !== undefined) {
    if (typeof s.netns === 'string') attrs.net_ns_fd = ctx.netnsFd(s.netns);
    else attrs.net_ns_pid = s.netns;
  }
  // `ip link set X addrgenmode none`: how (and whether) the kernel makes IPv6 link-local addresses.
  if (s.addr_gen_mode !== undefined) attrs.af_spec = { inet6: { addr_gen_mode: s.addr_gen_mode } };
  if (s.net_ns_fd !== undefined) attrs.net_ns_fd = s.net_ns_fd;
  if (s.net_ns_pid !== undefined) attrs.net_ns_pid = s.net_ns_pid;

  const linkinfo: Attrs = {};
  if (s.kind !== undefined) {
    linkinfo.kind = s.kind;
    if (s.kind === 'veth') {
      if (s.data !== undefined) throw new ValidationError(`${where}.data: veth takes its options in 'peer'`, 'data');
      if (s.peer !== undefined) {
        const peer =
          typeof s.peer === 'string'
            ? { ifname: parseSpec(ifname, s.peer, where, 'peer') }
            : parseSpec(PeerSpec, s.peer, where, 'peer');
        linkinfo.data = { peer: await linkAttrs(peer, ctx, `${where}.peer`) };
      }
    } else if (s.data !== undefined) {
      const schema = Object.hasOwn(KIND_DATA, s.kind) ? KIND_DATA[s.kind as keyof typeof KIND_DATA] : undefined;
      if (!schema) throw new ValidationError(`${where}.data: kind "${s.kind}" takes no data`, 'data');
      linkinfo.data = inInputOrder(s.data, parseSpec(schema, s.data, where, 'data'));
    }
    if (s.kind === 'vxlan' && attrs.link !== undefined) {
      // `ip link add vx0 type vxlan ... dev v0`: a vxlan's lower device is its own option
      // (IFLA_VXLAN_LINK), not IFLA_LINK, which the vxlan driver ignores.
      linkinfo.data = { ...((linkinfo.data as Attrs | undefined) ?? {}), link: attrs.link };
      delete attrs.link;
    }
  } else if (s.data !== undefined || s.peer !== undefined) {
    throw new ValidationError(`${where}: 'data' and 'peer' need a 'kind'`, 'kind');
  }
  if (s.peer !== undefined && s.kind !== 'veth') {
    throw new ValidationError(`${where}.peer: only a veth has a peer`, 'peer');
  }
  if (s.slave_data !== undefined && s.slave_kind === undefined) {
    throw new ValidationError(
      `${where}.slave_data: give slave_kind (${Object.keys(PORT_DATA).join(', ')}) with it`,
      'slave_kind',
    );
  }
  if (s.slave_kind !== undefined) {
    // As `ip link set dev P type bridge_slave ...`: INFO_KIND "<kind>_slave", no INFO_SLAVE_KIND.
    if (linkinfo.kind === undefined) linkinfo.kind = `${s.slave_kind}_slave`;
    else linkinfo.slave_kind = s.slave_kind;
    if (s.slave_data !== undefined) {
      const named = portNames(s.slave_kind, s.slave_data, where);
      linkinfo.slave_data = inInputOrder(named, parseSpec(PORT_DATA[s.slave_kind], named, where, 'slave_data'));
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

async function build(cmd: Command, input: unknown, ctx: BuildContext): Promise<Request> {
  if (cmd === 'dump') return buildDump(parseSpec(LinkFilter, input, 'link dump'), ctx);
  if (cmd === 'get' || cmd === 'del') {
    const k = parseSpec(LinkKey, input, `link ${cmd}`);
    if (k.index === undefined && k.ifname === undefined) {
      throw new ValidationError(`link ${cmd}: name the link with ifname or index`, 'ifname');
    }
    const header: Record<string, number> = { family: AF.UNSPEC, pad: 0, ifi_type: 0, index: k.index ?? 0, flags: 0, change: 0 };
    if (cmd === 'get') {
      const attrs: Attrs = k.ifname !== undefined ? { ifname: k.ifname } : {};
      attrs.ext_mask = RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS;
      return { type: RTM_GETLINK, flags: NEW_FLAGS.get, body: { header, attrs } };
    }
    // As `ip link del X`: address the link by index, resolved first, so an unknown name is a
    // clear error before anything is attempted.
    if (header.index === 0) header.index = await ctx.index(k.ifname as string, 'ifname');
    return { type: RTM_DELLINK, flags: NEW_FLAGS.del, body: { header, attrs: {} } };
  }
  const s = parseSpec(LinkSpecSchema, input, `link ${cmd}`);
  const body = await linkAttrs(s, ctx, 'link');
  if (cmd === 'add') {
    if (s.ifname === undefined) throw new ValidationError('link add: ifname is required', 'ifname');
    if (s.kind === undefined) throw new ValidationError('link add: kind is required', 'kind');
    return { type: RTM_NEWLINK, flags: NEW_FLAGS.add, body };
  }
  if (body.header.index === 0 && s.ifname === undefined) {
    throw new ValidationError(`link ${cmd}: name the link with ifname or index`, 'ifname');
  }
  if (cmd === 'set' && body.header.index === 0) {
    // As `ip link set dev X`: address the link by index, resolved first, so an unknown name is
    // a clear error before any change is attempted.
    body.header.index = await ctx.index(s.ifname as string, 'ifname');
    if (s.newname === undefined) body.attrs = omit(body.attrs, 'ifname');
  }
  if (cmd === 'set') return { type: RTM_NEWLINK, flags: NLM_F.REQUEST | NLM_F.ACK, body };
  return { type: RTM_NEWLINK, flags: NEW_FLAGS.replace, body };
}

function omit(attrs: Attrs, key: string): Attrs {
  const { [key]: _dropped, ...rest } = attrs;
  return rest;
}

async function buildDump(s: z.output<typeof LinkFilter>, ctx: BuildContext): Promise<Request> {
  const header: Record<string, number> = { family: AF.UNSPEC, pad: 0, ifi_type: 0, index: 0, flags: 0, change: 0 };
  const attrs: Attrs = { ext_mask: RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS };
  // Kernel-side filters (strict checking): by master and by kind.
  const master = s.master !== undefined ? await ctx.index(s.master, 'master') : undefined;
  if (master !== undefined) attrs.master = master;
  if (s.kind !== undefined) attrs.linkinfo = { kind: s.kind };
  const address = s.address !== undefined ? parseMac(s.address) : undefined;
  const keep = keepMatching({
    ifname: s.ifname,
    index: s.index,
    kind: s.kind,
    slave_kind: s.slave_kind,
    master,
    link: s.link !== undefined ? await ctx.index(s.link, 'link') : undefined,
    state: s.state,
    operstate: s.operstate !== undefined ? OPERSTATES.name(s.operstate) : undefined,
    mtu: s.mtu,
    address: address ? formatMac(address, 0, address.length) : undefined,
    txqlen: s.txqlen,
    group: s.group,
    ifalias: either(s.ifalias, s.alias, 'ifalias', 'alias'),
  });
  return { type: RTM_GETLINK, flags: NEW_FLAGS.dump, body: { header, attrs }, strict: true, keep };
}

export const link: Family<LinkRecord> = {
  name: 'link',
  types: { new: RTM_NEWLINK, del: RTM_DELLINK, get: RTM_GETLINK },
  body: linkBody,
  build,
  toRecord: linkToRecord,
};
