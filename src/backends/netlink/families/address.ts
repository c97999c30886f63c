/**
 * Addresses: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR with struct ifaddrmsg.
 * iproute2 equivalent: `ip addr add|change|replace|del|show`.
 */
import { ValidationError } from '../../../errors.js';
import { type Attrs, type Body, schema } from '../codec/attributes.js';
import { struct } from '../codec/struct.js';
import { AF, FAMILY_NAMES } from '../constants.js';
import { type BuildContext, type Command, type Family, flagsFor, matchesAll, NEW_FLAGS, type Request } from './family.js';
import { ADDRESS_FLAGS, ROUTE_PROTOCOLS, ROUTE_SCOPES } from './names.js';
import { checkFamily, checkInt, checkIp, checkKnownKeys, checkPrefix, U32 } from './validate.js';

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

export interface AddressRecord {
  family: string;
  index: number;
  /** IFA_ADDRESS: the address (the peer's, on point-to-point links). */
  address: string;
  prefixlen: number;
  /** IFA_LOCAL: the local address, when the kernel reports one (IPv4). */
  local?: string;
  label?: string;
  broadcast?: string;
  scope: string | number;
  /** IFA_F_* bits (the 32-bit IFA_FLAGS when present). */
  flags: number;
  valid_lft?: number;
  preferred_lft?: number;
  proto?: number;
  [attr: string]: unknown;
}

export function addressToRecord(body: Body): AddressRecord {
  const h = body.header;
  const { cacheinfo, flags, ...attrs } = body.attrs as Attrs & { cacheinfo?: Record<string, number>; flags?: number };
  const rec: AddressRecord = {
    family: FAMILY_NAMES[h.family as number] ?? String(h.family),
    index: h.index as number,
    address: (attrs.address ?? attrs.local) as string,
    prefixlen: h.prefixlen as number,
    scope: ROUTE_SCOPES.name(h.scope as number),
    flags: flags ?? (h.flags as number),
    ...attrs,
  };
  if (rec.address === undefined) rec.address = attrs.local as string;
  if (cacheinfo) {
    rec.valid_lft = cacheinfo.ifa_valid;
    rec.preferred_lft = cacheinfo.ifa_preferred;
  }
  return rec;
}

const KEYS = new Set([
  'family',
  'index',
  'ifname',
  'address',
  'local',
  'prefixlen',
  'peer',
  'label',
  'broadcast',
  'anycast',
  'scope',
  'flags',
  'valid_lft',
  'preferred_lft',
  'proto',
  'metric',
  'rt_priority',
]);

const INFINITY_LFT = 0xffffffff;

function parseFlags(value: unknown): number {
  if (typeof value === 'number') return checkInt(value, 'flags', 0, U32);
  if (!Array.isArray(value)) throw new ValidationError('flags: a number or a list of names like ["nodad"]', 'flags');
  let bits = 0;
  for (const name of value) {
    const bit = ADDRESS_FLAGS[name as string];
    if (bit === undefined) {
      throw new ValidationError(`flags: "${name}" is not an address flag (${Object.keys(ADDRESS_FLAGS).join(', ')})`, 'flags');
    }
    bits |= bit;
  }
  return bits;
}

async function build(cmd: Command, spec: Record<string, unknown>, ctx: BuildContext): Promise<Request> {
  checkKnownKeys(spec, KEYS, `address ${cmd}`);
  const header: Record<string, number> = { family: AF.UNSPEC, prefixlen: 0, flags: 0, scope: 0, index: 0 };
  const attrs: Attrs = {};
  let family: 4 | 6 | undefined = spec.family !== undefined ? checkFamily(spec.family) : undefined;
  const dev = spec.index ?? spec.ifname;
  if (dev !== undefined) header.index = await ctx.index(dev as string | number, spec.index !== undefined ? 'index' : 'ifname');

  if (cmd === 'dump' || cmd === 'get') {
    if (family) header.family = family === 4 ? AF.INET : AF.INET6;
    return { type: RTM_GETADDR, flags: NEW_FLAGS.dump, body: { header, attrs }, strict: true };
  }

  const addrText = spec.local ?? spec.address;
  if (addrText === undefined) throw new ValidationError(`address ${cmd}: 'address' is required (like 10.0.0.1/24)`, 'address');
  if (dev === undefined) throw new ValidationError(`address ${cmd}: name the interface with ifname or index`, 'ifname');
  const prefix = checkPrefix(addrText, 'address', family);
  family = prefix.family;
  header.family = family === 4 ? AF.INET : AF.INET6;
  header.prefixlen =
    spec.prefixlen !== undefined ? checkInt(spec.prefixlen, 'prefixlen', 0, family === 4 ? 32 : 128) : prefix.length;
  // As `ip addr add`: IFA_LOCAL is the address, IFA_ADDRESS the peer (or the address itself).
  attrs.local = prefix.address;
  if (spec.label !== undefined) {
    if (typeof spec.label !== 'string' || spec.label.length > 15) throw new ValidationError('label: at most 15 bytes', 'label');
    attrs.label = spec.label;
  }
  if (spec.broadcast !== undefined) attrs.broadcast = checkIp(spec.broadcast, 'broadcast', 4);
  if (spec.anycast !== undefined) attrs.anycast = checkIp(spec.anycast, 'anycast', family);
  if (spec.scope !== undefined) header.scope = ROUTE_SCOPES.number(spec.scope, 'scope');
  if (spec.flags !== undefined) {
    const flags = parseFlags(spec.flags);
    header.flags = flags & 0xff;
    if (flags > 0xff) attrs.flags = flags;
  }
  const metric = spec.metric ?? spec.rt_priority;
  if (metric !== undefined) attrs.rt_priority = checkInt(metric, 'metric', 0, U32);
  if (spec.proto !== undefined) attrs.proto = ROUTE_PROTOCOLS.number(spec.proto, 'proto');
  if (spec.valid_lft !== undefined || spec.preferred_lft !== undefined) {
    const valid = lifetime(spec.valid_lft, 'valid_lft');
    const preferred = lifetime(spec.preferred_lft ?? valid, 'preferred_lft');
    if (preferred > valid) throw new ValidationError('preferred_lft: may not exceed valid_lft', 'preferred_lft');
    attrs.cacheinfo = { ifa_preferred: preferred, ifa_valid: valid, cstamp: 0, tstamp: 0 };
  }
  // IFA_ADDRESS last, as `ip addr add` writes it after everything it parsed.
  attrs.address = spec.peer !== undefined ? checkPrefix(spec.peer, 'peer', family).address : prefix.address;
  const flags = flagsFor(cmd);
  return { type: cmd === 'del' ? RTM_DELADDR : RTM_NEWADDR, flags, body: { header, attrs } };
}

function lifetime(value: unknown, field: string): number {
  if (value === undefined || value === 'forever') return INFINITY_LFT;
  return checkInt(value, field, 0, INFINITY_LFT);
}

async function filter(spec: Record<string, unknown>, ctx: BuildContext): Promise<(r: AddressRecord) => boolean> {
  const wanted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'ifname') wanted.index = await ctx.index(value as string, 'ifname');
    else if (key === 'family') wanted.family = checkFamily(value) === 4 ? 'inet' : 'inet6';
    else if (key === 'address' && typeof value === 'string') {
      const p = checkPrefix(value, 'address');
      wanted.address = p.address;
      if (value.includes('/')) wanted.prefixlen = p.length;
    } else wanted[key] = value;
  }
  return (r) => matchesAll(r, wanted);
}

export const address: Family<AddressRecord> = {
  name: 'address',
  types: { new: RTM_NEWADDR, del: RTM_DELADDR, get: RTM_GETADDR },
  body: addressBody,
  build,
  toRecord: addressToRecord,
  filter,
};
