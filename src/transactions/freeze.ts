/**
 * Freeze: pin an interface's state (attributes, addresses, ports, and the
 * routes through it) and revert whatever other software changes, as soon as
 * its event arrives. Each revert is a commit from the current state back to
 * the pinned one, reported on `reverts$`.
 *
 *   const frozen = db.interfaces.freeze('v0');
 *   frozen.reverts$.subscribe((r) => console.log(r.review));
 *   frozen.release();
 */
import { Subject, type Subscription } from 'rxjs';
import type { NetState } from '../db/netstate.js';
import { NetStateError, ValidationError } from '../errors.js';
import { commitStaging } from './commit.js';
import { interfaceOf, routeOf } from './current.js';
import { diffObject, type ObjectDiff } from './diff.js';
import type { InterfaceTarget, RouteTarget, Staged } from './staged.js';
import { routeKey } from './transaction.js';

export interface Revert {
  /** What was found changed and put back, as a review would show it (current → pinned). */
  review: Record<string, ObjectDiff>;
  /** Steps the revert applied. */
  applied: string[];
  /** Set when the revert itself failed. */
  error?: Error;
}

/** Frozen interfaces by store, so a second freeze of one can be refused. */
const frozenBy = new WeakMap<NetState, Map<string, Frozen>>();

export class Frozen {
  readonly reverts$ = new Subject<Revert>();
  private readonly sub: Subscription;
  private running?: Promise<void>;
  private again = false;
  private released = false;

  private constructor(
    private readonly db: NetState,
    readonly netns: string,
    readonly ifname: string,
    private readonly pinned: InterfaceTarget,
    private readonly pinnedRoutes: RouteTarget[],
  ) {
    this.sub = db.applied$.subscribe(() => this.check());
  }

  static freeze(db: NetState, ifname: string, netns: string): Frozen {
    const key = `${netns}|${ifname}`;
    const mine = frozenBy.get(db) ?? new Map<string, Frozen>();
    frozenBy.set(db, mine);
    if (mine.has(key)) throw new NetStateError(`interface ${ifname} in ${netns} is frozen already`);
    const rec = db.interfaces.get({ netns, ifname });
    if (!rec) throw new ValidationError(`no interface named "${ifname}" in ${netns}`, 'ifname');
    const routes = db.routes
      .list({ netns, dev: ifname, table: 'all' })
      .filter((r) => r.proto !== 'kernel')
      .map((r) => routeOf(db, r));
    const frozen = new Frozen(db, netns, ifname, interfaceOf(db, rec), routes);
    mine.set(key, frozen);
    return frozen;
  }

  /** What differs from the pinned state now. */
  private staging(): { interfaces: Staged<InterfaceTarget>[]; routes: Staged<RouteTarget>[] } {
    const rec = this.db.interfaces.get({ netns: this.netns, ifname: this.ifname });
    const current = rec ? interfaceOf(this.db, rec) : undefined;
    const interfaces: Staged<InterfaceTarget>[] = [];
    if (!current || diffObject(comparable(current), comparable(this.pinned), ['ipaddr', 'ports'])) {
      interfaces.push({ base: current && { ...current, peer: this.pinned.peer }, target: this.pinned });
    }
    const routes: Staged<RouteTarget>[] = [];
    for (const pinned of this.pinnedRoutes) {
      const filter: Record<string, unknown> = {
        netns: pinned.netns,
        family: pinned.family,
        dst: pinned.dst,
        table: pinned.table,
      };
      if (pinned.priority !== undefined) filter.priority = pinned.priority;
      const r = this.db.routes.get(filter);
      const cur = r ? routeOf(this.db, r) : undefined;
      if (!cur || diffObject({ ...cur }, { ...pinned }, ['multipath'])) routes.push({ base: cur, target: pinned });
    }
    return { interfaces, routes };
  }

  /** Serialised: one revert at a time; events that come meanwhile trigger one more check. */
  private check(): void {
    if (this.released) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const staging = this.staging();
    if (staging.interfaces.length === 0 && staging.routes.length === 0) return;
    const review: Record<string, ObjectDiff> = {};
    for (const s of staging.interfaces)
      review[this.ifname] =
        diffObject(s.base && comparable(s.base), comparable(s.target as InterfaceTarget), ['ipaddr', 'ports']) ?? {};
    for (const s of staging.routes)
      review[routeKey(s.target as RouteTarget)] = diffObject(s.base && { ...s.base }, { ...s.target }, ['multipath']) ?? {};
    this.running = commitStaging(this.db, { ...staging, rules: [], neighbours: [] })
      .then(
        (report) => this.reverts$.next({ review, applied: report.applied }),
        (error: Error) => this.reverts$.next({ review, applied: [], error }),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.check();
        }
      });
  }

  /** Resolves once no revert is under way (and none is due). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Ends the freeze; the interface may change freely again. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.sub.unsubscribe();
    this.reverts$.complete();
    frozenBy.get(this.db)?.delete(`${this.netns}|${this.ifname}`);
  }

  static release(db: NetState, ifname: string, netns: string): void {
    const f = frozenBy.get(db)?.get(`${netns}|${ifname}`);
    if (!f) throw new NetStateError(`interface ${ifname} in ${netns} is not frozen`);
    f.release();
  }
}

/** The parts of an interface a freeze pins (link-local IPv6 addresses are the kernel's business). */
function comparable(t: InterfaceTarget): Record<string, unknown> {
  const { netns: _n, peer: _p, peerOf: _o, ...rest } = t;
  return { ...rest, ipaddr: t.ipaddr.filter((a) => !a.startsWith('fe80:')) };
}
