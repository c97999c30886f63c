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
 * Every staging call checks its input against its spec (specs.ts) and
 * refuses bad input with a ValidationError naming the field, before
 * anything is staged.
 */
import { produce } from 'immer';
import { echo } from '../backends/icmp.js';
import { parsePrefix } from '../backends/netlink/codec/address.js';
import { Rtnl } from '../backends/netlink/rtnl.js';
import { ifname as ifnameSpec, ipAddress, parseSpec, shown } from '../backends/schema.js';
import { ROOT } from '../db/source.js';
import { NetStateError, ValidationError } from '../errors.js';
import { type Check, type CommitOptions, type CommitReport, commitStaging } from './commit.js';
import { interfaceOf, neighbourOf, normalizeRule, routeLookup, routeOf, ruleOf } from './current.js';
import { diffObject, type ObjectDiff } from './diff.js';
import type { Host } from './host.js';
import { type HostReview, reviewHost } from './host-review.js';
import { HostStaging, type NamespaceOptions, type ProcessOptions, type RunOptions } from './host-staging.js';
import { InterfaceHandle } from './interface-handle.js';
import type { JournalEntry } from './journal.js';
import { type DumpedState, stageState } from './load.js';
import { describeRoute, describeRule, routeKey, ruleKey } from './names.js';
import { PendingCommit, startWatchdog } from './provisional.js';
import { RouteHandle } from './route-handle.js';
import { routeTarget } from './route-target.js';
import { prepareShaping, reviewShaping } from './shaping.js';
import {
  CommitOptionsSpec,
  CreateSpec,
  HandleOptions,
  NeighbourSelector,
  NeighbourSpec,
  ReachableOptions,
  RouteSelector,
  RouteSpec,
  RuleSpec,
} from './specs.js';
import type { InterfaceTarget, NeighbourTarget, RouteTarget, RuleTarget, Staged, TuntapOptions } from './staged.js';
import { SwitchHandle } from './switch-handle.js';
import { reviewSwitches } from './switch-review.js';
import { type SwitchSpec, SwitchStaging } from './switch-staging.js';
import type { TcTarget } from './tc-targets.js';

export { InterfaceHandle } from './interface-handle.js';
export { describeRoute, describeRule, routeKey } from './names.js';
export { RouteHandle } from './route-handle.js';

export interface Review extends HostReview {
  /** BMv2 switches started and stopped (switch-review.ts). */
  switches?: Record<string, ObjectDiff>;
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
  /** Traffic control by `netns|ifname|slot` (slot 'root' or 'ingress'): see shaping.ts. */
  readonly tc = new Map<string, Staged<TcTarget>>();
  /** Namespaces, sysctls and processes. */
  readonly host: HostStaging;
  /** BMv2 switches (switch-staging.ts). */
  readonly switchStaging: SwitchStaging;

  constructor(
    readonly db: Host,
    /** The namespace a spec without `netns` means. */
    readonly netns: string,
  ) {
    this.host = new HostStaging(db, (ns, ifname) => {
      const s = this.interfaces.get(this.ifKey(ifname, ns));
      return s?.target !== undefined && (s.base === undefined || s.replaced === true);
    });
    this.switchStaging = new SwitchStaging(db, {
      followed: (ns) => this.followed(ns),
      removesNamespace: (ns) => this.host.removesNamespace(ns),
      interfaceState: (ns, ifname) => {
        const key = this.ifKey(ifname, ns);
        const s = this.interfaces.get(key);
        if (s) return s.target?.state;
        return this.db.interfaces.get({ netns: ns, ifname })?.state as 'up' | 'down' | undefined;
      },
    });
  }

  // ---- BMv2 switches

  /**
   * Starts a BMv2 switch in the commit, once the links and ports it uses
   * exist and are up (all the commit's switches at once): Bmv2Switch's
   * options, its `name`, `netns` (this transaction's when omitted) and
   * `restart: 'on-failure'` for supervision. A switch that does not come up
   * fails the commit, which is rolled back whole. Returns the name.
   */
  addSwitch(spec: SwitchSpec): string {
    this.live();
    return this.switchStaging.add(spec);
  }

  /** A running (or staged) switch: `tx.switch('s1').remove()`. */
  switch(name: string, opts: { netns?: string } = {}): SwitchHandle {
    this.live();
    const { netns } = parseSpec(HandleOptions, opts, 'tx.switch options');
    const ns = this.followed(netns);
    if (!this.switchStaging.has(name, ns))
      throw new ValidationError(`tx.switch: no switch named ${String(name)} in ${ns}`, 'name');
    return new SwitchHandle(this.switchStaging, name, netns, () => this.live());
  }

  // ---- namespaces, sysctls, processes

  /**
   * Makes a named namespace (`ip netns add h1`): first thing in the commit,
   * followed by the store from then on (links can be created straight into
   * it in the same transaction), removed again by a rollback.
   */
  addNamespace(name: string, options: NamespaceOptions = {}): this {
    this.live();
    this.host.addNamespace(name, options);
    return this;
  }

  /**
   * Removes a namespace (`ip netns del h1`) with everything in it: its
   * processes are ended first, its links go with it (the review lists
   * both). Done last in the commit; a rollback after it can make the
   * namespace again, but not what was in it (it says so).
   */
  removeNamespace(name: string): this {
    this.live();
    this.host.removeNamespace(name);
    return this;
  }

  /**
   * Writes a sysctl inside a namespace (`ip netns exec h1 sysctl -w
   * key=value`, without the exec): `tx.sysctl('net.ipv4.ip_forward', 1,
   * { netns: 'h1' })`. The old value is kept for the rollback and shown in
   * the review. Interface keys of an interface the transaction makes are
   * written once it exists.
   */
  sysctl(key: string, value: string | number, opts: { netns?: string } = {}): this {
    this.live();
    const { netns } = parseSpec(HandleOptions, opts, 'tx.sysctl options');
    this.host.sysctl(key, value, this.followed(netns));
    return this;
  }

  /**
   * Starts a process inside a namespace once the commit's network is in
   * place (`ip netns exec h1 argv &`), in a cgroup of its own (with
   * `limits: { cpu, memory }`); the commit report hands it back under its
   * name (`report.processes[name]`). A rollback stops it and whatever it
   * forked. Returns the name.
   */
  spawn(netns: string, argv: string[], options: ProcessOptions = {}): string {
    this.live();
    return this.host.spawn(this.followed(netns), argv, options);
  }

  /**
   * Runs a command inside a namespace as a step of the commit (`ip netns
   * exec h1 argv`): it must exit 0 within `timeout`, or the commit fails
   * and rolls back. What the command did is not undone (a rollback says
   * so), unless the namespace itself was made by the commit.
   */
  run(netns: string, argv: string[], options: RunOptions = {}): string {
    this.live();
    return this.host.run(this.followed(netns), argv, options);
  }

  // ---- interfaces

  /** A handle on an existing (or already staged) interface; ValidationError when there is none. */
  interface(ifname: string, opts: { netns?: string } = {}): InterfaceHandle {
    this.live();
    const name = parseSpec(ifnameSpec, ifname, 'tx.interface', 'ifname');
    const { netns } = parseSpec(HandleOptions, opts, 'tx.interface options');
    const key = this.ifKey(name, this.followed(netns));
    this.touchInterface(key, true);
    return new InterfaceHandle(this, key);
  }

  /**
   * Stages a new interface: `{ kind, ifname, netns?, peer?, link?, data?,
   * mtu?, address?, ... }`; a veth's `peer` is a name or `{ ifname, netns,
   * address, mtu, ... }`; kind 'tuntap' makes a tun or tap device (`mode`,
   * `owner`, `group`, `multi_queue`, `pi`, `vnet_hdr`).
   */
  create(spec: CreateSpec): InterfaceHandle {
    this.live();
    const s = parseSpec(CreateSpec, spec, 'tx.create');
    const { kind, ifname, peer, netns, data, link, index, mode, multi_queue, pi, vnet_hdr, uid, gid, reuse, ...rest } = s;
    const owner = s.owner ?? uid;
    const group = s.group ?? gid;
    delete (rest as Record<string, unknown>).owner;
    delete (rest as Record<string, unknown>).group;
    const ns = this.followed(netns);
    const key = this.ifKey(ifname, ns);
    if (reuse) {
      const had = this.touchInterface(key, false)?.target;
      if (had) {
        const same = had.kind === (kind === 'tuntap' ? 'tun' : kind);
        if (!same)
          throw new ValidationError(`tx.create: ${ifname} exists already as a ${had.kind ?? 'link'}, not a ${kind}`, 'kind');
        if (kind === 'tuntap') refuseOtherTuntap(ifname, had.tuntap, { mode, owner, group, multi_queue, pi, vnet_hdr });
        const handle = new InterfaceHandle(this, key);
        const changes = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
        if (Object.keys(changes).length) handle.set(changes);
        return handle;
      }
    }
    this.refuseTaken(key);
    const target: InterfaceTarget = { netns: ns, ifname, kind, state: 'down', ipaddr: [], ports: [] };
    const tuntap = { mode, owner, group, multi_queue, pi, vnet_hdr };
    if (kind === 'tuntap') {
      if (!mode) throw new ValidationError("tx.create: mode: a tuntap device is 'tun' or 'tap'", 'mode');
      target.kind = 'tun';
      target.tuntap = JSON.parse(JSON.stringify(tuntap));
    } else {
      const given = Object.entries(tuntap).find(([, v]) => v !== undefined);
      if (given) throw new ValidationError(`tx.create: ${given[0]}: only a tuntap device takes it, not a ${kind}`, given[0]);
    }
    if (data !== undefined) target.data = data;
    // An index asked for (`ip link add ... index N`); load() recreates links with theirs.
    if (index !== undefined) target.index = index;
    if (link !== undefined) {
      // A macvlan, vlan or vxlan sits on another link of its namespace (existing or staged).
      target.link = link;
      this.touchInterface(this.ifKey(link, ns), true);
    }
    if (kind === 'veth') {
      const p = typeof peer === 'string' ? { ifname: peer } : peer;
      if (!p) throw new ValidationError('tx.create: peer: a veth needs a peer name (peer: "v1" or { ifname, netns })', 'peer');
      const { ifname: peerName, netns: peerNs, index: peerIndex, ...peerAttrs } = p;
      const peerKey = this.ifKey(peerName, this.followed(peerNs ?? ns));
      if (peerKey === key) throw new ValidationError(`tx.create: peer: "${peerName}" is the veth's own name`, 'peer');
      this.refuseTaken(peerKey);
      const where = peerNs ?? ns;
      target.peer = where !== ns ? { ifname: peerName, netns: where } : { ifname: peerName };
      const peerTarget: InterfaceTarget = {
        netns: where,
        ifname: peerName,
        kind: 'veth',
        peerOf: ifname,
        state: 'down',
        ipaddr: [],
        ports: [],
      };
      if (peerIndex !== undefined) {
        target.peer.index = peerIndex;
        peerTarget.index = peerIndex;
      }
      Object.assign(peerTarget, peerAttrs);
      this.interfaces.set(peerKey, this.replacing(peerKey, peerTarget));
    } else if (peer !== undefined) {
      throw new ValidationError(`tx.create: peer: only a veth has a peer, not a ${kind}`, 'peer');
    }
    this.interfaces.set(key, this.replacing(key, target));
    const handle = new InterfaceHandle(this, key);
    const changes = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    if (Object.keys(changes).length) handle.set(changes);
    return handle;
  }

  /** A new interface where one of that name is staged for removal: the removal stays, and it is made anew. */
  private replacing(key: string, target: InterfaceTarget): Staged<InterfaceTarget> {
    const removed = this.interfaces.get(key)?.base;
    return removed ? { base: removed, target, replaced: true } : { target };
  }

  /**
   * NDB's ensure: the interface as the spec says, made if it is missing,
   * changed if it is there (a different kind is refused).
   */
  ensure(spec: CreateSpec): InterfaceHandle {
    this.live();
    const s = parseSpec(CreateSpec, spec, 'tx.ensure');
    if (s.reuse === false) throw new ValidationError('tx.ensure: reuse: ensure always takes an interface that exists', 'reuse');
    return this.create({ ...spec, reuse: true });
  }

  // ---- routes

  /** Stages a new route; ValidationError when one with that key exists or is staged. */
  addRoute(spec: RouteSpec): RouteHandle {
    this.live();
    const target = this.routeTarget(parseSpec(RouteSpec, spec, 'tx.addRoute'), 'tx.addRoute');
    const key = routeKey(target);
    const existing = this.routes.get(key);
    if (existing?.target || (!existing && this.db.routes.bodyOf(target))) {
      throw new ValidationError(
        `tx.addRoute: route ${describeRoute(target)} exists already; use tx.route(...) to change it`,
        'dst',
      );
    }
    this.routes.set(key, { base: existing?.base, target });
    return new RouteHandle(this, key);
  }

  /** A handle on an existing or staged route: a prefix (table main) or `{ dst, table, priority, family }`. */
  route(spec: string | RouteSelector): RouteHandle {
    this.live();
    const parsed = parseSpec(RouteSelector, typeof spec === 'string' ? { dst: spec } : spec, 'tx.route');
    const { dst_len, ...s } = parsed;
    if (dst_len !== undefined && !s.dst.includes('/') && s.dst !== 'default') s.dst = `${s.dst}/${dst_len}`;
    const probe = this.routeTarget(s, 'tx.route', true);
    const key = routeKey(probe);
    if (!this.routes.has(key)) {
      const rec = this.db.routes.get(routeLookup(probe));
      if (!rec) throw new ValidationError(`tx.route: no route ${describeRoute(probe)} in ${probe.netns}`, 'dst');
      const base = routeOf(this.db, rec);
      // Named by prefix alone, it is the route the store has under that prefix, priority included.
      const found = routeKey(base);
      if (!this.routes.has(found)) this.routes.set(found, { base, target: base });
      return new RouteHandle(this, found);
    }
    if (!this.routes.get(key)?.target)
      throw new ValidationError(`tx.route: route ${describeRoute(probe)} is staged for removal`, 'dst');
    return new RouteHandle(this, key);
  }

  /** A route spec as a target, checked; `probe` stops at its identity. */
  routeTarget(spec: ReturnType<typeof RouteSpec.parse>, what: string, probe = false): RouteTarget {
    const netns = this.followed(spec.netns);
    return routeTarget(spec, netns, what, probe, (dev) => {
      this.touchInterface(this.ifKey(dev, netns), true);
    });
  }

  // ---- rules and neighbours

  /** Stages a rule (IPv4 or IPv6: `family`, or the family of `src`/`dst`). */
  addRule(spec: RuleSpec): this {
    this.live();
    const target = ruleTarget(parseSpec(RuleSpec, spec, 'tx.addRule'), this.followed((spec as { netns?: string })?.netns));
    const key = ruleKey(target);
    const existing = this.rules.get(key);
    if (existing?.target || (!existing && this.findRules(target, true).length)) {
      throw new ValidationError(`tx.addRule: the rule ${describeRule(target)} exists already`, 'rule');
    }
    this.rules.set(key, { base: existing?.base, target });
    return this;
  }

  /**
   * Stages the removal of the one rule a spec names: its priority, or some of
   * its fields (`{ priority: 1000, table: 100 }`). A spec that names nothing,
   * matches no rule, or matches several is refused: a rule is never removed
   * by a guess.
   */
  removeRule(spec: number | RuleSpec): this {
    this.live();
    const s = typeof spec === 'number' ? { priority: spec } : spec;
    const parsed = parseSpec(RuleSpec, s, 'tx.removeRule');
    const { netns: _n, ...fields } = parsed;
    if (Object.values(fields).every((v) => v === undefined)) {
      throw new ValidationError(
        'tx.removeRule: name the rule (its priority, or some of its fields); an empty spec names none',
        'rule',
      );
    }
    const probe = ruleTarget(parsed, this.followed(parsed.netns), false);
    const found = this.findRules(probe, false);
    if (found.length === 0) throw new ValidationError(`tx.removeRule: no rule matches ${shown(spec)} in ${probe.netns}`, 'rule');
    if (found.length > 1) {
      throw new ValidationError(
        `tx.removeRule: ${found.length} rules match ${shown(spec)} (${found.map(describeRule).join('; ')}); name more of its fields`,
        'rule',
      );
    }
    const base = found[0] as RuleTarget;
    this.rules.set(ruleKey(base), { base });
    return this;
  }

  /** Rules of the store (and staged ones) whose fields include every field of `probe`; `exact`: all fields equal. */
  private findRules(probe: RuleTarget, exact: boolean): RuleTarget[] {
    const want = Object.entries(probe).filter(([k]) => k !== 'netns');
    const matches = (r: RuleTarget) =>
      want.every(([k, v]) => JSON.stringify(r[k]) === JSON.stringify(v)) &&
      (!exact ||
        Object.keys(r).filter((k) => k !== 'netns' && k !== 'priority').length === want.filter(([k]) => k !== 'priority').length);
    const found = new Map<string, RuleTarget>();
    for (const rec of this.db.rules.list({ netns: probe.netns })) {
      if (rec.family !== 'inet' && rec.family !== 'inet6') continue;
      const r = ruleOf(rec);
      if (matches(r)) found.set(ruleKey(r), r);
    }
    for (const [key, s] of this.rules) {
      if (!s.target) found.delete(key);
      else if (s.target.netns === probe.netns && matches(s.target)) found.set(key, s.target);
    }
    return [...found.values()];
  }

  addNeighbour(spec: NeighbourSpec): this {
    this.live();
    const s = parseSpec(NeighbourSpec, spec, 'tx.addNeighbour');
    const netns = this.followed(s.netns);
    const dev = s.ifname ?? s.dev;
    if (dev === undefined) throw new ValidationError('tx.addNeighbour: ifname: name the interface (ifname or dev)', 'ifname');
    this.touchInterface(this.ifKey(dev, netns), true);
    const dst = s.dst;
    const target: NeighbourTarget = {
      netns,
      family: dst.includes(':') ? 'inet6' : 'inet',
      dev,
      dst: normalizeAddress(dst),
      state: s.state === undefined ? 'permanent' : String(s.state),
    };
    if (s.lladdr !== undefined) target.lladdr = s.lladdr.toLowerCase();
    if (s.proxy) target.proxy = true;
    if (s.router) target.router = true;
    const key = `${netns}|${dev}|${target.dst}`;
    const base = this.neighbours.has(key) ? this.neighbours.get(key)?.base : this.currentNeighbour(target);
    this.neighbours.set(key, { base, target });
    return this;
  }

  removeNeighbour(spec: { dst: string; ifname?: string; dev?: string; netns?: string }): this {
    this.live();
    const s = parseSpec(NeighbourSelector, spec, 'tx.removeNeighbour');
    const netns = this.followed(s.netns);
    const dev = s.ifname ?? s.dev;
    if (dev === undefined) throw new ValidationError('tx.removeNeighbour: ifname: name the interface (ifname or dev)', 'ifname');
    const probe = { netns, family: 'inet', dev, dst: normalizeAddress(s.dst) } as NeighbourTarget;
    const base = this.currentNeighbour(probe);
    if (!base) throw new ValidationError(`tx.removeNeighbour: no neighbour ${s.dst} on ${dev} in ${netns}`, 'dst');
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
    if (typeof fn !== 'function') throw new ValidationError(`tx.check: expected a function, got ${shown(fn)}`, 'check');
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
    parseSpec(ipAddress(), address, 'tx.ensureReachable', 'address');
    const o = parseSpec(ReachableOptions, opts, 'tx.ensureReachable options');
    const netns = this.followed(o.netns);
    this.checks.push({
      name: `ensureReachable ${address}${netns === this.netns ? '' : ` from ${netns}`}`,
      fn: async () => {
        const where = netns === ROOT ? undefined : netns;
        try {
          return await echo(where, address, { timeout: o.timeout });
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
  async commit(options: CommitOptions & { confirm: number }): Promise<PendingCommit>;
  async commit(options?: CommitOptions): Promise<CommitReport>;
  async commit(options: CommitOptions = {}): Promise<CommitReport | PendingCommit> {
    this.live();
    parseSpec(CommitOptionsSpec, options, 'commit options');
    if (this.committed) throw new NetStateError(`transaction ${this.id} was committed already`);
    this.refuseInRemovedNamespaces();
    const journaling = this.db.journaling;
    if (options.confirm !== undefined && !journaling) {
      throw new ValidationError(
        'commit options: confirm: commit-confirmed needs the journal (Host.open without journal: false)',
        'confirm',
      );
    }
    this.committed = true;
    try {
      const tc = await prepareShaping(this);
      const report = await commitStaging(
        this.db,
        {
          interfaces: [...this.interfaces.values()],
          routes: [...this.routes.values()],
          rules: [...this.rules.values()],
          neighbours: [...this.neighbours.values()],
          tc,
          namespaces: [...this.host.namespaces.values()],
          sysctls: [...this.host.sysctls.values()],
          processes: [...this.host.processes.values()],
          switches: [...this.switchStaging.switches.values()],
        },
        { ...options, checks: [...this.checks, ...(options.checks ?? [])] },
        journaling,
      );
      if (options.confirm === undefined || !journaling || !report.id) return report;
      const pending = new PendingCommit(this.db, journaling.journal, report.id, new Date(Date.now() + options.confirm), report);
      startWatchdog(journaling.journal, journaling.journal.get(report.id) as JournalEntry);
      return pending;
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
    add(out.interfaces, this.interfaces, ['ipaddr', 'ports', 'altnames'], (t) => this.label(t.netns, t.ifname));
    add(out.routes, this.routes, ['multipath'], (t) => this.label(t.netns, describeRoute(t)));
    add(out.rules, this.rules, [], (t) => this.label(t.netns, describeRule(t)));
    add(out.neighbours, this.neighbours, [], (t) => this.label(t.netns, `${t.dst} dev ${t.dev}`));
    reviewShaping(this, out.interfaces, (netns, ifname) => this.label(netns, ifname));
    Object.assign(
      out,
      reviewHost(this.host, (netns, name) => this.label(netns, name)),
      reviewSwitches(this.switchStaging, (netns, name) => this.label(netns, name)),
    );
    for (const k of Object.keys(out) as (keyof Review)[])
      out[k] = Object.fromEntries(Object.entries(out[k] ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
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
    this.tc.clear();
    this.host.namespaces.clear();
    this.host.sysctls.clear();
    this.host.processes.clear();
    this.switchStaging.switches.clear();
  }

  /** Nothing may be staged in a namespace this transaction removes (it goes with everything in it). */
  private refuseInRemovedNamespaces(): void {
    const maps = [this.interfaces, this.routes, this.rules, this.neighbours, this.tc] as Map<string, Staged<{ netns: string }>>[];
    for (const map of maps) {
      for (const s of map.values()) {
        const netns = (s.target ?? s.base)?.netns;
        if (s.base === s.target || netns === undefined || !this.host.removesNamespace(netns)) continue;
        throw new ValidationError(`namespace ${netns} is staged for removal: nothing else can change in it`, 'netns');
      }
    }
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

  /** A namespace a spec names: one this store follows (this transaction's when omitted). */
  followed(netns: string | undefined): string {
    if (netns === undefined) {
      if (this.netns === '') throw new ValidationError('netns: this store follows no namespace yet: say which one', 'netns');
      return this.netns;
    }
    if (this.host.makesNamespace(netns)) return netns;
    if (!this.db.followed.includes(netns)) {
      throw new ValidationError(
        `netns: "${netns}" is not followed by this store (it follows ${this.db.followed.join(', ')})`,
        'netns',
      );
    }
    return netns;
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

  /**
   * Runs a staging call that may change several interfaces (a port and its
   * bridge, a veth and its peer) all or nothing: refused half-way, it leaves
   * the staging as it was.
   */
  atomically<T>(fn: () => T): T {
    const saved = [...this.interfaces].map(([k, s]) => [k, { ...s }] as const);
    try {
      return fn();
    } catch (e) {
      this.interfaces.clear();
      for (const [k, s] of saved) this.interfaces.set(k, s);
      throw e;
    }
  }

  updateInterface(key: string, fn: (draft: InterfaceTarget) => void): void {
    const s = this.touchInterface(key, true) as Staged<InterfaceTarget>;
    s.target = produce(s.target as InterfaceTarget, fn);
  }

  updateRoute(key: string, fn: (draft: RouteTarget) => void): void {
    const s = this.routes.get(key) as Staged<RouteTarget>;
    s.target = produce(s.target as RouteTarget, fn);
  }

  refuseTaken(key: string): void {
    const [netns, ifname] = key.split('|') as [string, string];
    if (this.interfaces.get(key)?.target || (!this.interfaces.has(key) && this.db.interfaces.get({ netns, ifname }))) {
      throw new ValidationError(`an interface named "${ifname}" exists already in ${netns}`, 'ifname');
    }
  }

  private currentNeighbour(t: NeighbourTarget): NeighbourTarget | undefined {
    const rec = this.db.neighbours.get({ netns: t.netns, ifname: t.dev, dst: t.dst });
    return rec ? neighbourOf(this.db, rec) : undefined;
  }

  private label(netns: string, name: string): string {
    return netns === this.netns ? name : `${netns}:${name}`;
  }
}

/** A tun/tap's mode and options are fixed when it is made: asking an existing one for others is refused. */
function refuseOtherTuntap(ifname: string, had: TuntapOptions | undefined, want: Partial<TuntapOptions>): void {
  for (const [k, v] of Object.entries(want)) {
    const is = (had as Record<string, unknown> | undefined)?.[k];
    if (v === undefined || v === is || (v === false && is === undefined)) continue;
    throw new ValidationError(
      `tx.create: ${ifname} exists already with ${k} ${JSON.stringify(is ?? null)}; a tun/tap cannot change that: remove it and create it again`,
      k,
    );
  }
}

/** A parsed rule spec in the store's form (see normalizeRule). */
export function ruleTarget(s: ReturnType<typeof RuleSpec.parse>, netns: string, withFamily = true): RuleTarget {
  const { netns: _n, priority, pref, iif, oif, src, dst, family, l3mdev, ...rest } = s;
  const fam = family ?? (src ? (src.family === 4 ? 'inet' : 'inet6') : dst ? (dst.family === 4 ? 'inet' : 'inet6') : undefined);
  for (const [field, p] of [
    ['src', src],
    ['dst', dst],
  ] as const) {
    if (p && fam && (p.family === 4 ? 'inet' : 'inet6') !== fam) {
      throw new ValidationError(`rule: ${field}: ${p.address}/${p.length} is not of family ${fam}`, field);
    }
  }
  const t: Record<string, unknown> = { netns, ...rest };
  if (fam !== undefined || withFamily) t.family = fam ?? 'inet';
  if (priority !== undefined || pref !== undefined) t.priority = priority ?? pref;
  if (iif !== undefined) t.iifname = iif;
  if (oif !== undefined) t.oifname = oif;
  if (src) t.src = `${src.address}/${src.length}`;
  if (dst) t.dst = `${dst.address}/${dst.length}`;
  if (l3mdev !== undefined) t.l3mdev = l3mdev ? 1 : 0;
  return normalizeRule(t as RuleTarget);
}

/** An address as the kernel prints it ('2001:DB8::0001' is '2001:db8::1'). */
function normalizeAddress(text: string): string {
  return parsePrefix(text)?.address ?? text;
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

/** A target without its namespace (the key says it) and without empty fields, for the diff. */
function strip<T extends { netns: string }>(t: T | undefined): Record<string, unknown> | undefined {
  if (!t) return undefined;
  const { netns: _n, index: _i, ...rest } = t as Record<string, unknown>;
  return rest;
}
