/**
 * Neighbours (ARP / NDP entries): RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH
 * with struct ndmsg. iproute2 equivalent: `ip neigh add|change|replace|del|show`.
 */
import { ValidationError } from '../../../errors.js';
import { type Attrs, type Body, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, FAMILY_NAMES } from '../constants.js';
import { type BuildContext, type Command, type Family, flagsFor, matchesAll, NEW_FLAGS, type Request } from './family.js';
import { NEIGH_STATES, ROUTE_PROTOCOLS } from './names.js';
import { checkFamily, checkInt, checkIp, checkKnownKeys, checkMac, U8, U16 } from './validate.js';

export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;

export const ndmsg = struct('ndmsg', 'family:u8 pad1:u8 pad2:u16 ifindex:s32 state:u16 flags:u8 ndm_type:u8');

export const neighbourBody = schema(
  'NDA',
  [
    [1, 'dst', 'ip'],
    [2, 'lladdr', 'mac'],
    [3, 'cacheinfo', 'struct', { struct: struct('nda_cacheinfo', 'confirmed:u32 used:u32 updated:u32 refcnt:u32') }],
    [4, 'probes', 'u32'],
    [5, 'vlan', 'u16'],
    [6, 'port', 'be16'],
    [7, 'vni', 'u32'],
    [8, 'ifindex', 'u32'],
    [9, 'master', 'u32'],
    [10, 'link_netnsid', 's32'],
    [11, 'src_vni', 'u32'],
    [12, 'protocol', 'u8'],
    [13, 'nh_id', 'u32'],
    [14, 'fdb_ext_attrs', 'binary'],
    [15, 'flags_ext', 'u32'],
    [16, 'ndm_state_mask', 'u16'],
    [17, 'ndm_flags_mask', 'u8'],
  ],
  ndmsg,
);

/** NTF_* flags by name: `ip neigh add ... router`, `proxy`, `extern_learn`. */
export const NEIGH_FLAGS: Record<string, number> = {
  use: 0x01,
  self: 0x02,
  master: 0x04,
  proxy: 0x08,
  extern_learn: 0x10,
  offloaded: 0x20,
  sticky: 0x40,
  router: 0x80,
};

export interface NeighbourRecord {
  family: string;
  ifindex: number;
  dst?: string;
  lladdr?: string;
  /** NUD_* state by name ('permanent', 'reachable', ...), or the number for a combination. */
  state: string | number;
  flags: number;
  [attr: string]: unknown;
}

export function neighbourToRecord(body: Body): NeighbourRecord {
  const h = body.header;
  return {
    family: FAMILY_NAMES[h.family as number] ?? String(h.family),
    ifindex: h.ifindex as number,
    state: NEIGH_STATES.name(h.state as number),
    flags: h.flags as number,
    ndm_type: h.ndm_type,
    ...body.attrs,
  };
}

const KEYS = new Set([
  'family',
  'ifindex',
  'index',
  'ifname',
  'dst',
  'lladdr',
  'state',
  'flags',
  'vlan',
  'master',
  'proxy',
  'router',
  'protocol',
]);

async function build(cmd: Command, spec: Record<string, unknown>, ctx: BuildContext): Promise<Request> {
  checkKnownKeys(spec, KEYS, `neighbour ${cmd}`);
  let family = spec.family !== undefined ? checkFamily(spec.family) : undefined;
  const header: Record<string, number> = { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: 0, state: 0, flags: 0, ndm_type: 0 };
  const attrs: Attrs = {};
  const dev = spec.ifindex ?? spec.index ?? spec.ifname;
  if (cmd === 'dump' || cmd === 'get') {
    // Under strict checking the kernel filters by NDA_IFINDEX / NDA_MASTER, not by the header.
    if (family) header.family = family === 4 ? AF.INET : AF.INET6;
    if (dev !== undefined) attrs.ifindex = await ctx.index(dev as string | number, 'ifname');
    if (spec.master !== undefined) attrs.master = await ctx.index(spec.master as string | number, 'master');
    return { type: RTM_GETNEIGH, flags: NEW_FLAGS.dump, body: { header, attrs }, strict: true };
  }
  if (dev === undefined) throw new ValidationError(`neighbour ${cmd}: name the interface with ifname or ifindex`, 'ifname');
  header.ifindex = await ctx.index(dev as string | number, 'ifname');
  if (spec.dst === undefined) throw new ValidationError(`neighbour ${cmd}: 'dst' is required`, 'dst');
  attrs.dst = checkIp(spec.dst, 'dst', family);
  family ??= (attrs.dst as string).includes(':') ? 6 : 4;
  header.family = family === 4 ? AF.INET : AF.INET6;
  // `ip neigh` defaults to a permanent entry (and sends that state with a delete too).
  header.state = spec.state !== undefined ? NEIGH_STATES.number(spec.state, 'state', U16) : 0x80;
  let flags = spec.flags !== undefined ? checkInt(spec.flags, 'flags', 0, U8) : 0;
  if (spec.proxy) flags |= NEIGH_FLAGS.proxy as number;
  if (spec.router) flags |= NEIGH_FLAGS.router as number;
  header.flags = flags;
  if (spec.lladdr !== undefined) attrs.lladdr = checkMac(spec.lladdr, 'lladdr');
  if (spec.vlan !== undefined) attrs.vlan = checkInt(spec.vlan, 'vlan', 0, 4095);
  if (spec.protocol !== undefined) attrs.protocol = ROUTE_PROTOCOLS.number(spec.protocol, 'protocol');
  return { type: cmd === 'del' ? RTM_DELNEIGH : RTM_NEWNEIGH, flags: flagsFor(cmd), body: { header, attrs } };
}

async function filter(spec: Record<string, unknown>, ctx: BuildContext): Promise<(r: NeighbourRecord) => boolean> {
  const wanted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'ifname' || key === 'index') wanted.ifindex = await ctx.index(value as string, key);
    else if (key === 'family') wanted.family = checkFamily(value) === 4 ? 'inet' : 'inet6';
    else if (key === 'master')
      continue; // filtered by the kernel
    else wanted[key] = value;
  }
  return (r) => matchesAll(r, wanted);
}

export const neighbour: Family<NeighbourRecord> = {
  name: 'neighbour',
  types: { new: RTM_NEWNEIGH, del: RTM_DELNEIGH, get: RTM_GETNEIGH },
  body: neighbourBody,
  build,
  toRecord: neighbourToRecord,
  filter,
};
