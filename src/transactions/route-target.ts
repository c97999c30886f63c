/**
 * A parsed route spec as a target, in the form the store will show it:
 * destination as the kernel prints it, `metric` as `priority`, an IPv6
 * metric of 0 as the 1024 the kernel stores, `via`/`oif` as
 * `gateway`/`dev`, `weight` as `hops + 1`, every address of the route's
 * family.
 */
import { parsePrefix } from '../backends/netlink/codec/address.js';
import type { z } from '../backends/schema.js';
import { ValidationError } from '../errors.js';
import type { NexthopSpec, RouteSpec } from './specs.js';
import type { NexthopTarget, RouteTarget } from './staged.js';

type ParsedRoute = z.output<typeof RouteSpec>;
type ParsedHop = z.output<typeof NexthopSpec>;

/** IP6_RT_PRIO_USER: what the kernel stores for an IPv6 route given metric 0 or none. */
export const IPV6_DEFAULT_METRIC = 1024;

export function routeTarget(
  spec: Partial<ParsedRoute> & { dst: string },
  netns: string,
  what: string,
  probe: boolean,
  /** Called with each interface the route names (it must exist or be staged). */
  device: (ifname: string) => void,
): RouteTarget {
  let family: 'inet' | 'inet6';
  let dst: string;
  const asked = spec.family === 6 || spec.family === 'inet6' ? 'inet6' : spec.family === undefined ? undefined : 'inet';
  if (spec.dst === 'default') {
    // A default route's family is the one asked for, or its gateway's (or first nexthop's, or source's).
    const hint = spec.gateway ?? spec.via ?? spec.multipath?.[0]?.gateway ?? spec.multipath?.[0]?.via ?? spec.prefsrc;
    family = asked ?? (hint?.includes(':') ? 'inet6' : 'inet');
    dst = 'default';
  } else {
    const p = parsePrefix(spec.dst);
    if (!p)
      throw new ValidationError(`${what}: dst: ${JSON.stringify(spec.dst)} is not a prefix like 10.0.0.0/24 or 'default'`, 'dst');
    family = p.family === 4 ? 'inet' : 'inet6';
    if (asked && asked !== family) throw new ValidationError(`${what}: dst: ${spec.dst} is not of family ${asked}`, 'dst');
    dst = p.length === 0 ? 'default' : `${p.address}/${p.length}`;
  }
  const target: RouteTarget = { netns, family, table: spec.table ?? 254, dst, multipath: [] };
  let priority = spec.priority ?? spec.metric;
  if (family === 'inet6' && priority === 0) priority = IPV6_DEFAULT_METRIC;
  if (priority !== undefined) target.priority = priority;
  if (spec.tos) target.tos = spec.tos;
  if (probe) return target;
  const fam = family === 'inet' ? 4 : 6;
  nexthopOf(spec, fam, what, device, target);
  if (spec.type !== undefined) target.type = String(spec.type);
  if (spec.scope !== undefined) target.scope = String(spec.scope);
  if (spec.proto !== undefined) target.proto = String(spec.proto);
  if (spec.prefsrc !== undefined) target.prefsrc = addressOf(spec.prefsrc, fam, `${what}: prefsrc`);
  if (spec.metrics !== undefined) target.metrics = { ...spec.metrics };
  const flags = spec.flags;
  if (spec.onlink || flags === 4 || flags === 'onlink' || (Array.isArray(flags) && flags.length)) target.onlink = true;
  for (const [i, hop] of (spec.multipath ?? []).entries())
    target.multipath.push(nexthop(hop, fam, `${what}: multipath[${i}]`, device));
  if (target.multipath.length && (target.gateway !== undefined || target.dev !== undefined)) {
    throw new ValidationError(`${what}: a route has a gateway and dev, or nexthops (multipath), not both`, 'multipath');
  }
  if (target.gateway === undefined && target.dev === undefined && target.multipath.length === 0 && !target.type) {
    throw new ValidationError(
      `${what}: route ${dst} needs a gateway, a dev, nexthops or a type (blackhole, unreachable, ...)`,
      'gateway',
    );
  }
  return target;
}

/** One nexthop of a multipath route. */
export function nexthop(spec: ParsedHop, fam: 4 | 6, what: string, device: (ifname: string) => void): NexthopTarget {
  const hop: NexthopTarget = { hops: 0 };
  nexthopOf(spec, fam, what, device, hop);
  if (spec.hops !== undefined && spec.weight !== undefined && spec.hops !== spec.weight - 1) {
    throw new ValidationError(`${what}: hops ${spec.hops} and weight ${spec.weight} disagree (weight is hops + 1)`, 'weight');
  }
  if (spec.hops !== undefined) hop.hops = spec.hops;
  else if (spec.weight !== undefined) hop.hops = spec.weight - 1;
  if (spec.onlink) hop.onlink = true;
  if (hop.gateway === undefined && hop.dev === undefined)
    throw new ValidationError(`${what}: a nexthop needs a gateway or a dev`, 'gateway');
  return hop;
}

/** A route's or a nexthop's gateway (`via`) and device (`oif`, `ifname`), checked into `into`. */
function nexthopOf(
  spec: { gateway?: string; via?: string; dev?: string; oif?: string; ifname?: string },
  fam: 4 | 6,
  what: string,
  device: (ifname: string) => void,
  into: { gateway?: string; dev?: string },
): void {
  const gateway = spec.gateway ?? spec.via;
  if (spec.gateway !== undefined && spec.via !== undefined && spec.gateway !== spec.via) {
    throw new ValidationError(`${what}: gateway and via name different addresses`, 'gateway');
  }
  if (gateway !== undefined) into.gateway = addressOf(gateway, fam, `${what}: gateway`);
  const names = [spec.dev, spec.oif, spec.ifname].filter((d) => d !== undefined);
  if (new Set(names).size > 1) throw new ValidationError(`${what}: dev, oif and ifname name different interfaces`, 'dev');
  const dev = names[0];
  if (dev !== undefined) {
    device(dev);
    into.dev = dev;
  }
}

function addressOf(text: string, fam: 4 | 6, what: string): string {
  const p = parsePrefix(text);
  if (!p || p.length !== p.bytes.length * 8)
    throw new ValidationError(`${what}: ${JSON.stringify(text)} is not an IP address`, what.split(': ').pop());
  if (p.family !== fam)
    throw new ValidationError(`${what}: ${text} is IPv${p.family}, the route is IPv${fam}`, what.split(': ').pop());
  return p.address;
}
