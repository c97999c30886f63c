/**
 * The plan: the staged difference as kernel requests, in dependency order.
 * Removals first, in reverse dependency order (neighbours, rules, routes,
 * secondary then primary addresses, ports, links); then creations and
 * changes (plain links, links that sit on others, attributes, ports, port
 * options, addresses, state, routes, rules, neighbours). Each step carries
 * its undo, computed from the snapshot the transaction started from, and
 * the plan puts back what the kernel takes on its own although the target
 * keeps it (kernel-model.ts). Steps of one phase are independent and go
 * out in one batch. Requests are plain data: a plan can be written down.
 */
import type { FamilyName } from '../backends/netlink/codec/message.js';
import { decodeBody } from '../db/kinds/kind.js';
import { expectBase, type InterfaceExpectation } from './confirm.js';
import { isLinkLocal } from './current.js';
import { HOST_PHASES, type HostOp, type HostStaging, hostSteps } from './host-plan.js';
import { type AddressBook, addedFirst, type SideEffects } from './kernel-model.js';
import type { AddressAttributes, InterfaceTarget, NeighbourTarget, RouteTarget, RuleTarget, Staged } from './staged.js';
import { switchSteps } from './switch-plan.js';
import type { SwitchTarget } from './switch-staging.js';
import { tcSteps } from './tc-plan.js';
import type { TcExpectation, TcTarget } from './tc-targets.js';

/**
 * What a step asks of the kernel: a netlink request, a tun/tap device made
 * by ioctl, or one of the host's other changes (host-plan.ts): a namespace,
 * a sysctl, a process.
 */
export interface Request {
  netns: string;
  op: FamilyName | 'tuntap' | 'altname' | HostOp;
  cmd: 'add' | 'set' | 'replace' | 'del';
  spec: Record<string, unknown>;
  /**
   * The kernel may make this change without announcing it (an alias, bridge
   * port options or kind options set on a link that is down): the link is
   * asked for again once the request went through.
   */
  refresh?: boolean;
  /** Bridge port options: send only those that differ from what the port has when the request runs. */
  onlyChanges?: boolean;
}

/** What the store shows again once a step's undo ran: the proof a rollback waits for. */
export type Proof =
  | { kind: 'interface'; expect: InterfaceExpectation }
  | { kind: 'route'; staged: Staged<RouteTarget> }
  | { kind: 'rule'; staged: Staged<RuleTarget> }
  | { kind: 'neighbour'; staged: Staged<NeighbourTarget> }
  | { kind: 'tc'; expect: TcExpectation };

export interface Step {
  /** Explicit priority of its object; lower runs first, unordered steps last. */
  order: number;
  /** Lower phases run first (within one order). */
  phase: number;
  /** What the step does, as the review names things. */
  what: string;
  request: Request;
  /** Requests that put back what this step changed (run in order). */
  undo: Request[];
  /** What the store shows once `undo` ran (none: a side effect's restoration proves it). */
  back?: Proof[];
  /** What `undo` cannot put back (a namespace removed with its links, a command's effects): a rollback reports it. */
  lost?: string;
}

/** Kinds that sit on another link (`link`) and are created after plain ones. */
const STACKED = new Set(['vlan', 'vxlan', 'macvlan', 'macvtap', 'gre', 'gretap']);
/**
 * Attributes a creation request carries. The kernel takes an alias and
 * addrgenmode only once a link exists, and a tun/tap is made bare by its
 * ioctl: those follow in a request of their own.
 */
const CREATE_ATTRS = ['mtu', 'address', 'txqlen'] as const;
const ATTRS = [...CREATE_ATTRS, 'ifalias', 'addr_gen_mode'] as const;

export const PHASES = {
  removeNeighbours: 10,
  removeRules: 20,
  removeRoutes: 30,
  addAddressesFirst: 35,
  removeSecondaries: 38,
  removeAddresses: 40,
  detachPorts: 50,
  removeMasters: 55,
  removeStacked: 57,
  removeLinks: 60,
  createLinks: 100,
  createStacked: 110,
  moveLinks: 115,
  setAttributes: 120,
  attachPorts: 130,
  setPortOptions: 135,
  addAddresses: 140,
  readdAddresses: 145,
  setState: 150,
  addRoutes: 160,
  addRules: 170,
  addNeighbours: 180,
  // Traffic control (tc-plan.ts), once links exist and are up: roots, ingress qdiscs, then their filters.
  setRootQdiscs: 155,
  setIngress: 156,
  setForwards: 157,
} as const;

export interface Staging extends Partial<HostStaging> {
  interfaces: Iterable<Staged<InterfaceTarget>>;
  routes: Iterable<Staged<RouteTarget>>;
  rules: Iterable<Staged<RuleTarget>>;
  neighbours: Iterable<Staged<NeighbourTarget>>;
  /** BMv2 switches started and stopped (switch-plan.ts). */
  switches?: Iterable<Staged<SwitchTarget>>;
  /** Root qdiscs and ingress forwards (shaping.ts). */
  tc?: Iterable<Staged<TcTarget>>;
}

/** What the plan knows of the kernel beyond the staging: addresses' attributes and predicted side effects. */
export interface PlanContext {
  book: AddressBook;
  effects: SideEffects;
}

export function plan(staging: Staging, ctx: PlanContext): Step[] {
  const steps: Step[] = [];
  const all = {
    bases: new Map<string, InterfaceTarget>(),
    targets: new Map<string, InterfaceTarget>(),
    removed: new Map<string, InterfaceTarget>(),
  };
  for (const s of staging.interfaces) {
    if (s.base) all.bases.set(keyOf(s.base), s.base);
    if (s.base && !s.target) all.removed.set(keyOf(s.base), s.base);
    if (s.target) all.targets.set(keyOf(s.target), s.target);
  }
  const ordered = <T>(s: Staged<T>, list: Omit<Step, 'order'>[]) => {
    for (const step of list) steps.push({ order: s.order ?? UNORDERED, ...step });
  };
  for (const s of staging.interfaces) ordered(s, interfaceSteps(s, all, ctx.book));
  const touched = new Set<string>();
  for (const s of staging.routes) {
    ordered(s, objectSteps(s, ROUTE_OPS));
    const t = s.target ?? s.base;
    if (t) touched.add(`${t.netns}|${t.family}|${t.table}|${t.dst}`);
  }
  for (const s of staging.rules) ordered(s, objectSteps(s, RULE_OPS));
  for (const s of staging.neighbours) ordered(s, objectSteps(s, NEIGHBOUR_OPS));
  for (const s of staging.tc ?? []) ordered(s, tcSteps(s));
  steps.push(...compensation(ctx.effects, touched));
  for (const step of hostSteps(hostStaging(staging), staging.interfaces)) {
    // A namespace is made before anything, explicitly ordered steps included: they may happen in it.
    steps.push({ order: step.phase === HOST_PHASES.createNamespaces ? -UNORDERED : UNORDERED, ...step });
  }
  for (const step of switchSteps(staging.switches ?? [])) steps.push({ order: UNORDERED, ...step });
  // Each phase's steps grouped by namespace, in this order: the order they are sent in, and
  // written down in (the journal marks how far a commit got by position).
  return steps.sort(
    (a, b) =>
      a.order - b.order ||
      a.phase - b.phase ||
      (a.request.netns < b.request.netns ? -1 : a.request.netns > b.request.netns ? 1 : 0),
  );
}

const UNORDERED = Number.MAX_SAFE_INTEGER;

function hostStaging(s: Staging): HostStaging {
  return { namespaces: s.namespaces ?? [], sysctls: s.sysctls ?? [], processes: s.processes ?? [] };
}

/**
 * Steps that put back what the kernel takes while the plan runs although the
 * target keeps it: secondaries that went with their primary, routes a link
 * lost while it had no IPv4 address for a moment. They undo nothing of
 * their own: a rollback restores the snapshot anyway.
 */
function compensation(effects: SideEffects, touchedRoutes: ReadonlySet<string>): Step[] {
  const steps: Step[] = [];
  for (const a of effects.addresses) {
    if (!a.kept) continue;
    steps.push({
      order: UNORDERED,
      phase: PHASES.readdAddresses,
      what: `put back ${a.cidr} on ${a.ifname} (it went with its primary)`,
      request: address(a.netns, a.ifname, a.cidr, 'replace', a.attrs),
      // Taken away again on a rollback: the primary must come back first, its secondaries after it.
      undo: [address(a.netns, a.ifname, a.cidr, 'del')],
    });
  }
  for (const n of effects.neighbours) {
    if (!n.kept || n.state !== 'permanent') continue;
    steps.push({
      order: UNORDERED,
      phase: PHASES.addNeighbours,
      what: `put back neighbour ${n.dst} on ${n.dev} (the kernel took it with the link's last IPv4 address)`,
      request: { netns: n.netns, op: 'neighbour', cmd: 'replace', spec: neighbourSpec(n) },
      undo: [],
    });
  }
  for (const r of effects.routes) {
    if (!r.kept) continue;
    const spec = routeRestoreSpec(r.body, effects.names.get(r.netns));
    if (!spec || touchedRoutes.has(`${r.netns}|${spec.family}|${spec.table}|${spec.dst}`)) continue;
    steps.push({
      order: UNORDERED,
      phase: PHASES.addRoutes,
      what: `put back route ${spec.dst} (the kernel took it with the link's last IPv4 address)`,
      request: { netns: r.netns, op: 'route', cmd: 'replace', spec },
      undo: [],
    });
  }
  return steps;
}

/** A stored route as a request spec that puts it back, naming its links as they were named. */
export function routeRestoreSpec(
  body: Buffer,
  names: ReadonlyMap<number, string> = new Map(),
): Record<string, unknown> | undefined {
  const r = decodeBody('route', body);
  if (r.proto === 'kernel') return undefined; // the kernel's own routes come back with their address
  const spec: Record<string, unknown> = { family: r.family, dst: r.dst, table: r.table };
  for (const k of ['priority', 'type', 'scope', 'proto', 'gateway', 'prefsrc', 'metrics', 'src', 'tos'])
    if (r[k] !== undefined && !(k === 'tos' && r[k] === 0)) spec[k] = r[k];
  const dev = (oif: unknown) => (typeof oif === 'number' ? (names.get(oif) ?? oif) : undefined);
  if (r.oif !== undefined) spec.dev = dev(r.oif);
  if (((r.flags as number) & RTNH_F_ONLINK) !== 0 && !r.multipath) spec.flags = RTNH_F_ONLINK;
  if (r.multipath) {
    spec.multipath = (r.multipath as Record<string, unknown>[]).map((h) => ({
      gateway: h.gateway,
      dev: dev(h.oif),
      hops: h.hops,
      ...(((h.flags as number) & RTNH_F_ONLINK) !== 0 ? { flags: RTNH_F_ONLINK } : {}),
    }));
  }
  return spec;
}

const RTNH_F_ONLINK = 4;

/** A link's full creation request, as a record can be turned back into one (the peer's attributes too). */
export function creation(t: InterfaceTarget, peer?: InterfaceTarget): Request {
  if (t.tuntap) {
    const spec: Record<string, unknown> = { ifname: t.ifname, ...t.tuntap };
    if (t.index !== undefined) spec.index = t.index;
    // Its owner, group and persistence are set by ioctls the kernel announces nothing of.
    return { netns: t.netns, op: 'tuntap', cmd: 'add', spec, refresh: true };
  }
  const spec: Record<string, unknown> = { ifname: t.ifname, kind: t.kind };
  // A link put back takes its old index again, so what refers to it by index still does.
  if (t.index !== undefined) spec.index = t.index;
  if (t.peer) spec.peer = { ...t.peer, ...(peer ? attributes(peer) : {}) };
  if (t.link) spec.link = t.link;
  if (t.data) spec.data = t.data;
  Object.assign(spec, attributes(t));
  return { netns: t.netns, op: 'link', cmd: 'add', spec };
}

function link(netns: string, spec: Record<string, unknown>, cmd: Request['cmd'] = 'set', refresh = false): Request {
  return refresh ? { netns, op: 'link', cmd, spec, refresh } : { netns, op: 'link', cmd, spec };
}

/** An address request; attributes (label, broadcast, scope, flags, lifetimes, metric) as `ip addr` takes them. */
function address(
  netns: string,
  ifname: string,
  cidr: string,
  cmd: 'add' | 'del' | 'replace',
  attrs?: AddressAttributes,
): Request {
  const spec: Record<string, unknown> = { ifname, address: cidr };
  if (attrs && cmd !== 'del') {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined) continue;
      spec[k] = (k === 'valid_lft' || k === 'preferred_lft') && v === 'forever' ? 0xffffffff : v;
    }
  }
  return { netns, op: 'address', cmd, spec };
}

function keyOf(t: InterfaceTarget): string {
  return `${t.netns}|${t.ifname}`;
}

/** The peer of a removed veth, when it goes in the same commit (it always does: the kernel takes it). */
function removedPeer(base: InterfaceTarget, removed: ReadonlyMap<string, InterfaceTarget>): InterfaceTarget | undefined {
  if (base.kind !== 'veth' || !base.peer) return undefined;
  return removed.get(`${base.peer.netns ?? base.netns}|${base.peer.ifname}`);
}

/** A proof about one interface: the fields given, nothing else. */
function proofOf(t: InterfaceTarget, fields: Partial<InterfaceExpectation>): Proof[] {
  return [{ kind: 'interface', expect: { netns: t.netns, ifname: t.ifname, present: [], absent: [], ...fields } }];
}

/** The alias as the kernel reports it: none is the empty string. */
const aliasOf = (t: InterfaceTarget | undefined) => t?.ifalias ?? '';

const ZERO_MAC = '00:00:00:00:00:00';

/** Staged interfaces by key: where each started, and where each goes. */
interface Interfaces {
  bases: ReadonlyMap<string, InterfaceTarget>;
  targets: ReadonlyMap<string, InterfaceTarget>;
  removed: ReadonlyMap<string, InterfaceTarget>;
}

function interfaceSteps(
  { base, target, replaced }: Staged<InterfaceTarget>,
  all: Interfaces,
  book: AddressBook,
): Omit<Step, 'order'>[] {
  const { bases, targets, removed } = all;
  const steps: Omit<Step, 'order'>[] = [];
  if (!target && base) {
    // A veth pair goes in one request, sent for the end whose key sorts first.
    const peer = removedPeer(base, removed);
    if (peer && keyOf(peer) < keyOf(base)) return steps;
    // Everything a link had comes back with it if the commit fails (both ends of a pair).
    const restore: Request[] = [];
    if (base.kind) restore.push(creation(base, peer));
    restore.push(...restoreLink(base, removed, book));
    if (peer) restore.push(...restoreLink(peer, removed, book));
    steps.push({
      // Masters go first, then stacked links, then what they sit on: on a rollback the lower
      // links come back first, and masters last, to take their ports again.
      phase: base.ports.length
        ? PHASES.removeMasters
        : base.kind && STACKED.has(base.kind)
          ? PHASES.removeStacked
          : PHASES.removeLinks,
      what: `remove interface ${base.ifname}`,
      request: link(base.netns, { ifname: base.ifname }, 'del'),
      undo: restore,
      back: [base, ...(peer ? [peer] : [])].map((b) => ({ kind: 'interface', expect: expectBase({ base: b }) }) as Proof),
    });
    return steps;
  }
  if (!target) return steps;
  const netns = target.netns;
  let name = base?.ifname ?? target.ifname;
  if (!base) {
    // A veth's peer comes into being with the veth (and goes with its undo).
    if (target.peerOf === undefined) {
      const peer = target.peer ? targets.get(`${target.peer.netns ?? netns}|${target.peer.ifname}`) : undefined;
      steps.push({
        phase: target.kind && STACKED.has(target.kind) ? PHASES.createStacked : PHASES.createLinks,
        what: `create ${target.tuntap ? target.tuntap.mode : target.kind} ${target.ifname}`,
        request: creation(target, peer),
        undo: [link(netns, { ifname: target.ifname }, 'del')],
        // Made where one of its name was removed: what comes back there is the old one (its removal's proof).
        back: replaced
          ? undefined
          : [target, ...(peer ? [peer] : [])].map((t) => ({ kind: 'interface', expect: expectBase({ target: t }) }) as Proof),
      });
    }
    const later = afterCreation(target);
    if (Object.keys(later).length) {
      steps.push({
        phase: PHASES.setAttributes,
        what: `set ${Object.keys(later).join(', ')} of ${target.ifname}`,
        request: link(netns, { ifname: target.ifname, ...later }, 'set', true),
        undo: [],
      });
    }
    if (target.addr_gen_mode !== undefined) {
      steps.push({
        phase: PHASES.setAttributes,
        what: `set addr_gen_mode of ${target.ifname}`,
        request: link(netns, { ifname: target.ifname, addr_gen_mode: target.addr_gen_mode }),
        undo: [],
      });
    }
  } else {
    if (base.netns !== netns) {
      // `ip link set X netns other`: the kernel takes its addresses, master and up state, and
      // the routes through it; the steps below put back in the new namespace what the target
      // keeps, and the undo takes it home and restores it there.
      steps.push({
        phase: PHASES.moveLinks,
        what: `move ${base.ifname} to ${netns}`,
        request: link(base.netns, { ifname: base.ifname, netns }),
        undo: [link(netns, { ifname: base.ifname, netns: base.netns }), ...restoreLink({ ...base, ports: [] }, removed, book)],
        back: [{ kind: 'interface', expect: { ...expectBase({ base, target }), ports: undefined } }],
      });
    }
    const changed: Record<string, unknown> = {};
    const old: Record<string, unknown> = {};
    for (const a of ATTRS) {
      if (a === 'ifalias') continue;
      if (target[a] !== undefined && target[a] !== base[a]) {
        changed[a] = target[a];
        old[a] = base[a];
      }
    }
    // An alias is cleared by the empty string; the kernel announces none of it on a link that is down.
    let silent = false;
    if (target.ifalias !== undefined && aliasOf(target) !== aliasOf(base)) {
      changed.ifalias = aliasOf(target);
      old.ifalias = aliasOf(base);
      silent = true;
    }
    if (target.data && JSON.stringify(target.data) !== JSON.stringify(base.data)) {
      changed.data = target.data;
      changed.kind = target.kind;
      old.data = base.data ?? {};
      old.kind = base.kind;
      silent = true;
    }
    if (target.ifname !== base.ifname) {
      changed.newname = target.ifname;
      old.newname = base.ifname;
    }
    if (Object.keys(changed).length) {
      steps.push({
        phase: PHASES.setAttributes,
        what: `set ${Object.keys(changed)
          .filter((k) => k !== 'kind')
          .join(', ')} of ${base.ifname}`,
        request: link(netns, { ifname: base.ifname, ...changed }, 'set', silent),
        undo: [link(netns, { ifname: target.ifname, ...old }, 'set', silent)],
        back: proofOf(base, {
          ...(changed.mtu !== undefined && base.mtu !== undefined ? { mtu: base.mtu } : {}),
          ...(changed.address !== undefined && base.address !== undefined ? { address: base.address } : {}),
          ...(changed.txqlen !== undefined && base.txqlen !== undefined ? { txqlen: base.txqlen } : {}),
          ...(changed.ifalias !== undefined ? { ifalias: aliasOf(base) } : {}),
        }),
      });
    }
    name = target.ifname;
  }
  // What is left of the starting state where the target is (a moved link arrives bare and down).
  const moved = base !== undefined && base.netns !== netns;
  const from = base && moved ? { ...base, ipaddr: [], master: undefined, brport: undefined, state: 'down' as const } : base;
  // Alternative names go with a moved link; removals first, so one can pass from a name to another.
  const hadAlt = from?.altnames ?? [];
  const hasAlt = target.altnames ?? [];
  for (const [cmd, alt] of [
    ...hadAlt.filter((a) => !hasAlt.includes(a)).map((a) => ['del', a] as const),
    ...hasAlt.filter((a) => !hadAlt.includes(a)).map((a) => ['add', a] as const),
  ]) {
    steps.push({
      phase: PHASES.setAttributes,
      what: `${cmd === 'add' ? 'add' : 'remove'} altname ${alt} ${cmd === 'add' ? 'to' : 'of'} ${name}`,
      request: altname(netns, name, alt, cmd),
      undo: [altname(netns, name, alt, cmd === 'add' ? 'del' : 'add')],
      back: base ? proofOf(base, { altnames: [...(base.altnames ?? [])] }) : undefined,
    });
  }
  // Removals and detachments run before a rename, additions after it.
  const oldName = base?.ifname ?? name;
  const was = from?.master;
  if (target.master !== was) {
    const attach = target.master !== undefined;
    // Detached before the rename, attached after it; each undo runs where its step ran.
    const who = attach ? name : oldName;
    const undo = [link(netns, { ifname: who, master: was ?? 0 })];
    // The port options a port had go with its membership: back in, it gets them again.
    if (was !== undefined && from?.brport && Object.keys(from.brport).length)
      undo.push(portOptions(netns, who, from.brport, true));
    // A bridge that had no port and a MAC of its own takes its first port's, and all zeros when
    // that port leaves again: the undo gives it back the MAC it had (now as a MAC set by hand).
    const bridge = attach ? bases.get(`${netns}|${target.master}`) : undefined;
    if (bridge?.kind === 'bridge' && bridge.ports.length === 0 && bridge.address && bridge.address !== ZERO_MAC) {
      undo.push(link(netns, { ifname: bridge.ifname, address: bridge.address }));
    }
    steps.push({
      phase: attach ? PHASES.attachPorts : PHASES.detachPorts,
      what: attach ? `make ${name} a port of ${target.master}` : `take ${oldName} out of ${was}`,
      request: link(netns, { ifname: who, master: attach ? target.master : 0 }),
      undo,
      back: proofOf(base ?? target, { master: base?.master ?? null }),
    });
  }
  if (target.brport && target.master !== undefined) {
    const before = target.master === was ? (from?.brport ?? {}) : {};
    const changes: Record<string, number> = {};
    const back: Record<string, number> = {};
    for (const [k, v] of Object.entries(target.brport)) {
      if (before[k] === v) continue;
      changes[k] = v;
      if (before[k] !== undefined) back[k] = before[k] as number;
    }
    if (Object.keys(changes).length) {
      steps.push({
        phase: PHASES.setPortOptions,
        what: `set port options ${Object.keys(changes).join(', ')} of ${name}`,
        request: portOptions(netns, name, changes, target.master !== was),
        undo: Object.keys(back).length ? [portOptions(netns, name, back)] : [],
        back: Object.keys(back).length && base ? proofOf(base, { brport: back }) : undefined,
      });
    }
  }
  const had = new Set(from?.ipaddr ?? []);
  const has = new Set(target.ipaddr);
  // Last first: a rollback puts them back in the opposite order, each where it was in the kernel's list.
  const byRank = [...had].sort((x, y) => book.rank(netns, oldName, y) - book.rank(netns, oldName, x));
  for (const a of byRank) {
    if (has.has(a)) continue;
    // Secondaries before their primary: removed first, the primary would take them along.
    const secondary = book.isSecondary(netns, oldName, a);
    steps.push({
      phase: secondary ? PHASES.removeSecondaries : PHASES.removeAddresses,
      what: `remove ${a} from ${oldName}`,
      request: address(netns, oldName, a, 'del'),
      undo: [address(netns, oldName, a, 'add', book.attributes(netns, oldName, a))],
      back: proofOf(base ?? target, { present: [a] }),
    });
  }
  const first = base && !moved ? addedFirst(base, target, book) : [];
  for (const a of has) {
    if (had.has(a)) continue;
    steps.push({
      phase: first.includes(a) ? PHASES.addAddressesFirst : PHASES.addAddresses,
      what: `add ${a} to ${name}`,
      request: address(netns, name, a, 'add', target.ipattrs?.[a]),
      undo: [address(netns, name, a, 'del')],
      back: base && !moved ? proofOf(base, { absent: [a] }) : undefined,
    });
  }
  if (target.state !== (from?.state ?? 'down')) {
    steps.push({
      phase: PHASES.setState,
      what: `set ${name} ${target.state}`,
      request: link(netns, { ifname: name, state: target.state }),
      undo: [link(netns, { ifname: name, state: from?.state ?? 'down' })],
      // Up again, a link gets its link-local IPv6 addresses back from the kernel (eui64: the same ones).
      back:
        base && !moved
          ? proofOf(base, { state: base.state, present: base.state === 'up' ? base.ipaddr.filter(isLinkLocal) : [] })
          : undefined,
    });
  }
  return steps;
}

/**
 * `ip link property add|del dev X altname Y`; the kernel announces it only
 * for a link that is up, so the link is asked for again after it.
 */
function altname(netns: string, ifname: string, alt: string, cmd: 'add' | 'del'): Request {
  return { netns, op: 'altname', cmd, spec: { ifname, altname: alt }, refresh: true };
}

/**
 * `ip link set P type bridge_slave cost 5 ...`: port options of a bridge
 * port. With `onlyChanges` (a port that just joined: the kernel gave it
 * defaults, and a cost from its speed), only options that differ from what
 * the port has then are sent: setting a cost by hand would stop it
 * following the link's speed.
 */
function portOptions(netns: string, ifname: string, options: Record<string, number>, onlyChanges = false): Request {
  const r = link(netns, { ifname, slave_kind: 'bridge', slave_data: { ...options } }, 'set', true);
  if (onlyChanges) r.onlyChanges = true;
  return r;
}

/**
 * A bridge made with an MTU takes its ports' as they join (the MTU was not
 * "set by the user"); set once it exists, it keeps it.
 */
const setLater = (t: InterfaceTarget, a: string) => t.tuntap !== undefined || (a === 'mtu' && t.kind === 'bridge');

/** The attributes a creation request can carry. */
function attributes(t: InterfaceTarget): Record<string, unknown> {
  const out: Record<string, unknown> = t.index !== undefined ? { index: t.index } : {};
  for (const a of CREATE_ATTRS) if (t[a] !== undefined && !(a === 'mtu' && t.kind === 'bridge')) out[a] = t[a];
  return out;
}

/** What a new link gets once it exists: its alias, a bridge its MTU, a tun/tap (made bare) everything. */
function afterCreation(t: InterfaceTarget): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of CREATE_ATTRS) if (t[a] !== undefined && setLater(t, a)) out[a] = t[a];
  if (t.ifalias) out.ifalias = t.ifalias;
  return out;
}

function hasLinkLocal(t: InterfaceTarget): boolean {
  return t.ipaddr.some(isLinkLocal);
}

/**
 * After recreating a removed link: its master (unless that is being put back
 * too: it takes its ports itself) and port options, its ports, addresses
 * (link-local ones too, with their attributes) and state.
 */
function restoreLink(base: InterfaceTarget, removed: ReadonlyMap<string, InterfaceTarget>, book: AddressBook): Request[] {
  const out: Request[] = [];
  const later = afterCreation(base);
  if (Object.keys(later).length) out.push(link(base.netns, { ifname: base.ifname, ...later }, 'set', true));
  // It must get the link-local addresses it had, not ones made from its MAC now (a bridge's
  // MAC is its first port's): no addresses of the kernel's own while it is down (the kernel
  // takes no addrgenmode at creation), its old ones added, then its mode back once it is up.
  if (hasLinkLocal(base)) out.push(link(base.netns, { ifname: base.ifname, addr_gen_mode: 'none' }));
  if (base.master && !removed.has(`${base.netns}|${base.master}`)) {
    out.push(link(base.netns, { ifname: base.ifname, master: base.master }));
    if (base.brport && Object.keys(base.brport).length) out.push(portOptions(base.netns, base.ifname, base.brport, true));
  }
  for (const p of base.ports) out.push(link(base.netns, { ifname: p, master: base.ifname }));
  for (const alt of base.altnames ?? []) out.push(altname(base.netns, base.ifname, alt, 'add'));
  for (const a of base.ipaddr) out.push(address(base.netns, base.ifname, a, 'add', book.attributes(base.netns, base.ifname, a)));
  if (base.state === 'up') out.push(link(base.netns, { ifname: base.ifname, state: 'up' }));
  if (hasLinkLocal(base)) out.push(link(base.netns, { ifname: base.ifname, addr_gen_mode: base.addr_gen_mode ?? 'eui64' }));
  return out;
}

export function routeSpec(t: RouteTarget): Record<string, unknown> {
  const spec: Record<string, unknown> = { family: t.family, dst: t.dst, table: t.table };
  for (const k of ['priority', 'tos', 'type', 'scope', 'proto', 'gateway', 'dev', 'prefsrc', 'metrics'] as const) {
    if (t[k] !== undefined) spec[k] = t[k];
  }
  if (t.onlink) spec.flags = RTNH_F_ONLINK;
  if (t.multipath.length) {
    spec.multipath = t.multipath.map(({ onlink, ...h }) => (onlink ? { ...h, flags: RTNH_F_ONLINK } : { ...h }));
  }
  return spec;
}

function ruleSpec(t: RuleTarget): Record<string, unknown> {
  const { netns: _n, ...spec } = t as Record<string, unknown>;
  return spec;
}

function neighbourSpec(t: NeighbourTarget): Record<string, unknown> {
  const spec: Record<string, unknown> = { ifname: t.dev, dst: t.dst };
  if (t.lladdr !== undefined) spec.lladdr = t.lladdr;
  if (t.state !== undefined) spec.state = t.state;
  if (t.proxy) spec.proxy = true;
  if (t.router) spec.router = true;
  return spec;
}

/** Kinds of simple objects: no parts of their own, one step each. */
export type ObjectKind = 'route' | 'rule' | 'neighbour';

/** How one kind of simple object (no parts of its own) is removed, created and changed. */
interface ObjectOps<T> {
  op: FamilyName;
  proof: ObjectKind;
  what: string;
  name(t: T): string;
  spec(t: T): Record<string, unknown>;
  phases: { remove: number; add: number };
  /** The command that creates it, and the one that changes it in place (none: identity is every field). */
  create: 'add' | 'replace';
  change?: 'replace';
  /** The command that puts it back after a removal. */
  restore: 'add' | 'replace';
}

function objectSteps<T extends { netns: string }>({ base, target }: Staged<T>, o: ObjectOps<T>): Omit<Step, 'order'>[] {
  const req = (t: T, cmd: Request['cmd']): Request => ({ netns: t.netns, op: o.op, cmd, spec: o.spec(t) });
  const back = [{ kind: o.proof, staged: { base: target, target: base } } as Proof];
  if (!target && base) {
    return [
      {
        phase: o.phases.remove,
        what: `remove ${o.what} ${o.name(base)}`,
        request: req(base, 'del'),
        undo: [req(base, o.restore)],
        back,
      },
    ];
  }
  if (!target) return [];
  if (base && (!o.change || JSON.stringify(o.spec(base)) === JSON.stringify(o.spec(target)))) return [];
  return [
    {
      phase: o.phases.add,
      what: `${base ? 'change' : 'add'} ${o.what} ${o.name(target)}`,
      request: req(target, base && o.change ? o.change : o.create),
      undo: [base ? req(base, o.restore) : req(target, 'del')],
      back,
    },
  ];
}

const ROUTE_OPS: ObjectOps<RouteTarget> = {
  op: 'route',
  proof: 'route',
  what: 'route',
  name: (t) => t.dst,
  spec: routeSpec,
  phases: { remove: PHASES.removeRoutes, add: PHASES.addRoutes },
  create: 'add',
  change: 'replace',
  restore: 'replace',
};

const RULE_OPS: ObjectOps<RuleTarget> = {
  op: 'rule',
  proof: 'rule',
  what: 'rule',
  name: (t) => String(t.priority ?? ''),
  spec: ruleSpec,
  phases: { remove: PHASES.removeRules, add: PHASES.addRules },
  create: 'add',
  restore: 'add',
};

const NEIGHBOUR_OPS: ObjectOps<NeighbourTarget> = {
  op: 'neighbour',
  proof: 'neighbour',
  what: 'neighbour',
  name: (t) => t.dst,
  spec: neighbourSpec,
  phases: { remove: PHASES.removeNeighbours, add: PHASES.addNeighbours },
  create: 'replace',
  change: 'replace',
  restore: 'replace',
};

const OBJECT_OPS = { route: ROUTE_OPS, rule: RULE_OPS, neighbour: NEIGHBOUR_OPS } as const;

/** One simple object's change: its kind and its staged pair. */
export interface ObjectChange {
  kind: ObjectKind;
  staged: Staged<{ netns: string }>;
}

/** The proof of a simple object's step: what the store shows once it is undone (its staged pair, swapped). */
export type ObjectProof = { kind: ObjectKind; staged: Staged<{ netns: string }> };

/**
 * The proof of a simple object's step, or none for any other step. Such a
 * step is made from its staged pair alone (`objectStep`), and its proof
 * holds that pair, so the proof is all the journal writes of it.
 */
export function objectProofOf(step: Step): ObjectProof | undefined {
  const proof = step.back?.length === 1 ? step.back[0] : undefined;
  if (!proof || !Object.hasOwn(OBJECT_OPS, proof.kind) || step.undo.length !== 1 || step.lost !== undefined) return undefined;
  return proof as ObjectProof;
}

/** The step that makes a simple object's change (none when the pair does not differ). */
export function objectStep({ kind, staged }: ObjectChange): Omit<Step, 'order'> | undefined {
  return objectSteps(staged as Staged<never>, OBJECT_OPS[kind] as ObjectOps<never>)[0];
}
