/**
 * The kernel's state as iproute2 reports it (`ip -j`), reduced to comparable
 * lines — the independent reader every integration test checks against.
 */
import type { NetState, Rtnl } from '../../src/index.js';
import { ipJson } from './netns.js';

const TABLES: Record<string, number> = { main: 254, local: 255, default: 253 };

/** The route flags iproute2 prints that the kernel changes on its own. */
function flagText(flags: unknown): string {
  const f = ((flags as string[] | undefined) ?? []).filter((x) => x === 'linkdown' || x === 'dead');
  return f.length ? ` [${f.sort().join(',')}]` : '';
}

/** The same flags from a record's RTNH_F_* bits. */
function flagBits(bits: number): string {
  const f: string[] = [];
  if (bits & 1) f.push('dead');
  if (bits & 16) f.push('linkdown');
  return f.length ? ` [${f.join(',')}]` : '';
}

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
export function viewFromIproute2(ns: string, all = true): KernelView {
  const links = ipJson(ns, '-d', 'link', 'show').map((l) => {
    const kind = (l.linkinfo as { info_kind?: string } | undefined)?.info_kind ?? '';
    const up = (l.flags as string[]).includes('UP') ? 'up' : 'down';
    const master = l.master ?? '';
    // The link it sits on (a veth's peer): by name here, by index and netnsid elsewhere.
    const lower = l.link_netnsid !== undefined ? `#${l.link_index}@${l.link_netnsid}` : (l.link ?? '');
    return `${l.ifindex} ${l.ifname} ${kind} mtu=${l.mtu} ${up} ${l.address} master=${master} link=${lower}`;
  });
  const addresses = ipJson(ns, 'addr', 'show').flatMap((l) =>
    (l.addr_info as Record<string, unknown>[]).map((a) => `${l.ifindex} ${a.local}/${a.prefixlen}`),
  );
  const routes: string[] = [];
  for (const family of [4, 6] as const) {
    for (const r of ipJson(ns, `-${family}`, 'route', 'show', 'table', 'all')) {
      if (r.type === 'multicast' || (family === 6 && r.dst === 'ff00::/8')) continue;
      const hops =
        (r.nexthops as Record<string, unknown>[] | undefined)
          ?.map((h) => `${h.gateway}*${h.weight}${flagText(h.flags)}`)
          .join(',') ?? '';
      routes.push(
        `${family} ${table(r.table)} ${withLen(r.dst as string, family)} via=${r.gateway ?? ''} dev=${r.dev ?? ''} metric=${r.metric ?? ''} ${hops}${flagText(r.flags)}`,
      );
    }
  }
  const rules: string[] = [];
  for (const family of [4, 6] as const) {
    for (const r of ipJson(ns, `-${family}`, 'rule', 'show')) {
      const src = r.src === 'all' || r.src === undefined ? '' : `${r.src}/${r.srclen}`;
      const iif = r.iif ? ` iif=${r.iif}${'iif_detached' in r ? '!' : ''}` : '';
      const oif = r.oif ? ` oif=${r.oif}${'oif_detached' in r ? '!' : ''}` : '';
      rules.push(`${family} ${r.priority} from=${src} table=${r.table ? table(r.table) : ''}${iif}${oif}`);
    }
  }
  const neighbours = ipJson(ns, 'neigh', 'show', ...(all ? ['nud', 'all'] : [])).map(
    (n) => `${n.dev} ${n.dst} ${n.lladdr ?? ''}`,
  );
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
  return viewFromRecords(links, await nl.addr('dump'), await nl.route('dump'), await nl.rule('dump'), await nl.neigh('dump'));
}

type Rec = Record<string, unknown>;

/** View lines from plain records (Rtnl's dumps or the store's). */
function viewFromRecords(links: Rec[], addrs: Rec[], routeRecs: Rec[], ruleRecs: Rec[], neighRecs: Rec[]): KernelView {
  const names = new Map(links.map((l) => [l.index as number, l.ifname as string]));
  const lowerOf = (l: Rec) =>
    l.link_netnsid !== undefined ? `#${l.link}@${l.link_netnsid}` : l.link ? (names.get(l.link as number) ?? '') : '';
  const linkLines = links.map(
    (l) =>
      `${l.index} ${l.ifname} ${l.kind ?? ''} mtu=${l.mtu} ${l.state} ${l.address} master=${l.master ? names.get(l.master as number) : ''} link=${lowerOf(l)}`,
  );
  const addresses = addrs.map((a) => `${a.index} ${a.local ?? a.address}/${a.prefixlen}`);
  const routes = routeRecs
    .filter((r) => r.type !== 'multicast' && !(r.family === 'inet6' && r.dst === 'ff00::/8'))
    .map((r) => {
      const family = r.family === 'inet' ? 4 : 6;
      const multipath = r.multipath as Rec[] | undefined;
      const hops = multipath?.map((h) => `${h.gateway}*${h.weight}${flagBits(h.flags as number)}`).join(',') ?? '';
      const metric = family === 4 && r.priority === undefined ? '' : (r.priority ?? '');
      const dev = r.oif ? names.get(r.oif as number) : '';
      const own = multipath ? 0 : (r.flags as number);
      return `${family} ${r.table} ${r.dst} via=${r.gateway ?? ''} dev=${dev} metric=${metric} ${hops}${flagBits(own)}`;
    });
  const rules = ruleRecs
    .filter((r) => r.family === 'inet' || r.family === 'inet6')
    .map((r) => {
      const flags = r.flags as number;
      const iif = r.iifname ? ` iif=${r.iifname}${flags & 8 ? '!' : ''}` : '';
      const oif = r.oifname ? ` oif=${r.oifname}${flags & 16 ? '!' : ''}` : '';
      return `${r.family === 'inet' ? 4 : 6} ${r.priority ?? 0} from=${r.src ?? ''} table=${r.table || ''}${iif}${oif}`;
    });
  const neighbours = neighRecs
    .filter((n) => n.family === 'inet' || n.family === 'inet6')
    .map((n) => `${names.get(n.ifindex as number)} ${n.dst} ${n.lladdr ?? ''}`);
  return {
    links: linkLines.sort(),
    addresses: addresses.sort(),
    routes: routes.sort(),
    rules: rules.sort(),
    neighbours: neighbours.sort(),
  };
}

/** The view as the store holds it for one namespace. */
export function viewFromStore(db: NetState, ns: string): KernelView {
  const f = { netns: ns };
  return viewFromRecords(db.interfaces.list(f), db.addresses.list(f), db.routes.list(f), db.rules.list(f), db.neighbours.list(f));
}

/**
 * The fidelity check: the store equals what `ip -j -d` says about the
 * namespace. Events may still be in flight when it is called, so it
 * compares against a stable iproute2 snapshot and gives the store a moment
 * (event-driven: it re-checks after each batch the store applies) to catch up.
 */
export async function expectStoreMatchesKernel(db: NetState, ns: string, timeoutMs = 3000): Promise<void> {
  const { expect } = await import('vitest');
  const deadline = Date.now() + timeoutMs;
  let ours: KernelView;
  let theirs: KernelView;
  for (;;) {
    // As `ip neigh show`: the store leaves out NOARP entries, which the kernel makes without an event.
    const before = viewFromIproute2(ns, false);
    ours = viewFromStore(db, ns);
    theirs = viewFromIproute2(ns, false);
    const stable = JSON.stringify(before) === JSON.stringify(theirs);
    if (stable && JSON.stringify(ours) === JSON.stringify(theirs)) return;
    if (Date.now() > deadline) break;
    await nextBatch(db, 100);
  }
  expect(ours).toEqual(theirs);
}

/** Resolves on the store's next event, or after `ms` at most. */
function nextBatch(db: NetState, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    const sub = db.events$.subscribe(() => done());
    function done(): void {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve();
    }
  });
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
