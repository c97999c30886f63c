/**
 * Freeze: pin objects' state and revert whatever other software changes, as
 * soon as its event arrives. Each revert is a commit from the current state
 * back to the pinned one, reported on `reverts$`.
 *
 *   const frozen = db.interfaces.freeze('v0');    // attributes, addresses, ports, routes through it, its shaping and forward
 *   db.routes.freeze('10.1.0.0/16');              // gateway, dev, nexthops, metrics
 *   db.rules.freeze(1000);                        // the rule with priority 1000 stays
 *   frozen.reverts$.subscribe((r) => console.log(r.review));
 *   frozen.release();
 */
import { Subject, type Subscription } from 'rxjs';
import { FAMILY_NAMES } from '../backends/netlink/constants.js';
import { tableNumber } from '../backends/netlink/families/route.js';
import { checkPrefix } from '../backends/netlink/families/validate.js';
import { ifname as ifnameSpec, parseSpec, shown, u32 } from '../backends/schema.js';
import type { Filter } from '../db/collection.js';
import { familyNumber } from '../db/kinds/values.js';
import type { StoreRecord } from '../db/records.js';
import { NetStateError, ValidationError } from '../errors.js';
import { commitStaging } from './commit.js';
import { ruleShown } from './confirm.js';
import { interfaceOf, isLinkLocal, routeLookup, routeOf, ruleOf, tuntapOf } from './current.js';
import { canonical, diffObject, type ObjectDiff } from './diff.js';
import type { Host } from './host.js';
import { attributesOf } from './kernel-model.js';
import { describeRoute, describeRule } from './names.js';
import type { Staging } from './plan.js';
import { tcDrift } from './shaping.js';
import type { AddressAttributes, InterfaceTarget, RouteTarget, RuleTarget, Staged } from './staged.js';
import { readIngress, readRoot, type TcTarget } from './tc-targets.js';

export interface Revert {
  /** What was found changed and put back, as a review would show it (current → pinned). */
  review: Record<string, ObjectDiff>;
  /** Steps the revert applied. */
  applied: string[];
  /** Set when the revert itself failed. */
  error?: Error;
}

type PinKind = 'interfaces' | 'routes' | 'rules' | 'tc';

/** One pinned object: how to read its current state, and what of it counts as a change. */
interface Pin {
  kind: PinKind;
  label: string;
  pinned: Pinned;
  /** What the object is now, as a target; undefined when it is gone. */
  current(): Pinned | undefined;
  /** current → pinned; undefined when nothing a freeze cares about differs. */
  drift(current: Pinned | undefined): ObjectDiff | undefined;
}

type Pinned = InterfaceTarget | RouteTarget | RuleTarget | TcTarget;

/** Each store's revert queue: reverts of all its freezes, one after another. */
const revertQueues = new WeakMap<Host, Promise<void>>();

/** Frozen objects by store, so a second freeze of one can be refused. */
const frozenBy = new WeakMap<Host, Map<string, Frozen>>();

export class Frozen {
  readonly reverts$ = new Subject<Revert>();
  private readonly sub: Subscription;
  private running?: Promise<void>;
  private queued = false;
  private released = false;

  private constructor(
    private readonly db: Host,
    /** What was frozen: `interface lab:v0`, `route lab:10.1.0.0/16`, `rule lab:1000 from all lookup 100`. */
    readonly name: string,
    private readonly pins: Pin[],
  ) {
    this.sub = db.applied$.subscribe(() => this.check());
  }

  /** The interface, its addresses and ports, the routes through it, its root qdisc and its forward. */
  static interface(db: Host, ifname: string, netns: string): Frozen {
    parseSpec(ifnameSpec, ifname, 'freeze', 'ifname');
    const rec = db.interfaces.get({ netns, ifname });
    if (!rec) throw new ValidationError(`no interface named "${ifname}" in ${netns}`, 'ifname');
    const routes = db.routes
      .list({ netns, dev: ifname, table: 'all' })
      .filter((r) => r.proto !== 'kernel')
      .map((r) => routePin(db, r));
    const link = { netns, ifname, index: rec.index as number };
    const tc = [tcPin(db, link, 'root'), tcPin(db, link, 'ingress')].filter((p) => p !== undefined);
    return Frozen.register(db, `interface ${netns}:${ifname}`, [interfacePin(db, rec), ...routes, ...tc]);
  }

  /** One route: a prefix (table main) or `{ dst, table, priority, family }`. */
  static route(db: Host, spec: string | Filter, netns: string): Frozen {
    const filter = routeFilter(spec);
    const rec = db.routes.get({ ...filter, netns });
    if (!rec) throw new ValidationError(`no route ${shown(filter)} in ${netns}`, 'dst');
    const pin = routePin(db, rec);
    return Frozen.register(db, `route ${netns}:${pin.label}`, [pin]);
  }

  /** One rule: its priority or a partial spec; it is kept in existence with its whole match set. */
  static rule(db: Host, spec: number | Filter, netns: string): Frozen {
    const filter = ruleFilter(spec);
    const rec = db.rules.get({ ...filter, netns });
    if (!rec) throw new ValidationError(`no rule ${shown(filter)} in ${netns}`, 'rule');
    const pin = rulePin(db, rec);
    return Frozen.register(db, `rule ${netns}:${pin.label}`, [pin]);
  }

  private static register(db: Host, name: string, pins: Pin[]): Frozen {
    const mine = frozenBy.get(db) ?? new Map<string, Frozen>();
    frozenBy.set(db, mine);
    if (mine.has(name)) throw new NetStateError(`${name} is frozen already`);
    const frozen = new Frozen(db, name, pins);
    mine.set(name, frozen);
    return frozen;
  }

  /** Ends the freeze named like `Frozen.name` (what `db.interfaces.unfreeze(...)` calls). */
  static release(db: Host, name: string): void {
    const f = frozenBy.get(db)?.get(name);
    if (!f) throw new NetStateError(`${name} is not frozen`);
    f.release();
  }

  /**
   * Ends the freeze of the route or rule a spec names, as it was pinned (it
   * may be gone from the kernel by now): `db.routes.unfreeze('10.1.0.0/16')`.
   */
  static releaseMatching(db: Host, kind: 'routes' | 'rules', netns: string, spec: Filter): void {
    // The object the spec names now, found as freeze found it, is released by its name.
    const rec = db[kind].get({ ...spec, netns });
    if (rec) {
      const pin = kind === 'routes' ? routePin(db, rec) : rulePin(db, rec);
      const f = frozenBy.get(db)?.get(`${kind === 'routes' ? 'route' : 'rule'} ${netns}:${pin.label}`);
      if (f) {
        f.release();
        return;
      }
    }
    // Gone from the kernel: the freeze whose pinned object has the spec's values.
    for (const f of frozenBy.get(db)?.values() ?? []) {
      const pin = f.pins[0] as Pin;
      if (pin.kind !== kind || pin.pinned.netns !== netns) continue;
      // A rule of priority 0 has no priority attribute: its record shows none.
      const pinned = { ...(kind === 'rules' ? { priority: 0 } : {}), ...pin.pinned } as Record<string, unknown>;
      if (Object.entries(asPinned(kind, spec)).every(([k, v]) => canonical(pinned[k]) === canonical(v))) {
        f.release();
        return;
      }
    }
    throw new NetStateError(`no frozen ${kind === 'routes' ? 'route' : 'rule'} ${shown(spec)} in ${netns}`);
  }

  /**
   * Reverts run one at a time per store, whichever freeze asks: two freezes
   * that cover one object (an interface's and one of its routes') never
   * revert it twice. Each revert looks at the object when its turn comes;
   * events that arrive meanwhile queue one more check.
   */
  private check(): void {
    if (this.released || this.queued) return;
    this.queued = true;
    const turn = (revertQueues.get(this.db) ?? Promise.resolve()).then(() => this.revert());
    revertQueues.set(this.db, turn);
    this.running = turn;
    void turn.finally(() => {
      if (this.running === turn) this.running = undefined;
    });
  }

  private async revert(): Promise<void> {
    this.queued = false;
    if (this.released) return;
    const staging: Staging & Record<PinKind, Staged<unknown>[]> = {
      interfaces: [],
      routes: [],
      rules: [],
      neighbours: [],
      tc: [],
    };
    const review: Record<string, ObjectDiff> = {};
    for (const pin of this.pins) {
      const current = pin.current();
      const drift = pin.drift(current);
      if (!drift) continue;
      review[pin.label] = drift;
      staging[pin.kind].push({ base: current, target: pin.pinned });
    }
    if (Object.keys(review).length === 0) return;
    try {
      const report = await commitStaging(this.db, staging as Staging);
      this.reverts$.next({ review, applied: report.applied });
    } catch (error) {
      this.reverts$.next({ review, applied: [], error: error as Error });
    }
  }

  /** Resolves once no revert is under way (and none is due). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Ends the freeze; the objects may change freely again. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.sub.unsubscribe();
    this.reverts$.complete();
    frozenBy.get(this.db)?.delete(this.name);
  }
}

/** What a route spec names: a prefix in table main, or fields of the route (dst in canonical form). */
export function routeFilter(spec: string | Filter): Filter {
  // A route is never picked by a guess: anything but a prefix or a spec with its dst is refused.
  const filter: Filter = typeof spec === 'string' ? { dst: spec } : { ...plainObject(spec, 'dst') };
  if (filter.dst === undefined) throw new ValidationError(`route: name it by its dst, got ${shown(spec)}`, 'dst');
  if (filter.table !== undefined && typeof filter.table !== 'string' && typeof filter.table !== 'number')
    throw new ValidationError(`route: table: ${shown(filter.table)} is not a table name or number`, 'table');
  if (filter.table === undefined) filter.table = 254;
  else filter.table = tableNumber(filter.table);
  if (typeof filter.dst === 'string' && filter.dst !== 'default') {
    const p = checkPrefix(filter.dst, 'dst');
    filter.dst = p.length === 0 ? 'default' : `${p.address}/${p.length}`;
  }
  return filter;
}

export function ruleFilter(spec: number | Filter): Filter {
  if (typeof spec === 'number') return { priority: parseSpec(u32, spec, 'rule', 'priority') };
  const filter = plainObject(spec, 'rule');
  if (!Object.values(filter).some((v) => v !== undefined))
    throw new ValidationError('rule: name it (its priority, or some of its fields); an empty spec names none', 'rule');
  return filter;
}

/**
 * A spec's values as pinned objects hold them, as the store's filters read
 * them when freezing: a family by name (4, 2 and 'ipv4' are 'inet'), a
 * rule's table by number.
 */
function asPinned(kind: PinKind, spec: Filter): Filter {
  const out = { ...spec };
  const named = (v: unknown) => typeof v === 'string' || typeof v === 'number';
  if (named(out.family)) out.family = FAMILY_NAMES[familyNumber(out.family)];
  if (kind === 'rules' && named(out.table)) out.table = tableNumber(out.table);
  return out;
}

/** A spec that must be a plain object; `field` is what the refusal names. Its namespace is the option's. */
function plainObject(spec: unknown, field: string): Filter {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec))
    throw new ValidationError(`expected ${field === 'dst' ? 'a prefix' : 'a priority'} or an object, got ${shown(spec)}`, field);
  if ((spec as Filter).netns !== undefined)
    throw new ValidationError('netns: give the namespace as an option: freeze(spec, { netns })', 'netns');
  return spec as Filter;
}

function interfacePin(db: Host, rec: StoreRecord): Pin {
  // With each address's attributes: one put back comes back with its label, flags, lifetimes, metric.
  const base = interfaceOf(db, rec);
  const ipattrs: Record<string, AddressAttributes> = {};
  for (const a of db.addresses.list({ netns: base.netns, index: base.index as number })) {
    const cidr = `${a.local ?? a.address}/${a.prefixlen}`;
    const attrs = attributesOf(a, base.ifname, cidr);
    if (Object.keys(attrs).length) ipattrs[cidr] = attrs;
  }
  const pinned = Object.keys(ipattrs).length ? { ...base, ipattrs } : base;
  const pin: Pin = {
    kind: 'interfaces',
    label: pinned.ifname,
    pinned,
    current() {
      const r = db.interfaces.get({ netns: pinned.netns, ifname: pinned.ifname });
      // The peer is not something a record says; keep the pinned one so a recreation makes the pair.
      return r ? { ...interfaceOf(db, r), peer: pinned.peer } : undefined;
    },
    drift: (cur) =>
      diffObject(cur && comparable(cur as InterfaceTarget), comparable(pin.pinned as InterfaceTarget), [
        'ipaddr',
        'ports',
        'altnames',
      ]),
  };
  if (rec.kind === 'tun') {
    // A tun/tap's owner and group are set by ioctls the kernel announces nothing of: asked for again.
    void db
      .refresh(pinned.netns, 'link', 'get', { index: pinned.index as number })
      .then(() => {
        const fresh = db.interfaces.get({ netns: pinned.netns, index: pinned.index as number });
        if (fresh) pin.pinned = { ...(pin.pinned as InterfaceTarget), tuntap: tuntapOf(fresh) };
      })
      .catch(() => undefined);
  }
  return pin;
}

function routePin(db: Host, rec: StoreRecord): Pin {
  const pinned = routeOf(db, rec);
  return {
    kind: 'routes',
    label: describeRoute(pinned),
    pinned,
    current() {
      const r = db.routes.get(routeLookup(pinned));
      return r ? routeOf(db, r) : undefined;
    },
    drift: (cur) => diffObject(cur && { ...cur }, { ...pinned }, ['multipath']),
  };
}

/**
 * A link's root qdisc or its forward, kept as it is (by the link's index: a
 * link the freeze makes again gets it back). Not pinned when netstate could
 * not make it again (an htb with classes, filters of others).
 */
function tcPin(db: Host, link: { netns: string; ifname: string; index: number }, slot: 'root' | 'ingress'): Pin | undefined {
  const read = (): TcTarget => (slot === 'root' ? readRoot(db, link) : readIngress(db, link));
  const pinned = read();
  if (pinned.foreign) return undefined;
  return {
    kind: 'tc',
    label: `${link.ifname} ${slot === 'root' ? 'qdisc' : 'forward'}`,
    pinned,
    current: read,
    drift: (cur) => tcDrift(cur as TcTarget, pinned),
  };
}

/** A rule's identity is its whole match set: it is there or it is not. */
function rulePin(db: Host, rec: StoreRecord): Pin {
  const pinned = ruleOf(rec);
  return {
    kind: 'rules',
    label: describeRule(pinned),
    pinned,
    current: () => (ruleShown(db, { target: pinned }, ruleOf) ? pinned : undefined),
    drift: (cur) => (cur ? undefined : diffObject(undefined, { ...pinned }, [])),
  };
}

/** The parts of an interface a freeze pins (link-local IPv6 addresses are the kernel's business). */
function comparable(t: InterfaceTarget): Record<string, unknown> {
  const { netns: _n, peer: _p, peerOf: _o, index: _i, ipattrs: _a, ...rest } = t;
  return { ...rest, ipaddr: t.ipaddr.filter((a) => !isLinkLocal(a)) };
}
