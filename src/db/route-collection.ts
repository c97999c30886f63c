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

  /**
   * The stored body (rtmsg and attributes) of a route with this identity,
   * undefined when none; of several (other src, tos, type or IPv6 device),
   * the first in key order.
   */
  bodyOf(id: RouteIdentity): Buffer | undefined {
    const family = FAMILY[id.family];
    const dst = prefixColumn(family, id.dst);
    if (id.priority === undefined) {
      this.anyPriority ??= this.prepare('');
      return this.anyPriority.get(id.netns, id.table, family, dst) as Buffer | undefined;
    }
    this.onePriority ??= this.prepare(' AND t.priority = ?');
    return this.onePriority.get(id.netns, id.table, family, dst, id.priority) as Buffer | undefined;
  }

  private prepare(extra: string): Statement {
    return this.store.db
      .prepare(
        `SELECT t.body FROM routes t WHERE t.ns = (SELECT id FROM namespaces WHERE name = ?) AND t.tbl = ? AND t.family = ? AND t.dst = ?${extra} LIMIT 1`,
      )
      .pluck();
  }
}
