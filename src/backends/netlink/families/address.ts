/**
 * Addresses: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR with struct ifaddrmsg.
 * iproute2 equivalent: `ip addr add|change|replace|del|show`.
 */
import { ValidationError } from '../../../errors.js';
import {
  family,
  field,
  hostAddress,
  ifindex,
  ifname,
  int,
  ipAddress,
  parseSpec,
  prefix,
  Refusal,
  shown,
  spec,
  text,
  u32,
  type z,
} from '../../schema.js';
import { type Prefix, parsePrefix } from '../codec/address.js';
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
import { ADDRESS_FLAGS, ROUTE_PROTOCOLS, ROUTE_SCOPES } from './names.js';

export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;

export const ifaddrmsg = struct('ifaddrmsg', 'family:u8 prefixlen:u8 flags:u8 scope:u8 index:u32');

export const addressBody = schema(
  'IFA',
  [
    [1, 'address', 'ip'],
    [2, 'local', 'ip'],
    [3, 'label', 'asciiz'],
    [4, 'broadcast', 'ip'],
    [5, 'anycast', 'ip'],
    [6, 'cacheinfo', 'struct', { struct: struct('ifa_cacheinfo', 'ifa_preferred:u32 ifa_valid:u32 cstamp:u32 tstamp:u32') }],
    [7, 'multicast', 'ip'],
    [8, 'flags', 'u32'],
    [9, 'rt_priority', 'u32'],
    [10, 'target_netnsid', 's32'],
    [11, 'proto', 'u8'],
  ],
  ifaddrmsg,
);

/** The record an address decodes to; fields without `?` are in every address message. */
export interface AddressRecord {
  family: string;
  index: number;
  /** IFA_ADDRESS: the address (the peer's, on point-to-point links). */
  address: string;
  prefixlen: number;
  /** IFA_LOCAL: the local address, when the kernel reports one (IPv4). */
  local?: string;
  /** IPv4 only. */
  label?: string;
  broadcast?: string;
  scope: string | number;
  /** IFA_F_* bits (the 32-bit IFA_FLAGS when present). */
  flags: number;
  /** Seconds; 4294967295 is forever. */
  valid_lft: number;
  preferred_lft: number;
  proto?: number;
  rt_priority?: number;
  [attr: string]: unknown;
}

export function addressToRecord(body: Body): AddressRecord {
  const h = body.header;
  const { cacheinfo, flags, ...attrs } = body.attrs as Attrs & { cacheinfo?: Record<string, number>; flags?: number };
  // valid_lft and preferred_lft come from IFA_CACHEINFO, which every address message carries.
  const rec = {
    family: FAMILY_NAMES[h.family as number] ?? String(h.family),
    index: h.index as number,
    address: (attrs.address ?? attrs.local) as string,
    prefixlen: h.prefixlen as number,
    scope: ROUTE_SCOPES.name(h.scope as number),
    flags: flags ?? (h.flags as number),
    ...attrs,
  } as AddressRecord;
  if (rec.address === undefined) rec.address = attrs.local as string;
  if (cacheinfo) {
    rec.valid_lft = cacheinfo.ifa_valid as number;
    rec.preferred_lft = cacheinfo.ifa_preferred as number;
  }
  return rec;
}

const INFINITY_LFT = 0xffffffff;

/** IFA_F_* bits: a number, or a list of names like ['nodad', 'noprefixroute']. */
const addressFlags = field<number | (keyof typeof ADDRESS_FLAGS)[], number>((v) => {
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : new Refusal(`${shown(v)} is not a u32 of IFA_F_* bits`);
  }
  if (!Array.isArray(v) || v.length > 32)
    return new Refusal(`expected a number or a list of names like ["nodad"], got ${shown(v)}`);
  let bits = 0;
  for (const name of v) {
    if (typeof name !== 'string' || !Object.hasOwn(ADDRESS_FLAGS, name)) {
      return new Refusal(`${shown(name)} is not an address flag (${Object.keys(ADDRESS_FLAGS).join(', ')})`);
    }
    bits |= ADDRESS_FLAGS[name] as number;
  }
  return bits;
});

/** Seconds, or 'forever'. */
const lifetime = field<number | 'forever', number>((v) => {
  if (v === 'forever') return INFINITY_LFT;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= INFINITY_LFT) return v;
  return new Refusal(`expected seconds (0..2^32-1) or 'forever', got ${shown(v)}`);
});

/** `address add|set|replace|del`: like `ip addr add 10.0.0.1/24 dev v0 [peer P] [label L] ...`. */
export const AddressSpec = spec({
  /** 'inet' or 'inet6'; taken from the address when left out. */
  family: family.optional(),
  /** The interface by index, or by name (`ifname`). */
  index: ifindex.optional(),
  ifname: ifname.optional(),
  /** The address with its prefix length, '10.0.0.1/24' (a bare address is a host prefix). */
  address: prefix().optional(),
  /** Another name of `address` (IFA_LOCAL, as the kernel calls the local address). */
  local: prefix().optional(),
  /** Overrides the prefix length written in the address. */
  prefixlen: int(0, 128).optional(),
  /** The other end of a point-to-point link (IFA_ADDRESS). */
  peer: prefix().optional(),
  /** IPv4 label, at most 15 bytes ('v0:1'). */
  label: text(15, 'a label').optional(),
  broadcast: ipAddress(4).optional(),
  anycast: ipAddress().optional(),
  scope: ROUTE_SCOPES.field().optional(),
  flags: addressFlags.optional(),
  valid_lft: lifetime.optional(),
  preferred_lft: lifetime.optional(),
  proto: ROUTE_PROTOCOLS.field().optional(),
  /** The priority of the prefix route the kernel adds (`metric`, IFA_RT_PRIORITY). */
  metric: u32.optional(),
  rt_priority: u32.optional(),
});
export type AddressSpec = z.input<typeof AddressSpec>;

/** An address to match: 'a/len' matches that prefix length, a bare address any. */
const addressMatch = field<string, { prefix: Prefix; exact: boolean }>((v) => {
  const p = typeof v === 'string' ? parsePrefix(v) : undefined;
  return p ? { prefix: p, exact: (v as string).includes('/') } : new Refusal(`${shown(v)} is not an address or a prefix`);
});

/** `address dump|get`: by interface and family in the kernel, the rest in record terms. */
export const AddressFilter = spec({
  family: family.optional(),
  index: ifindex.optional(),
  ifname: ifname.optional(),
  address: addressMatch.optional(),
  local: hostAddress().optional(),
  prefixlen: int(0, 128).optional(),
  label: text(15, 'a label').optional(),
  scope: ROUTE_SCOPES.field().optional(),
  proto: ROUTE_PROTOCOLS.field().optional(),
});
export type AddressFilter = z.input<typeof AddressFilter>;

async function build(cmd: Command, input: unknown, ctx: BuildContext): Promise<Request> {
  if (cmd === 'dump' || cmd === 'get') return buildDump(parseSpec(AddressFilter, input, `address ${cmd}`), ctx);
  const s = parseSpec(AddressSpec, input, `address ${cmd}`);
  const header: Record<string, number> = { family: AF.UNSPEC, prefixlen: 0, flags: 0, scope: 0, index: 0 };
  const attrs: Attrs = {};
  const dev = s.index ?? s.ifname;
  if (s.index !== undefined && s.ifname !== undefined) {
    throw new ValidationError(`address ${cmd}: name the interface once, by index or by ifname`, 'ifname');
  }
  if (dev !== undefined) header.index = await ctx.index(dev, s.index !== undefined ? 'index' : 'ifname');
  const p = either(s.address, s.local, 'address', 'local');
  if (p === undefined) throw new ValidationError(`address ${cmd}: 'address' is required (like 10.0.0.1/24)`, 'address');
  if (dev === undefined) throw new ValidationError(`address ${cmd}: name the interface with ifname or index`, 'ifname');
  const fam = s.family ?? p.family;
  if (p.family !== fam) throw new ValidationError(`address: ${p.address} is IPv${p.family} where IPv${fam} is needed`, 'address');
  header.family = fam === 4 ? AF.INET : AF.INET6;
  if (s.prefixlen !== undefined && s.prefixlen > p.bytes.length * 8) {
    throw new ValidationError(`prefixlen: ${s.prefixlen} is longer than an IPv${fam} address`, 'prefixlen');
  }
  header.prefixlen = s.prefixlen ?? p.length;
  // As `ip addr add`: IFA_LOCAL is the address, IFA_ADDRESS the peer (or the address itself).
  attrs.local = p.address;
  if (s.label !== undefined) attrs.label = s.label;
  if (s.broadcast !== undefined) {
    if (fam !== 4) throw new ValidationError('broadcast: only IPv4 addresses have one', 'broadcast');
    attrs.broadcast = s.broadcast;
  }
  if (s.anycast !== undefined) attrs.anycast = sameFamily(s.anycast, fam, 'anycast');
  if (s.scope !== undefined) header.scope = s.scope;
  if (s.flags !== undefined) {
    header.flags = s.flags & 0xff;
    if (s.flags > 0xff) attrs.flags = s.flags;
  }
  const metric = either(s.metric, s.rt_priority, 'metric', 'rt_priority');
  if (metric !== undefined) attrs.rt_priority = metric;
  if (s.proto !== undefined) attrs.proto = s.proto;
  if (s.valid_lft !== undefined || s.preferred_lft !== undefined) {
    const valid = s.valid_lft ?? INFINITY_LFT;
    const preferred = s.preferred_lft ?? valid;
    if (preferred > valid) throw new ValidationError('preferred_lft: may not exceed valid_lft', 'preferred_lft');
    attrs.cacheinfo = { ifa_preferred: preferred, ifa_valid: valid, cstamp: 0, tstamp: 0 };
  }
  // IFA_ADDRESS last, as `ip addr add` writes it after everything it parsed.
  if (s.peer !== undefined && s.peer.family !== fam) {
    throw new ValidationError(`peer: ${s.peer.address} is IPv${s.peer.family} where IPv${fam} is needed`, 'peer');
  }
  attrs.address = s.peer !== undefined ? s.peer.address : p.address;
  return { type: cmd === 'del' ? RTM_DELADDR : RTM_NEWADDR, flags: flagsFor(cmd), body: { header, attrs } };
}

function sameFamily(address: string, fam: 4 | 6, field: string): string {
  const got = address.includes(':') ? 6 : 4;
  if (got !== fam) throw new ValidationError(`${field}: ${address} is IPv${got} where IPv${fam} is needed`, field);
  return address;
}

async function buildDump(s: z.output<typeof AddressFilter>, ctx: BuildContext): Promise<Request> {
  const header: Record<string, number> = { family: AF.UNSPEC, prefixlen: 0, flags: 0, scope: 0, index: 0 };
  if (s.index !== undefined && s.ifname !== undefined) {
    throw new ValidationError('address dump: name the interface once, by index or by ifname', 'ifname');
  }
  const dev = s.index ?? s.ifname;
  if (dev !== undefined) header.index = await ctx.index(dev, s.index !== undefined ? 'index' : 'ifname');
  if (s.family) header.family = s.family === 4 ? AF.INET : AF.INET6;
  const keep = keepMatching({
    family: s.family ? familyName(s.family) : undefined,
    index: dev !== undefined ? header.index : undefined,
    address: s.address?.prefix.address,
    prefixlen: s.prefixlen ?? (s.address?.exact ? s.address.prefix.length : undefined),
    local: s.local?.address,
    label: s.label,
    scope: s.scope !== undefined ? ROUTE_SCOPES.name(s.scope) : undefined,
    proto: s.proto,
  });
  return { type: RTM_GETADDR, flags: NEW_FLAGS.dump, body: { header, attrs: {} }, strict: true, keep };
}

export const address: Family<AddressRecord> = {
  name: 'address',
  types: { new: RTM_NEWADDR, del: RTM_DELADDR, get: RTM_GETADDR },
  body: addressBody,
  build,
  toRecord: addressToRecord,
};
