/**
 * A rule as `ip rule` prints it (iproute2's print_rule):
 *
 *   100:	from 10.0.0.0/8 iif v0 lookup vpn
 */
import type { StoreRecord } from '../index.js';
import { type FormatContext, hostOrPrefix, words } from './format-context.js';

const FIB_RULE_INVERT = 0x2;
const FIB_RULE_IIF_DETACHED = 0x8;
const FIB_RULE_OIF_DETACHED = 0x10;
const NO_SUPPRESS = 0xffffffff;

interface Range {
  start: number;
  end: number;
}

const range = (r: Range): string => (r.start === r.end ? String(r.start) : `${r.start}-${r.end}`);

export function formatRule(r: StoreRecord, ctx: FormatContext): string {
  const flags = typeof r.flags === 'number' ? r.flags : 0;
  const fwmask = r.fwmask as number | undefined;
  const table = r.table as number | undefined;
  const action = String(r.action);
  return `${(r.priority as number | undefined) ?? 0}:\t${words(
    (flags & FIB_RULE_INVERT) !== 0 && 'not',
    `from ${r.src === undefined ? 'all' : hostOrPrefix(String(r.src))}`,
    r.dst !== undefined && `to ${hostOrPrefix(String(r.dst))}`,
    r.tos ? `tos 0x${(r.tos as number).toString(16).padStart(2, '0')}` : undefined,
    (r.fwmark !== undefined || fwmask !== undefined) &&
      `fwmark 0x${((r.fwmark as number | undefined) ?? 0).toString(16)}${fwmask !== undefined && fwmask !== NO_SUPPRESS ? `/0x${fwmask.toString(16)}` : ''}`,
    r.iifname !== undefined && `iif ${r.iifname}${flags & FIB_RULE_IIF_DETACHED ? ' [detached]' : ''}`,
    r.oifname !== undefined && `oif ${r.oifname}${flags & FIB_RULE_OIF_DETACHED ? ' [detached]' : ''}`,
    r.l3mdev ? 'lookup [l3mdev-table]' : undefined,
    r.uid_range !== undefined && `uidrange ${(r.uid_range as Range).start}-${(r.uid_range as Range).end}`,
    r.ip_proto !== undefined && `ipproto ${r.ip_proto}`,
    r.sport_range !== undefined && `sport ${range(r.sport_range as Range)}`,
    r.dport_range !== undefined && `dport ${range(r.dport_range as Range)}`,
    table ? `lookup ${ctx.table(table)}` : undefined,
    table && r.suppress_prefixlen !== undefined && r.suppress_prefixlen !== NO_SUPPRESS
      ? `suppress_prefixlength ${r.suppress_prefixlen}`
      : undefined,
    action === 'goto' && `goto ${r.goto ?? 'none'}`,
    action === 'nop' && 'nop',
    !['to_tbl', 'goto', 'nop'].includes(action) && action,
    r.proto !== undefined && r.proto !== 'unspec' && r.proto !== 'kernel' && `proto ${r.proto}`,
  )}`;
}
