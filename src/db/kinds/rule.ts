/**
 * Policy routing rules (`ip rule`): identity is the whole match set (src,
 * dst, iif/oif names, fwmark/mask, table, action, goto, priority, ...), so
 * the key is that set, written canonically. Two rules that differ only in
 * src are two rows.
 */

import { FAMILIES } from '../../backends/netlink/codec/message.js';
import { tableNumber } from '../../backends/netlink/families/route.js';
import { bodyWithout } from '../raw.js';
import { decodeMessageBody, eq, type Kind, type RowValues } from './kind.js';
import { familyNumber } from './values.js';

const NONE = new Set<number>();
/** FIB_RULE_IIF_DETACHED | FIB_RULE_OIF_DETACHED: state of the named device, not part of the rule. */
const DETACHED = 0x8 | 0x10;

/** Canonical text of a rule's match set. */
export function ruleIdentity(record: Record<string, unknown>): string {
  const { flags, ...rest } = record;
  const keys = Object.keys(rest).sort();
  return JSON.stringify(keys.map((k) => [k, rest[k]]).concat([['flags', (flags as number) & ~DETACHED]]));
}

export const rules: Kind = {
  name: 'rule',
  table: 'rules',
  family: 'rule',
  columns: [
    ['family', 'INTEGER NOT NULL'],
    ['priority', 'INTEGER NOT NULL'],
    ['tbl', 'INTEGER NOT NULL'],
    ['identity', 'TEXT NOT NULL'],
  ],
  key: ['family', 'identity'],
  indexes: [],
  headerLen: 12,
  row(buf, off, len): RowValues | undefined {
    const family = buf[off + 16] as number;
    if (family !== 2 && family !== 10) return undefined; // multicast routing rules are not kept
    const body = decodeMessageBody('rule', buf, off, len);
    const record = FAMILIES.rule.toRecord(body) as Record<string, unknown>;
    return [family, record.priority ?? 0, record.table, ruleIdentity(record), bodyWithout(buf, off, len, 12, NONE)];
  },
  sqlFields: {
    family: eq('family', familyNumber),
    priority: eq('priority'),
    table: eq('tbl', tableNumber),
  },
};
