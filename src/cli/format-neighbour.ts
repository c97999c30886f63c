/**
 * A neighbour as `ip neigh` prints it (iproute2's print_neigh):
 *
 *   10.0.0.9 dev d0 lladdr 02:00:00:00:00:09 router REACHABLE
 */
import type { StoreRecord } from '../index.js';
import { type FormatContext, words } from './format-context.js';

/** NUD_* bits by iproute2's names, in its order. */
const STATES: [number, string][] = [
  [0x01, 'INCOMPLETE'],
  [0x02, 'REACHABLE'],
  [0x04, 'STALE'],
  [0x08, 'DELAY'],
  [0x10, 'PROBE'],
  [0x20, 'FAILED'],
  [0x40, 'NOARP'],
  [0x80, 'PERMANENT'],
];

/** NTF_* flags iproute2 prints. */
const FLAGS: [number, string][] = [
  [0x80, 'router'],
  [0x08, 'proxy'],
  [0x10, 'extern_learn'],
  [0x20, 'offload'],
];

/** The state as iproute2 prints it: a name the record has ('reachable') upper-cased, or each bit of a number. */
export function neighbourState(state: unknown): string {
  if (typeof state === 'string') return state === 'none' ? '' : state.toUpperCase();
  const n = typeof state === 'number' ? state : 0;
  return words(...STATES.filter(([b]) => (n & b) !== 0).map(([, name]) => name));
}

export function formatNeighbour(r: StoreRecord, ctx: FormatContext): string {
  const flags = typeof r.flags === 'number' ? r.flags : 0;
  return words(
    r.dst as string | undefined,
    !ctx.omit?.dev && `dev ${ctx.ifname(String(r.netns), r.ifindex)}`,
    r.lladdr !== undefined && `lladdr ${r.lladdr}`,
    ...FLAGS.filter(([b]) => (flags & b) !== 0).map(([, name]) => name),
    neighbourState(r.state),
  );
}
