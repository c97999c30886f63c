/**
 * Traffic control as `tc -j` shows it and as the store's records show it, in
 * one comparable form: root and ingress qdiscs as 'dev kind handle parent',
 * forward-capable filters as 'dev parent protocol pref handle -> target'.
 */
import { execFileSync } from 'node:child_process';
import type { NetState } from '../../../src/index.js';
import { tcJson } from '../../helpers/netns.js';

export function tc(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'tc', ...args], { encoding: 'utf8' });
}

/** `tc` that may be refused (a random trial's commands): true when it went through. */
export function tcMaybe(ns: string, ...args: string[]): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'tc', ...args], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface TcQdisc {
  kind: string;
  handle: string;
  dev?: string;
  root?: boolean;
  parent?: string;
  options?: Record<string, unknown>;
}

/** Root and ingress qdiscs per tc (noop, the root of a link never up, is never shown). */
export function qdiscsFromTc(ns: string): string[] {
  return (tcJson(ns, 'qdisc', 'show') as unknown as TcQdisc[])
    .filter((q) => q.root || q.parent === 'ffff:fff1')
    .map((q) => `${q.dev} ${q.kind} ${q.handle} ${q.root ? 'root' : q.parent}`)
    .sort();
}

export function qdiscsFromStore(db: NetState, ns: string): string[] {
  return db.qdiscs
    .list({ netns: ns })
    .map((q) => `${q.ifname} ${q.kind} ${q.handle} ${q.parent === 'root' ? 'root' : 'ffff:fff1'}`)
    .sort();
}

/** The root qdisc of one device as tc shows it. */
export function rootFromTc(ns: string, dev: string): TcQdisc | undefined {
  return (tcJson(ns, 'qdisc', 'show', 'dev', dev) as unknown as TcQdisc[]).find((q) => q.root);
}

interface TcFilter {
  protocol: string;
  pref: number;
  kind: string;
  options?: { fh?: string; actions?: { kind: string; to_dev?: string }[] };
}

/**
 * The filters (u32 key nodes) of each device's ingress block, and of clsact's
 * egress one. Only clsact is asked for `egress`: on a plain ingress qdisc the
 * kernel answers `tc filter show dev X egress` with the ingress filters again.
 */
export function filtersFromTc(ns: string, devs: readonly string[]): string[] {
  const out: string[] = [];
  for (const dev of devs) {
    const block = (tcJson(ns, 'qdisc', 'show', 'dev', dev) as unknown as TcQdisc[]).find((q) => q.parent === 'ffff:fff1');
    if (!block) continue;
    for (const side of block.kind === 'clsact' ? ['ingress', 'egress'] : ['ingress']) {
      for (const f of tcJson(ns, 'filter', 'show', 'dev', dev, side) as unknown as TcFilter[]) {
        if (!f.options?.fh?.includes('::')) continue;
        const to = f.options.actions?.[0]?.to_dev ?? '';
        out.push(`${dev} ${side} ${f.protocol} ${f.pref} ${f.options.fh} -> ${to}`);
      }
    }
  }
  return out.sort();
}

export function filtersFromStore(db: NetState, ns: string): string[] {
  return db.filters
    .list({ netns: ns })
    .map((f) => {
      const a = (f.actions as { dev?: string; ifindex?: number }[] | undefined)?.[0];
      // tc's names: '*' for index 0 (a target that went away), ifN for an index no link has.
      const to = a === undefined ? '' : (a.dev ?? (a.ifindex === 0 ? '*' : `if${a.ifindex}`));
      return `${f.ifname} ${f.parent} ${f.protocol} ${f.priority} ${f.handle} -> ${to}`;
    })
    .sort();
}
