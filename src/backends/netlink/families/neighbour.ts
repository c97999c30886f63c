/**
 * Neighbours (ARP / NDP entries): RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH
 * with struct ndmsg. iproute2 equivalent: `ip neigh add|change|replace|del|show`.
 */
import { ValidationError } from '../../../errors.js';
import { family, flag, hostAddress, ifindex, ifname, ifRef, int, mac, parseSpec, spec, u8, type z } from '../../schema.js';
import { formatMac, type Prefix, parseMac } from '../codec/address.js';
import { type Attrs, type Body, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, FAMILY_NAMES } from '../constants.js';
import {
  type BuildContext,
  type Command,
  either,
  type Family,
  familyName,
  flagsFor,
  keepMatching,
  NEW_FLAGS,
  type Request,
} from './family.js';
import { NEIGH_STATES, ROUTE_PROTOCOLS } from './names.js';
import { U16 } from './validate.js';

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

/** The record a neighbour decodes to; fields without `?` are in every neighbour message. */
export interface NeighbourRecord {
  family: string;
  ifindex: number;
  dst?: string;
  /** Absent while the entry is incomplete or failed. */
  lladdr?: string;
  /** NUD_* state by name ('permanent', 'reachable', ...), or the number for a combination. */
  state: string | number;
  /** NTF_* bits. */
  flags: number;
  /** RTN_* type of the address (1 unicast). */
  ndm_type: number;
  probes?: number;
  cacheinfo?: { confirmed: number; used: number; updated: number; refcnt: number };
  [attr: string]: unknown;
}

export function neighbourToRecord(body: Body): NeighbourRecord {
  const h = body.header;
  return {
    family: FAMILY_NAMES[h.family as number] ?? String(h.family),
    ifindex: h.ifindex as number,
    state: NEIGH_STATES.name(h.state as number),
    flags: h.flags as number,
    ndm_type: h.ndm_type as number,
    ...body.attrs,
  };
}

/** `neigh add|set|replace|del`: like `ip neigh add 10.0.0.9 lladdr 02:00:00:00:00:09 dev v0 [nud S] [router]`. */
export const NeighbourSpec = spec({
  /** 'inet' or 'inet6'; taken from dst when left out. */
  family: family.optional(),
  /** The interface by index (`ifindex` or `index`), or by name (`ifname`). */
  ifindex: ifindex.optional(),
  index: ifindex.optional(),
  ifname: ifname.optional(),
  dst: hostAddress().optional(),
  lladdr: mac.optional(),
  /** NUD state by name (permanent, reachable, stale, noarp, ...) or number; permanent when left out. */
  state: NEIGH_STATES.field(U16).optional(),
  /** NTF_* bits. */
  flags: u8.optional(),
  /** The VLAN of a bridge FDB-backed entry (0..4095). */
  vlan: int(0, 4095).optional(),
  /** NTF_PROXY: a proxy ARP / NDP entry. */
  proxy: flag.optional(),
  /** NTF_ROUTER: the neighbour is a router (IPv6). */
  router: flag.optional(),
  protocol: ROUTE_PROTOCOLS.field().optional(),
});
export type NeighbourSpec = z.input<typeof NeighbourSpec>;

/** `neigh dump|get`: by interface and master in the kernel, the rest in record terms. */
export const NeighbourFilter = spec({
  family: family.optional(),
  ifindex: ifindex.optional(),
  index: ifindex.optional(),
  ifname: ifname.optional(),
  /** Entries of the ports of this bridge (or VRF). */
  master: ifRef.optional(),
  dst: hostAddress().optional(),
  lladdr: mac.optional(),
  state: NEIGH_STATES.field(U16).optional(),
});
export type NeighbourFilter = z.input<typeof NeighbourFilter>;

/** The interface, given as `ifindex`, `index` or `ifname`. */
function deviceOf(s: { ifindex?: number; index?: number; ifname?: string }): string | number | undefined {
  if (s.ifname !== undefined && (s.ifindex ?? s.index) !== undefined) {
    throw new ValidationError('neighbour: name the interface once, by index or by ifname', 'ifname');
  }
  return either(s.ifindex, s.index, 'ifindex', 'index') ?? s.ifname;
}

function sameFamily(dst: Prefix, fam: 4 | 6 | undefined): 4 | 6 {
  if (fam && dst.family !== fam)
    throw new ValidationError(`dst: ${dst.address} is IPv${dst.family} where IPv${fam} is needed`, 'dst');
  return dst.family;
}

async function build(cmd: Command, input: unknown, ctx: BuildContext): Promise<Request> {
  if (cmd === 'dump' || cmd === 'get') return buildDump(parseSpec(NeighbourFilter, input, `neighbour ${cmd}`), ctx);
  const s = parseSpec(NeighbourSpec, input, `neighbour ${cmd}`);
  const header: Record<string, number> = { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: 0, state: 0, flags: 0, ndm_type: 0 };
  const attrs: Attrs = {};
  const dev = deviceOf(s);
  if (dev === undefined) throw new ValidationError(`neighbour ${cmd}: name the interface with ifname or ifindex`, 'ifname');
  header.ifindex = await ctx.index(dev, 'ifname');
  if (s.dst === undefined) throw new ValidationError(`neighbour ${cmd}: 'dst' is required`, 'dst');
  const fam = sameFamily(s.dst, s.family);
  attrs.dst = s.dst.address;
  header.family = fam === 4 ? AF.INET : AF.INET6;
  // `ip neigh` defaults to a permanent entry (and sends that state with a delete too).
  header.state = s.state ?? 0x80;
  let flags = s.flags ?? 0;
  if (s.proxy) flags |= NEIGH_FLAGS.proxy as number;
  if (s.router) flags |= NEIGH_FLAGS.router as number;
  header.flags = flags;
  if (s.lladdr !== undefined) attrs.lladdr = s.lladdr;
  if (s.vlan !== undefined) attrs.vlan = s.vlan;
  if (s.protocol !== undefined) attrs.protocol = s.protocol;
  return { type: cmd === 'del' ? RTM_DELNEIGH : RTM_NEWNEIGH, flags: flagsFor(cmd), body: { header, attrs } };
}

/** As records write link-layer addresses: two lower-case hex digits per byte. */
function canonicalMac(text: string): string {
  const b = parseMac(text) as Buffer;
  return formatMac(b, 0, b.length);
}

async function buildDump(s: z.output<typeof NeighbourFilter>, ctx: BuildContext): Promise<Request> {
  const header: Record<string, number> = { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: 0, state: 0, flags: 0, ndm_type: 0 };
  const attrs: Attrs = {};
  const fam = s.dst ? sameFamily(s.dst, s.family) : s.family;
  // Under strict checking the kernel filters by NDA_IFINDEX / NDA_MASTER, not by the header.
  if (fam) header.family = fam === 4 ? AF.INET : AF.INET6;
  const dev = deviceOf(s);
  if (dev !== undefined) attrs.ifindex = await ctx.index(dev, 'ifname');
  if (s.master !== undefined) attrs.master = await ctx.index(s.master, 'master');
  const keep = keepMatching({
    family: fam ? familyName(fam) : undefined,
    ifindex: attrs.ifindex,
    dst: s.dst?.address,
    lladdr: s.lladdr !== undefined ? canonicalMac(s.lladdr) : undefined,
    state: s.state !== undefined ? NEIGH_STATES.name(s.state) : undefined,
  });
  return { type: RTM_GETNEIGH, flags: NEW_FLAGS.dump, body: { header, attrs }, strict: true, keep };
}

export const neighbour: Family<NeighbourRecord> = {
  name: 'neighbour',
  types: { new: RTM_NEWNEIGH, del: RTM_DELNEIGH, get: RTM_GETNEIGH },
  body: neighbourBody,
  build,
  toRecord: neighbourToRecord,
};
