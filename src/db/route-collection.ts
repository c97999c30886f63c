/**
 * Routes: the reading API of every kind, plus point lookups by identity for
 * the paths that run once per route of a 100 000-route commit (staging's
 * "exists already", the commit's confirmation). They prepare their SQL once
 * and return the stored bytes, undecoded.
 */
import type { Statement } from 'better-sqlite3';
import { Collection, type Filter } from './collection.js';
import { prefixColumn } from './kinds/values.js';
import type { StoredRoute } from './records.js';

/** What names one route to the kernel (as `ip route get` would need it): no gateway, no device. */
export interface RouteIdentity {
  netns: string;
  family: 'inet' | 'inet6';
  table: number;
  /** 'a/len' or 'default'. */
  dst: string;
  /** The family's default when undefined: 0 for IPv4, 1024 for IPv6 (what the kernel stores for "no metric"). */
  priority?: number;
  /** The type of service (IPv4): routes to one prefix with different tos are different routes. 0 when undefined. */
  tos?: number;
}

/** What the kernel stores as a route's priority when none (or, for IPv6, 0) is given. */
export const DEFAULT_PRIORITY = { inet: 0, inet6: 1024 } as const;

const FAMILY = { inet: 2, inet6: 10 } as const;

/** What stays true between two route changes: a namespace's id, and which of its tables are empty. */
interface NamespaceMemo {
  id: number;
  empty: Map<number, boolean>;
}

export class RouteCollection extends Collection<StoredRoute> {
  private onePriority?: Statement;
  private anyRoute?: Statement;
  private namespaceId?: Statement;
  /**
   * Bumped whenever the store applies a route change or forgets a namespace.
   * Between two bumps a table found empty stays empty, and lookups in it
   * need no SQL: staging 100 000 routes into a fresh table asks once, not
   * 100 000 times.
   */
  generation = 0;
  private memoGeneration = -1;
  private readonly memo = new Map<string, NamespaceMemo>();

  /**
   * The stored body (rtmsg and attributes) of a route with this identity,
   * undefined when none; of several (other src, tos, type or device), the
   * first in key order.
   */
  bodyOf(id: RouteIdentity): Buffer | undefined {
    const ns = this.namespaceMemo(id.netns);
    if (!ns || this.tableEmpty(ns, id.table)) return undefined;
    const family = FAMILY[id.family];
    const dst = prefixColumn(family, id.dst);
    const priority = id.priority ?? DEFAULT_PRIORITY[id.family];
    this.onePriority ??= this.prepare(' AND t.priority = ? AND t.tos = ?');
    return this.onePriority.get(ns.id, id.table, family, dst, priority, id.tos ?? 0) as Buffer | undefined;
  }

  /**
   * The stored bodies of every route through a link (of one family, or
   * both): by its device, or by one of its nexthops. What the kernel takes
   * when the link goes down, goes away or loses its last IPv4 address.
   */
  through(netns: string, index: number, family?: 'inet' | 'inet6'): Buffer[] {
    const ns = this.namespaceMemo(netns);
    if (!ns) return [];
    const fam = family ? ` AND t.family = ${FAMILY[family]}` : '';
    return this.store
      .sql(
        `SELECT t.body FROM routes t WHERE t.ns = ? AND t.oif = ?${fam} ` +
          `UNION ALL SELECT t.body FROM routes_oifs o JOIN routes t ON t.id = o.owner WHERE o.ns = ? AND o.oif = ?${fam}`,
      )
      .pluck()
      .all(ns.id, index, ns.id, index) as Buffer[];
  }

  /** A bare address with `dst_len` (as NDB spells a route's prefix) is one prefix. */
  protected override filterOf(spec: string | number | Filter): Filter {
    const filter = super.filterOf(spec);
    if (filter.dst_len === undefined || typeof filter.dst !== 'string' || filter.dst.includes('/')) return filter;
    const { dst_len, ...rest } = filter;
    return { ...rest, dst: `${filter.dst}/${dst_len}` };
  }

  private namespaceMemo(netns: string): NamespaceMemo | undefined {
    if (this.memoGeneration !== this.generation) {
      this.memo.clear();
      this.memoGeneration = this.generation;
    }
    let ns = this.memo.get(netns);
    if (ns) return ns;
    this.namespaceId ??= this.store.db.prepare('SELECT id FROM namespaces WHERE name = ?').pluck();
    const id = this.namespaceId.get(netns) as number | undefined;
    if (id === undefined) return undefined; // not followed (yet): not remembered
    ns = { id, empty: new Map() };
    this.memo.set(netns, ns);
    return ns;
  }

  private tableEmpty(ns: NamespaceMemo, table: number): boolean {
    let empty = ns.empty.get(table);
    if (empty === undefined) {
      this.anyRoute ??= this.store.db.prepare('SELECT 1 FROM routes t WHERE t.ns = ? AND t.tbl = ? LIMIT 1').pluck();
      empty = this.anyRoute.get(ns.id, table) === undefined;
      ns.empty.set(table, empty);
    }
    return empty;
  }

  private prepare(extra: string): Statement {
    return this.store.db
      .prepare(`SELECT t.body FROM routes t WHERE t.ns = ? AND t.tbl = ? AND t.family = ? AND t.dst = ?${extra} LIMIT 1`)
      .pluck();
  }
}
