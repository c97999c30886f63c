/** How staged objects are keyed and named (in reviews, steps and errors). */
import { DEFAULT_PRIORITY } from '../db/route-collection.js';
import { canonical } from './diff.js';
import type { RouteTarget, RuleTarget } from './staged.js';

/** A route's identity: namespace, family, table, destination, priority. */
export function routeKey(t: Pick<RouteTarget, 'netns' | 'family' | 'table' | 'dst' | 'priority' | 'tos'>): string {
  return `${t.netns}|${t.family}|${t.table}|${t.dst}|${t.priority ?? DEFAULT_PRIORITY[t.family]}|${t.tos ?? 0}`;
}

/** A rule's identity: all of its fields (the kernel has no other key for a rule). */
export function ruleKey(t: RuleTarget): string {
  const { netns, ...rest } = t;
  return `${netns}|${canonical(rest)}`;
}

export function describeRoute(t: Pick<RouteTarget, 'family' | 'table' | 'dst' | 'priority' | 'tos'>): string {
  let s = t.dst === 'default' && t.family === 'inet6' ? 'default (inet6)' : t.dst;
  if (t.table !== 254) s += ` table ${t.table}`;
  if (t.priority !== undefined && t.priority !== DEFAULT_PRIORITY[t.family]) s += ` metric ${t.priority}`;
  if (t.tos) s += ` tos ${t.tos}`;
  return s;
}

/** As `ip rule` prints a rule: `1000 from 10.1.0.0/16 lookup 100`. */
export function describeRule(t: RuleTarget): string {
  const parts = [String(t.priority ?? '*')];
  if (t.invert) parts.push('not');
  parts.push(`from ${t.src ?? 'all'}`);
  if (t.dst) parts.push(`to ${t.dst}`);
  if (t.iifname) parts.push(`iif ${t.iifname}`);
  if (t.oifname) parts.push(`oif ${t.oifname}`);
  if (t.fwmark !== undefined) parts.push(`fwmark ${t.fwmark}`);
  if (t.action !== undefined) parts.push(String(t.action));
  else parts.push(`lookup ${t.table ?? 'main'}`);
  if (t.family === 'inet6') parts.push('(inet6)');
  return parts.join(' ');
}
