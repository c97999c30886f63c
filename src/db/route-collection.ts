/**
 * Routes: the reading API of every kind, plus point lookups by identity for
 * the paths that run once per route of a 100 000-route commit (staging's
 * "exists already", the commit's confirmation). They prepare their SQL once
 * and return the stored bytes, undecoded.
 */
import type { Statement } from 'better-sqlite3';
import { type Filter, FreezableCollection } from './collection.js';
import { prefixColumn } from './kinds/values.js';

/** What names one route to the kernel (as `ip route get` would need it): no gateway, no device. */
export interface RouteIdentity {
  netns: string;
  family: 'inet' | 'inet6';
  table: number;
  /** 'a/len' or 'default'. */
  dst: string;
  /** Any priority when undefined. */
  priority?: number;
}

const FAMILY = { inet: 2, inet6: 10 } as const;

export class RouteCollection extends FreezableCollection<string | Filter> {
  private anyPriority?: Statement;
  private onePriority?: Statement;
  private anyRoute?: Statement;
  /**
   * Bumped whenever the store applies a route change. Between two bumps a
   * table found empty stays empty, and lookups in it need no SQL: staging
   * 100 000 routes into a fresh table asks once, not 100 000 times.
   */
  generation = 0;
  private readonly emptiness = new Map<string, { generation: number; empty: boolean }>();

  /**
   * The stored body (rtmsg and attributes) of a route with this identity,
   * undefined when none; of several (other src, tos, type or IPv6 device),
   * the first in key order.
   */
  bodyOf(id: RouteIdentity): Buffer | undefined {
    if (this.tableEmpty(id.netns, id.table)) return undefined;
    const family = FAMILY[id.family];
    const dst = prefixColumn(family, id.dst);
    if (id.priority === undefined) {
      this.anyPriority ??= this.prepare('');
      return this.anyPriority.get(id.netns, id.table, family, dst) as Buffer | undefined;
    }
    this.onePriority ??= this.prepare(' AND t.priority = ?');
    return this.onePriority.get(id.netns, id.table, family, dst, id.priority) as Buffer | undefined;
  }

  private tableEmpty(netns: string, table: number): boolean {
    const key = `${netns}|${table}`;
    const known = this.emptiness.get(key);
    if (known?.generation === this.generation) return known.empty;
    this.anyRoute ??= this.store.db
      .prepare('SELECT 1 FROM routes t WHERE t.ns = (SELECT id FROM namespaces WHERE name = ?) AND t.tbl = ? LIMIT 1')
      .pluck();
    const empty = this.anyRoute.get(netns, table) === undefined;
    this.emptiness.set(key, { generation: this.generation, empty });
    return empty;
  }

  private prepare(extra: string): Statement {
    return this.store.db
      .prepare(
        `SELECT t.body FROM routes t WHERE t.ns = (SELECT id FROM namespaces WHERE name = ?) AND t.tbl = ? AND t.family = ? AND t.dst = ?${extra} LIMIT 1`,
      )
      .pluck();
  }
}
