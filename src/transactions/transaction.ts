/**
 * A transaction: staged changes on immutable snapshots (immer), reviewed as
 * a diff, nothing sent to the kernel until commit.
 *
 *   const tx = db.begin();
 *   tx.create({ kind: 'veth', ifname: 'v0', peer: 'v1' }).up().addIp('10.0.0.1/24');
 *   tx.interface('v1').set({ mtu: 1400 });
 *   tx.addRoute({ dst: '10.1.0.0/16', gateway: '10.0.0.2' });
 *   tx.review();   // { interfaces: { v0: { '+ipaddr': ['10.0.0.1/24'], kind: 'veth', ... } }, routes: { ... } }
 *   tx.drop();
 *
 * Bad input is refused at the staging call with a ValidationError.
 */
import { produce } from 'immer';
import { echo } from '../backends/icmp.js';
import { parsePrefix } from '../backends/netlink/codec/address.js';
import { LINK_KINDS } from '../backends/netlink/families/link-kinds.js';
import { ADDR_GEN_MODES } from '../backends/netlink/families/names.js';
import { tableNumber } from '../backends/netlink/families/route.js';
import { checkIfname, checkInt, checkMac, checkMtu, checkPrefix } from '../backends/netlink/families/validate.js';
import { Rtnl } from '../backends/netlink/rtnl.js';
import type { NetState } from '../db/netstate.js';
import { ROOT } from '../db/source.js';
import { NetStateError, ValidationError } from '../errors.js';
import { type Check, type CommitOptions, type CommitReport, commitStaging } from './commit.js';
import { interfaceOf, isLinkLocal, neighbourOf, routeLookup, routeOf, ruleOf, uppersOf } from './current.js';
import { diffObject, type ObjectDiff } from './diff.js';
import { type DumpedState, stageState } from './load.js';
import type { InterfaceTarget, NeighbourTarget, NexthopTarget, RouteTarget, RuleTarget, Staged } from './staged.js';

/** Kinds the backend can create (the kernel may still lack some: it says so at commit). */
export const CREATABLE_KINDS: ReadonlySet<string> = new Set(LINK_KINDS);

const SETTABLE = new Set([
  'state',
  'mtu',
  'address',
  'master',
  'ifalias',
  'alias',
  'txqlen',
  'ifname',
  'data',
  'addr_gen_mode',
  'netns',
]);

export interface Review {
  interfaces: Record<string, ObjectDiff>;
  routes: Record<string, ObjectDiff>;
  rules: Record<string, ObjectDiff>;
  neighbours: Record<string, ObjectDiff>;
}

let nextId = 1;

export class Transaction {
  readonly id = nextId++;
  private dropped = false;
  /** Touched objects by key: where they started and where they go. */
  readonly interfaces = new Map<string, Staged<InterfaceTarget>>();
  readonly routes = new Map<string, Staged<RouteTarget>>();
  readonly rules = new Map<string, Staged<RuleTarget>>();
  readonly neighbours = new Map<string, Staged<NeighbourTarget>>();

  constructor(
    readonly db: NetState,
    /** The namespace a spec without `netns` means. */
    readonly netns: string,
  ) {}

  // ---- interfaces

  /** A handle on an existing (or already staged) interface; ValidationError when there is none. */
  interface(ifname: string, opts: { netns?: string } = {}): InterfaceHandle {
    this.live();
    const key = this.ifKey(checkIfname(ifname), opts.netns);
    this.touchInterface(key, true);
    return new InterfaceHandle(this, key);
  }

  /** Stages a new interface: `{ kind, ifname, peer?, netns?, data?, mtu?, ... }`. */
  create(spec: Record<string, unknown>): InterfaceHandle {
    this.live();
    const { kind, ifname, peer, netns, data, link, index, ...rest } = spec;
    if (typeof kind !== 'string' || !CREATABLE_KINDS.has(kind)) {
      throw new ValidationError(`kind: ${JSON.stringify(kind)} is not one of ${[...CREATABLE_KINDS].join(', ')}`, 'kind');
    }
    const name = checkIfname(ifname);
    const ns = (netns as string | undefined) ?? this.netns;
    const key = this.ifKey(name, ns);
    this.refuseTaken(key);
    const target: InterfaceTarget = { netns: ns, ifname: name, kind, state: 'down', ipaddr: [], ports: [] };
    if (data !== undefined) target.data = data as Record<string, unknown>;
    // An index asked for (`ip link add ... index N`); load() recreates links with theirs.
    if (index !== undefined) target.index = checkInt(index, 'index', 1, 0x7fffffff);
    if (link !== undefined) {
      // A macvlan, vlan or vxlan sits on another link of its namespace (existing or staged).
      target.link = checkIfname(link, 'link');
      this.touchInterface(this.ifKey(target.link, ns), true);
    }
    if (kind === 'veth') {
      const p =
        typeof peer === 'string' ? { ifname: peer } : (peer as { ifname: string; netns?: string; index?: number } | undefined);
      if (!p || typeof p.ifname !== 'string')
        throw new ValidationError('peer: a veth needs a peer name (peer: "v1" or { ifname, netns })', 'peer');
      const peerKey = this.ifKey(checkIfname(p.ifname, 'peer'), p.netns ?? ns);
      if (peerKey === key) throw new ValidationError(`peer: "${p.ifname}" is the veth's own name`, 'peer');
      this.refuseTaken(peerKey);
      target.peer = p.netns && p.netns !== ns ? { ifname: p.ifname, netns: p.netns } : { ifname: p.ifname };
      const peerTarget: InterfaceTarget = {
        netns: p.netns ?? ns,
        ifname: p.ifname,
        kind: 'veth',
        peerOf: name,
        state: 'down',
        ipaddr: [],
        ports: [],
      };
      if (p.index !== undefined) {
        target.peer.index = checkInt(p.index, 'peer.index', 1, 0x7fffffff);
        peerTarget.index = target.peer.index;
      }
      this.interfaces.set(peerKey, { target: peerTarget });
    } else if (peer !== undefined) {
      throw new ValidationError(`peer: only a veth has a peer, not a ${kind}`, 'peer');
    }
    this.interfaces.set(key, { target });
    const handle = new InterfaceHandle(this, key);
    if (Object.keys(rest).length) handle.set(rest);
    return handle;
  }

  // ---- routes

  /** Stages a new route; ValidationError when one with that key exists or is staged. */
  addRoute(spec: Record<string, unknown>): RouteHandle {
    this.live();
    const target = this.routeTarget(spec);
    const key = routeKey(target);
    const existing = this.routes.get(key);
    if (existing?.target || (!existing && this.db.routes.bodyOf(target))) {
      throw new ValidationError(`route ${describeRoute(target)} exists already; use tx.route(...) to change it`, 'dst');
    }
    this.routes.set(key, { base: existing?.base, target });
    return new RouteHandle(this, key);
  }

  /** A handle on an existing or staged route: a prefix (table main) or `{ dst, table, priority, family }`. */
  route(spec: string | Record<string, unknown>): RouteHandle {
    this.live();
    const s = typeof spec === 'string' ? { dst: spec } : spec;
    const probe = this.routeTarget({ ...s, gateway: undefined, dev: undefined, multipath: undefined }, true);
    const key = routeKey(probe);
    if (!this.routes.has(key)) {
      const rec = this.findRoute(probe);
      if (!rec) throw new ValidationError(`no route ${describeRoute(probe)} in ${probe.netns}`, 'dst');
      this.routes.set(key, { base: rec, target: rec });
    } else if (!this.routes.get(key)?.target) {
      throw new ValidationError(`route ${describeRoute(probe)} is staged for removal`, 'dst');
    }
    return new RouteHandle(this, key);
  }

  // ---- rules and neighbours

  addRule(spec: Record<string, unknown>): this {
    this.live();
    const target = { netns: (spec.netns as string) ?? this.netns, family: 'inet', ...spec } as RuleTarget;
    if (target.priority !== undefined) checkInt(target.priority, 'priority', 0, 0xffffffff);
    if (target.table !== undefined) target.table = tableNumber(target.table);
    for (const f of ['src', 'dst'] as const) {
      if (target[f] === undefined) continue;
      const p = checkPrefix(target[f], f);
      target[f] = `${p.address}/${p.length}`;
    }
    const key = canonicalKey(target);
    if (this.rules.get(key)?.target) throw new ValidationError('that rule is staged already', 'rule');
    this.rules.set(key, { base: this.rules.get(key)?.base, target });
    return this;
  }

  removeRule(spec: Record<string, unknown>): this {
    this.live();
    const netns = (spec.netns as string) ?? this.netns;
    const { netns: _n, ...filter } = spec;
    const rec = this.db.rules.get({ ...filter, netns });
    if (!rec) throw new ValidationError(`no rule ${JSON.stringify(filter)} in ${netns}`, 'rule');
    const base = ruleOf(rec);
    this.rules.set(canonicalKey(base), { base });
    return this;
  }

  addNeighbour(spec: Record<string, unknown>): this {
    this.live();
    const netns = (spec.netns as string) ?? this.netns;
    const dev = (spec.ifname ?? spec.dev) as string;
    this.touchInterface(this.ifKey(checkIfname(dev, 'ifname'), netns), true);
    const dst = parsePrefix(String(spec.dst));
    if (!dst || dst.length !== dst.bytes.length * 8)
      throw new ValidationError(`dst: ${JSON.stringify(spec.dst)} is not an address`, 'dst');
    const target: NeighbourTarget = {
      netns,
      family: dst.family === 4 ? 'inet' : 'inet6',
      dev,
      dst: dst.address,
      state: (spec.state as string) ?? 'permanent',
    };
    if (spec.lladdr !== undefined) target.lladdr = checkMac(spec.lladdr, 'lladdr');
    const key = `${netns}|${dev}|${target.dst}`;
    const base = this.neighbours.get(key)?.base ?? this.currentNeighbour(target);
    this.neighbours.set(key, { base, target });
    return this;
  }

  removeNeighbour(spec: Record<string, unknown>): this {
    this.live();
    const netns = (spec.netns as string) ?? this.netns;
    const dev = (spec.ifname ?? spec.dev) as string;
    const probe = { netns, family: 'inet', dev, dst: String(spec.dst) } as NeighbourTarget;
    const base = this.currentNeighbour(probe);
    if (!base) throw new ValidationError(`no neighbour ${spec.dst} on ${dev} in ${netns}`, 'dst');
    this.neighbours.set(`${netns}|${dev}|${base.dst}`, { base });
    return this;
  }

  // ---- whole states

  /**
   * Stages the changes that turn the current state into `state`, as
   * `db.dump()` gives it (see load.ts for what is compared).
   *
   *   const saved = db.dump();  ...  db.begin().load(saved).commit();
   */
  load(state: DumpedState): this {
    this.live();
    stageState(this, state);
    return this;
  }

  // ---- commit

  private readonly checks: Check[] = [];
  private committed = false;

  /** A predicate that must hold once the target is reached, or the commit rolls back. */
  check(fn: () => Promise<unknown>): this {
    this.live();
    this.checks.push(fn);
    return this;
  }

  /**
   * A check that `address` answers an ICMP echo from a namespace (this
   * transaction's by default) once the target is reached, as `ping` from
   * inside it would; unanswered within `timeout` ms (default 2000), the
   * commit rolls back.
   */
  ensureReachable(address: string, opts: { netns?: string; timeout?: number } = {}): this {
    this.live();
    const netns = opts.netns ?? this.netns;
    checkGateway(address, address.includes(':') ? 6 : 4, 'address');
    this.checks.push({
      name: `ensureReachable ${address}${netns === this.netns ? '' : ` from ${netns}`}`,
      fn: async () => {
        const where = netns === ROOT ? undefined : netns;
        try {
          return await echo(where, address, { timeout: opts.timeout });
        } catch (e) {
          await forgetUnanswered(where, address);
          throw e;
        }
      },
    });
    return this;
  }

  /**
   * Applies the staged changes in dependency order, waits until the store
   * shows them, runs the checks; all or nothing: on any failure everything
   * applied is undone and a TransactionError says what failed and what was
   * rolled back.
   */
  async commit(options: CommitOptions = {}): Promise<CommitReport> {
    this.live();
    if (this.committed) throw new NetStateError(`transaction ${this.id} was committed already`);
    this.committed = true;
    try {
      return await commitStaging(
        this.db,
        {
          interfaces: [...this.interfaces.values()],
          routes: [...this.routes.values()],
          rules: [...this.rules.values()],
          neighbours: [...this.neighbours.values()],
        },
        { ...options, checks: [...this.checks, ...(options.checks ?? [])] },
      );
    } finally {
      this.dropped = true;
    }
  }

  // ---- review and drop

  /** The staged changes as set operations, sorted; JSON-serialisable. */
  review(): Review {
    this.live();
    const out: Review = { interfaces: {}, routes: {}, rules: {}, neighbours: {} };
    const add = <T extends { netns: string }>(
      into: Record<string, ObjectDiff>,
      map: Map<string, Staged<T>>,
      sets: string[],
      label: (t: T) => string,
    ) => {
      for (const s of map.values()) {
        let d = diffObject(strip(s.base), strip(s.target), sets);
        if (s.base && s.target && s.base.netns !== s.target.netns) {
          // A move: the key leaves netns out, so say it here.
          d = Object.fromEntries(Object.entries({ ...d, netns: s.target.netns }).sort(([a], [b]) => (a < b ? -1 : 1)));
        }
        if (d) into[label((s.target ?? s.base) as T)] = d;
      }
    };
    add(out.interfaces, this.interfaces, ['ipaddr', 'ports'], (t) => this.label(t.netns, t.ifname));
    add(out.routes, this.routes, ['multipath'], (t) => this.label(t.netns, describeRoute(t)));
    add(out.rules, this.rules, [], (t) => this.label(t.netns, describeRule(t)));
    add(out.neighbours, this.neighbours, [], (t) => this.label(t.netns, `${t.dst} dev ${t.dev}`));
    for (const k of Object.keys(out) as (keyof Review)[])
      out[k] = Object.fromEntries(Object.entries(out[k]).sort(([a], [b]) => (a < b ? -1 : 1)));
    return out;
  }

  /** Discards every staged change; the transaction cannot be used afterwards. */
  drop(): void {
    this.live();
    this.dropped = true;
    this.interfaces.clear();
    this.routes.clear();
    this.rules.clear();
    this.neighbours.clear();
  }

  get isDropped(): boolean {
    return this.dropped;
  }

  // ---- internals used by the handles

  live(): void {
    if (this.dropped) throw new NetStateError(`transaction ${this.id} was ${this.committed ? 'committed' : 'dropped'}`);
  }

  ifKey(ifname: string, netns = this.netns): string {
    return `${netns}|${ifname}`;
  }

  /** Loads an interface's current state into the transaction; with `must`, refuses one that does not exist. */
  touchInterface(key: string, must: boolean): Staged<InterfaceTarget> | undefined {
    const staged = this.interfaces.get(key);
    if (staged) {
      if (!staged.target && must) throw new ValidationError(`interface ${key.split('|')[1]} is staged for removal`, 'ifname');
      return staged;
    }
    const [netns, ifname] = key.split('|') as [string, string];
    const rec = this.db.interfaces.get({ netns, ifname });
    if (!rec) {
      if (must) throw new ValidationError(`no interface named "${ifname}" in ${netns}`, 'ifname');
      return undefined;
    }
    const base = interfaceOf(this.db, rec);
    const s = { base, target: base };
    this.interfaces.set(key, s);
    return s;
  }

  updateInterface(key: string, fn: (draft: InterfaceTarget) => void): void {
    const s = this.touchInterface(key, true) as Staged<InterfaceTarget>;
    s.target = produce(s.target as InterfaceTarget, fn);
  }

  updateRoute(key: string, fn: (draft: RouteTarget) => void): void {
    const s = this.routes.get(key) as Staged<RouteTarget>;
    s.target = produce(s.target as RouteTarget, fn);
  }

  private refuseTaken(key: string): void {
    const [netns, ifname] = key.split('|') as [string, string];
    if (this.interfaces.get(key)?.target || (!this.interfaces.has(key) && this.db.interfaces.get({ netns, ifname }))) {
      throw new ValidationError(`an interface named "${ifname}" exists already in ${netns}`, 'ifname');
    }
  }

  /** A spec to a route target; ValidationError for anything inconsistent. */
  routeTarget(spec: Record<string, unknown>, probe = false): RouteTarget {
    const netns = (spec.netns as string) ?? this.netns;
    const dstText = spec.dst === undefined ? undefined : String(spec.dst);
    if (dstText === undefined) throw new ValidationError('dst: a route needs a destination (a/len or default)', 'dst');
    let family: 'inet' | 'inet6';
    let dst: string;
    if (dstText === 'default') {
      family = spec.family === 'inet6' || spec.family === 6 ? 'inet6' : 'inet';
      dst = 'default';
    } else {
      const p = checkPrefix(dstText, 'dst');
      family = p.family === 4 ? 'inet' : 'inet6';
      dst = p.length === 0 ? 'default' : `${p.address}/${p.length}`;
    }
    const target: RouteTarget = {
      netns,
      family,
      table: spec.table === undefined ? 254 : tableNumber(spec.table),
      dst,
      multipath: [],
    };
    const priority = spec.priority ?? spec.metric;
    if (priority !== undefined) target.priority = checkInt(priority, 'priority', 0, 0xffffffff);
    if (probe) return target;
    const fam = family === 'inet' ? 4 : 6;
    this.nexthopOf(spec, fam, netns, target);
    for (const f of ['type', 'scope', 'proto'] as const) if (spec[f] !== undefined) target[f] = String(spec[f]);
    if (spec.prefsrc !== undefined) target.prefsrc = checkGateway(spec.prefsrc, fam, 'prefsrc');
    if (spec.metrics !== undefined) target.metrics = spec.metrics as Record<string, number>;
    if (spec.multipath !== undefined) {
      for (const hop of spec.multipath as Record<string, unknown>[]) target.multipath.push(this.hop(hop, fam, netns));
    }
    if (target.gateway === undefined && target.dev === undefined && target.multipath.length === 0 && !target.type) {
      throw new ValidationError(
        `route ${dst}: needs a gateway, a dev, nexthops or a type (blackhole, unreachable, ...)`,
        'gateway',
      );
    }
    return target;
  }

  /** A route's or a nexthop's gateway (`via`) and device (`oif`, `ifname`), checked into `into`. */
  private nexthopOf(spec: Record<string, unknown>, fam: 4 | 6, netns: string, into: { gateway?: string; dev?: string }): void {
    const gateway = spec.gateway ?? spec.via;
    if (gateway !== undefined) into.gateway = checkGateway(gateway, fam, 'gateway');
    const dev = spec.dev ?? spec.oif ?? spec.ifname;
    if (dev !== undefined) {
      this.touchInterface(this.ifKey(checkIfname(dev, 'dev'), netns), true);
      into.dev = dev as string;
    }
  }

  hop(spec: Record<string, unknown>, fam: 4 | 6, netns: string): NexthopTarget {
    const hop: NexthopTarget = { hops: 0 };
    this.nexthopOf(spec, fam, netns, hop);
    if (spec.hops !== undefined) hop.hops = checkInt(spec.hops, 'hops', 0, 255);
    else if (spec.weight !== undefined) hop.hops = checkInt(spec.weight, 'weight', 1, 256) - 1;
    if (hop.gateway === undefined && hop.dev === undefined)
      throw new ValidationError('a nexthop needs a gateway or a dev', 'gateway');
    return hop;
  }

  private findRoute(t: RouteTarget): RouteTarget | undefined {
    const rec = this.db.routes.get(routeLookup(t));
    return rec ? routeOf(this.db, rec) : undefined;
  }

  private currentNeighbour(t: NeighbourTarget): NeighbourTarget | undefined {
    const rec = this.db.neighbours.get({ netns: t.netns, ifname: t.dev, dst: t.dst });
    return rec ? neighbourOf(this.db, rec) : undefined;
  }

  private label(netns: string, name: string): string {
    return netns === this.netns ? name : `${netns}:${name}`;
  }
}

export class InterfaceHandle {
  constructor(
    private readonly tx: Transaction,
    readonly key: string,
  ) {}

  /** Commits the transaction this handle belongs to (the end of `db.create(spec)...`). */
  commit(options?: CommitOptions): Promise<CommitReport> {
    return this.tx.commit(options);
  }

  /** Stages attribute changes: state, mtu, address (MAC), master, ifalias, txqlen, ifname, data. */
  set(changes: Record<string, unknown>): this {
    this.tx.live();
    for (const [k, v] of Object.entries(changes)) {
      if (!SETTABLE.has(k))
        throw new ValidationError(`${k}: not a settable interface attribute (one of ${[...SETTABLE].join(', ')})`, k);
      this.setOne(k, v);
    }
    return this;
  }

  private setOne(k: string, v: unknown): void {
    const netns = this.key.split('|')[0] as string;
    switch (k) {
      case 'state':
        if (v !== 'up' && v !== 'down') throw new ValidationError(`state: "${String(v)}" is not up or down`, 'state');
        this.tx.updateInterface(this.key, (d) => {
          d.state = v;
        });
        return;
      case 'mtu': {
        const mtu = checkMtu(v);
        this.tx.updateInterface(this.key, (d) => {
          d.mtu = mtu;
        });
        return;
      }
      case 'address': {
        const mac = checkMac(v, 'address');
        this.tx.updateInterface(this.key, (d) => {
          d.address = mac;
        });
        return;
      }
      case 'master':
        if (v === null || v === undefined) {
          this.setMaster(undefined);
          return;
        }
        this.setMaster(checkIfname(v, 'master'));
        return;
      case 'alias':
      case 'ifalias':
        this.tx.updateInterface(this.key, (d) => {
          d.ifalias = String(v);
        });
        return;
      case 'txqlen': {
        const q = checkInt(v, 'txqlen', 0, 0xffffffff);
        this.tx.updateInterface(this.key, (d) => {
          d.txqlen = q;
        });
        return;
      }
      case 'addr_gen_mode': {
        const mode = ADDR_GEN_MODES.name(ADDR_GEN_MODES.number(v, 'addr_gen_mode')) as string;
        this.tx.updateInterface(this.key, (d) => {
          d.addr_gen_mode = mode;
        });
        return;
      }
      case 'netns':
        this.moveTo(v);
        return;
      case 'data':
        this.tx.updateInterface(this.key, (d) => {
          d.data = { ...(d.data ?? {}), ...(v as Record<string, unknown>) };
        });
        return;
      case 'ifname': {
        const name = checkIfname(v);
        if (this.tx.db.interfaces.get({ netns, ifname: name }) || this.tx.interfaces.get(this.tx.ifKey(name, netns))?.target) {
          throw new ValidationError(`an interface named "${name}" exists already in ${netns}`, 'ifname');
        }
        this.tx.updateInterface(this.key, (d) => {
          d.ifname = name;
        });
        return;
      }
    }
  }

  /**
   * `ip link set X netns other`. The kernel strips a moved link of its
   * addresses, master and up state; the target keeps its addresses and state
   * (without the link-local ones: the kernel makes those again from the MAC),
   * so the commit puts them back on the other side. The other namespace must
   * be followed by this store, which confirms the move there.
   */
  private moveTo(v: unknown): void {
    const to = String(v);
    const me = (this.tx.touchInterface(this.key, true) as Staged<InterfaceTarget>).target as InterfaceTarget;
    if (to === me.netns) return;
    if (!this.tx.db.namespaces.includes(to)) {
      throw new ValidationError(
        `netns: "${to}" is not followed by this store, so the move could not be confirmed; open it with NetState.open({ netns: [...] })`,
        'netns',
      );
    }
    if (
      this.tx.db.interfaces.get({ netns: to, ifname: me.ifname }) ||
      this.tx.interfaces.get(this.tx.ifKey(me.ifname, to))?.target
    ) {
      throw new ValidationError(`netns: an interface named "${me.ifname}" exists already in ${to}`, 'netns');
    }
    if (me.ports.length)
      throw new ValidationError(`netns: ${me.ifname} has ports (${me.ports.join(', ')}); a master cannot move`, 'netns');
    if (me.master !== undefined) this.setMaster(undefined);
    this.tx.updateInterface(this.key, (d) => {
      d.netns = to;
      d.ipaddr = d.ipaddr.filter((a) => !isLinkLocal(a));
    });
  }

  private setMaster(master: string | undefined): void {
    const netns = this.key.split('|')[0] as string;
    const me = this.key.split('|')[1] as string;
    const old = (this.tx.touchInterface(this.key, true) as Staged<InterfaceTarget>).target?.master;
    if (master !== undefined) {
      const mkey = this.tx.ifKey(master, netns);
      const m = this.tx.touchInterface(mkey, true) as Staged<InterfaceTarget>;
      if (m.target?.kind !== 'bridge' && m.target?.kind !== 'bond' && m.target?.kind !== 'vrf') {
        throw new ValidationError(
          `master: "${master}" is a ${m.target?.kind ?? 'plain interface'}, not a bridge, bond or vrf`,
          'master',
        );
      }
      if (master === me) throw new ValidationError('master: an interface cannot be its own master', 'master');
      this.tx.updateInterface(mkey, (d) => {
        if (!d.ports.includes(me)) d.ports.push(me);
        d.ports.sort();
      });
    }
    if (old !== undefined && old !== master) {
      this.tx.updateInterface(this.tx.ifKey(old, netns), (d) => {
        d.ports = d.ports.filter((p) => p !== me);
      });
    }
    this.tx.updateInterface(this.key, (d) => {
      if (master === undefined) delete d.master;
      else d.master = master;
    });
  }

  /**
   * An explicit priority: this interface's steps go before every object
   * without one, lower ranks first (`tx.interface('uplink').order(0)`).
   */
  order(rank: number): this {
    this.tx.live();
    (this.tx.touchInterface(this.key, true) as Staged<InterfaceTarget>).order = checkInt(rank, 'order', 0, 0x7fffffff);
    return this;
  }

  up(): this {
    return this.set({ state: 'up' });
  }

  down(): this {
    return this.set({ state: 'down' });
  }

  /** Stages an address ('a/len'). */
  addIp(cidr: string): this {
    this.tx.live();
    const p = checkPrefix(cidr, 'address');
    const text = `${p.address}/${p.length}`;
    this.tx.updateInterface(this.key, (d) => {
      if (d.ipaddr.includes(text)) throw new ValidationError(`address ${text} is on ${d.ifname} already`, 'address');
      d.ipaddr.push(text);
      d.ipaddr.sort();
    });
    return this;
  }

  delIp(cidr: string): this {
    this.tx.live();
    const p = checkPrefix(cidr, 'address');
    const text = `${p.address}/${p.length}`;
    this.tx.updateInterface(this.key, (d) => {
      if (!d.ipaddr.includes(text)) throw new ValidationError(`address ${text} is not on ${d.ifname}`, 'address');
      d.ipaddr = d.ipaddr.filter((a) => a !== text);
    });
    return this;
  }

  /** Makes `port` a port of this bridge or bond. */
  addPort(port: string): this {
    const netns = this.key.split('|')[0] as string;
    new InterfaceHandle(this.tx, this.tx.ifKey(checkIfname(port, 'port'), netns)).set({ master: this.key.split('|')[1] });
    return this;
  }

  delPort(port: string): this {
    const netns = this.key.split('|')[0] as string;
    const me = this.key.split('|')[1] as string;
    const pkey = this.tx.ifKey(checkIfname(port, 'port'), netns);
    if ((this.tx.touchInterface(pkey, true) as Staged<InterfaceTarget>).target?.master !== me) {
      throw new ValidationError(`"${port}" is not a port of ${me}`, 'port');
    }
    new InterfaceHandle(this.tx, pkey).set({ master: null });
    return this;
  }

  /**
   * Stages the removal of the interface. A veth takes its peer with it, so
   * the peer is staged for removal too (and both come back on a rollback);
   * that needs the peer's namespace followed by this store.
   */
  remove(): void {
    this.tx.live();
    const s = this.tx.touchInterface(this.key, true) as Staged<InterfaceTarget>;
    const me = (s.target ?? s.base) as InterfaceTarget;
    const peerKey = this.peerKey(s);
    if (!s.base) {
      this.tx.interfaces.delete(this.key);
      if (peerKey) this.tx.interfaces.delete(peerKey);
      return;
    }
    if (me.kind === 'veth' && !peerKey) {
      throw new ValidationError(
        `${me.ifname}: its veth peer is in a namespace this store does not follow; removing ${me.ifname} removes the peer too, ` +
          'and a rollback could not put it back. Follow that namespace as well (NetState.open({ netns: [...] })).',
        'ifname',
      );
    }
    s.target = undefined;
    if (peerKey) {
      const p = this.tx.touchInterface(peerKey, false);
      if (p) p.target = undefined;
    }
    // The kernel deletes the links stacked on this one; staged, they are put back on a rollback.
    const base = s.base as InterfaceTarget;
    if (base.index !== undefined) {
      for (const up of uppersOf(this.tx.db, base.netns, base.index)) {
        const u = this.tx.touchInterface(this.tx.ifKey(up.ifname as string, base.netns), false);
        if (u?.target) new InterfaceHandle(this.tx, this.tx.ifKey(up.ifname as string, base.netns)).remove();
      }
    }
  }

  /** The key of this veth's peer, from either end of the pair (created or existing). */
  private peerKey(s: Staged<InterfaceTarget>): string | undefined {
    const t = (s.target ?? s.base) as InterfaceTarget;
    if (t.peer) return this.tx.ifKey(t.peer.ifname, t.peer.netns ?? t.netns);
    if (t.peerOf) {
      for (const [key, other] of this.tx.interfaces) {
        const o = other.target ?? other.base;
        if (o?.peer?.ifname === t.ifname && (o.peer.netns ?? o.netns) === t.netns) return key;
      }
    }
    return undefined;
  }
}

export class RouteHandle {
  constructor(
    private readonly tx: Transaction,
    readonly key: string,
  ) {}

  private get target(): RouteTarget {
    return this.tx.routes.get(this.key)?.target as RouteTarget;
  }

  /** Stages changes of gateway, dev, priority is part of the key and cannot change here. */
  set(changes: Record<string, unknown>): this {
    this.tx.live();
    const t = this.target;
    const merged = this.tx.routeTarget({ ...t, ...changes, multipath: changes.multipath ?? t.multipath });
    if (routeKey(merged) !== this.key)
      throw new ValidationError('dst, table, family and priority identify a route; remove it and add another', 'dst');
    this.tx.updateRoute(this.key, (d) => Object.assign(d, merged));
    return this;
  }

  /** Adds a nexthop; a single-path route becomes multipath (its own gateway is the first hop). */
  addNh(spec: Record<string, unknown>): this {
    this.tx.live();
    const t = this.target;
    const hop = this.tx.hop(spec, t.family === 'inet' ? 4 : 6, t.netns);
    this.tx.updateRoute(this.key, (d) => {
      if (d.multipath.length === 0 && (d.gateway !== undefined || d.dev !== undefined)) {
        d.multipath.push({ ...(d.gateway ? { gateway: d.gateway } : {}), ...(d.dev ? { dev: d.dev } : {}), hops: 0 });
        delete d.gateway;
        delete d.dev;
      }
      if (d.multipath.some((h) => h.gateway === hop.gateway && h.dev === hop.dev)) {
        throw new ValidationError(`nexthop ${hop.gateway ?? hop.dev} is on this route already`, 'gateway');
      }
      d.multipath.push(hop);
    });
    return this;
  }

  /** Removes a nexthop (by gateway, or dev); down to one, the route is single-path again. */
  delNh(spec: Record<string, unknown>): this {
    this.tx.live();
    const gateway = spec.gateway ?? spec.via;
    const dev = spec.dev ?? spec.ifname;
    this.tx.updateRoute(this.key, (d) => {
      const i = d.multipath.findIndex(
        (h) => (gateway === undefined || h.gateway === gateway) && (dev === undefined || h.dev === dev),
      );
      if (i < 0) throw new ValidationError(`no nexthop ${String(gateway ?? dev)} on this route`, 'gateway');
      d.multipath.splice(i, 1);
      if (d.multipath.length === 1) {
        const [last] = d.multipath.splice(0, 1) as [NexthopTarget];
        if (last.gateway) d.gateway = last.gateway;
        if (last.dev) d.dev = last.dev;
      }
    });
    return this;
  }

  /** An explicit priority, as InterfaceHandle.order. */
  order(rank: number): this {
    this.tx.live();
    (this.tx.routes.get(this.key) as Staged<RouteTarget>).order = checkInt(rank, 'order', 0, 0x7fffffff);
    return this;
  }

  remove(): void {
    this.tx.live();
    const s = this.tx.routes.get(this.key) as Staged<RouteTarget>;
    if (!s.base) this.tx.routes.delete(this.key);
    else s.target = undefined;
  }
}

/**
 * The probe of an address nobody answers leaves a failed neighbour entry
 * behind (ARP or ND); a rolled-back commit must not leave even that.
 */
async function forgetUnanswered(netns: string | undefined, address: string): Promise<void> {
  const nl = await Rtnl.open({ netns });
  try {
    for (const n of await nl.neigh('dump', {})) {
      if (n.dst === address && n.lladdr === undefined)
        await nl.neigh('del', { ifindex: n.ifindex, dst: address }).catch(() => undefined);
    }
  } finally {
    nl.close();
  }
}

function checkGateway(value: unknown, fam: 4 | 6, field: string): string {
  const p = typeof value === 'string' ? parsePrefix(value) : undefined;
  if (!p || p.length !== p.bytes.length * 8)
    throw new ValidationError(`${field}: ${JSON.stringify(value)} is not an IP address`, field);
  if (p.family !== fam) {
    throw new ValidationError(`${field}: ${value} is IPv${p.family}, the route is IPv${fam}`, field);
  }
  return p.address;
}

export function routeKey(t: Pick<RouteTarget, 'netns' | 'family' | 'table' | 'dst' | 'priority'>): string {
  return `${t.netns}|${t.family}|${t.table}|${t.dst}|${t.priority ?? ''}`;
}

export function describeRoute(t: Pick<RouteTarget, 'family' | 'table' | 'dst' | 'priority'>): string {
  let s = t.dst === 'default' && t.family === 'inet6' ? 'default (inet6)' : t.dst;
  if (t.table !== 254) s += ` table ${t.table}`;
  if (t.priority !== undefined) s += ` metric ${t.priority}`;
  return s;
}

export function describeRule(t: RuleTarget): string {
  return `${t.priority ?? '*'} from ${t.src ?? 'all'}${t.dst ? ` to ${t.dst}` : ''} lookup ${t.table ?? 'main'}`;
}

function canonicalKey(t: RuleTarget): string {
  const { netns, ...rest } = t;
  return `${netns}|${JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
}

/** A target without its namespace (the key says it) and without empty fields, for the diff. */
function strip<T extends { netns: string }>(t: T | undefined): Record<string, unknown> | undefined {
  if (!t) return undefined;
  const { netns: _n, index: _i, ...rest } = t as Record<string, unknown>;
  return rest;
}
