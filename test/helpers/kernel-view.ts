/**
 * The kernel's state as iproute2 reports it (`ip -j`), reduced to comparable
 * lines — the independent reader every integration test checks against.
 */
import type { Rtnl } from '../../src/index.js';
import { ipJson } from './netns.js';

const TABLES: Record<string, number> = { main: 254, local: 255, default: 253 };

function table(t: unknown): number {
  if (t === undefined) return 254;
  return TABLES[t as string] ?? Number(t);
}

function withLen(dst: string, family: 4 | 6): string {
  if (dst === 'default' || dst.includes('/')) return dst;
  return `${dst}/${family === 4 ? 32 : 128}`;
}

export interface KernelView {
  links: string[];
  addresses: string[];
  routes: string[];
  rules: string[];
  neighbours: string[];
}

/** What `ip -j` says, one sorted line per object. */
export function viewFromIproute2(ns: string): KernelView {
  const links = ipJson(ns, '-d', 'link', 'show').map((l) => {
    const kind = (l.linkinfo as { info_kind?: string } | undefined)?.info_kind ?? '';
    const up = (l.flags as string[]).includes('UP') ? 'up' : 'down';
    const master = l.master ?? '';
    return `${l.ifindex} ${l.ifname} ${kind} mtu=${l.mtu} ${up} ${l.address} master=${master}`;
  });
  const addresses = ipJson(ns, 'addr', 'show').flatMap((l) =>
    (l.addr_info as Record<string, unknown>[]).map((a) => `${l.ifindex} ${a.local}/${a.prefixlen}`),
  );
  const routes: string[] = [];
  for (const family of [4, 6] as const) {
    for (const r of ipJson(ns, `-${family}`, 'route', 'show', 'table', 'all')) {
      if (r.type === 'multicast' || (family === 6 && r.dst === 'ff00::/8')) continue;
      const hops = (r.nexthops as Record<string, unknown>[] | undefined)?.map((h) => `${h.gateway}*${h.weight}`).join(',') ?? '';
      routes.push(
        `${family} ${table(r.table)} ${withLen(r.dst as string, family)} via=${r.gateway ?? ''} metric=${r.metric ?? ''} ${hops}`,
      );
    }
  }
  const rules: string[] = [];
  for (const family of [4, 6] as const) {
    for (const r of ipJson(ns, `-${family}`, 'rule', 'show')) {
      const src = r.src === 'all' || r.src === undefined ? '' : `${r.src}/${r.srclen}`;
      rules.push(`${family} ${r.priority} from=${src} table=${r.table ? table(r.table) : ''}`);
    }
  }
  const neighbours = ipJson(ns, 'neigh', 'show', 'nud', 'all').map((n) => `${n.dev} ${n.dst} ${n.lladdr ?? ''}`);
  return {
    links: links.sort(),
    addresses: addresses.sort(),
    routes: routes.sort(),
    rules: rules.sort(),
    neighbours: neighbours.sort(),
  };
}

/** The same view built from netstate's own dumps. */
export async function viewFromRtnl(nl: Rtnl): Promise<KernelView> {
  const links = await nl.link('dump');
  const names = new Map(links.map((l) => [l.index, l.ifname]));
  const linkLines = links.map(
    (l) =>
      `${l.index} ${l.ifname} ${l.kind ?? ''} mtu=${l.mtu} ${l.state} ${l.address} master=${l.master ? names.get(l.master) : ''}`,
  );
  const addresses = (await nl.addr('dump')).map((a) => `${a.index} ${a.local ?? a.address}/${a.prefixlen}`);
  const routes = (await nl.route('dump'))
    .filter((r) => r.type !== 'multicast' && !(r.family === 'inet6' && r.dst === 'ff00::/8'))
    .map((r) => {
      const family = r.family === 'inet' ? 4 : 6;
      const hops = r.multipath?.map((h) => `${h.gateway}*${h.weight}`).join(',') ?? '';
      const metric = family === 4 && r.priority === undefined ? '' : (r.priority ?? '');
      return `${family} ${r.table} ${r.dst} via=${r.gateway ?? ''} metric=${metric} ${hops}`;
    });
  const rules = (await nl.rule('dump'))
    .filter((r) => r.family === 'inet' || r.family === 'inet6')
    .map((r) => `${r.family === 'inet' ? 4 : 6} ${r.priority ?? 0} from=${r.src ?? ''} table=${r.table || ''}`);
  const neighbours = (await nl.neigh('dump'))
    .filter((n) => n.family === 'inet' || n.family === 'inet6')
    .map((n) => `${names.get(n.ifindex)} ${n.dst} ${n.lladdr ?? ''}`);
  return {
    links: linkLines.sort(),
    addresses: addresses.sort(),
    routes: routes.sort(),
    rules: rules.sort(),
    neighbours: neighbours.sort(),
  };
}

/**
 * Asserts netstate's dumps equal `ip -j`'s. The kernel changes on its own
 * (IPv6 MLD adds ff02:: neighbours after a link comes up), so the comparison
 * is made against a stable snapshot: iproute2 is read before and after us,
 * and the check retries until both reads agree.
 */
export async function expectSameAsIproute2(nl: Rtnl, ns: string): Promise<void> {
  const { expect } = await import('vitest');
  let ours: KernelView | undefined;
  let theirs: KernelView | undefined;
  for (let attempt = 0; attempt < 10; attempt++) {
    const before = viewFromIproute2(ns);
    ours = await viewFromRtnl(nl);
    theirs = viewFromIproute2(ns);
    if (JSON.stringify(before) === JSON.stringify(theirs)) break;
  }
  expect(ours).toEqual(theirs);
}
