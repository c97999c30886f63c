/**
 * The plan: the staged difference as kernel requests, in dependency order.
 * Removals first, in reverse dependency order (neighbours, rules, routes,
 * addresses, ports, links); then creations and changes (plain links, links
 * that sit on others, attributes, ports, addresses, state, routes, rules,
 * neighbours). Each step carries its undo, computed from the snapshot the
 * transaction started from. Steps of one phase are independent and go out
 * in one batch.
 */
import type { FamilyName } from '../backends/netlink/codec/message.js';
import { isLinkLocal } from './current.js';
import type { InterfaceTarget, NeighbourTarget, RouteTarget, RuleTarget, Staged } from './staged.js';

export interface Request {
  netns: string;
  op: FamilyName;
  cmd: 'add' | 'set' | 'replace' | 'del';
  spec: Record<string, unknown>;
}

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
}

/** Kinds that sit on another link (`link`) and are created after plain ones. */
const STACKED = new Set(['vlan', 'vxlan', 'macvlan', 'macvtap', 'gre', 'gretap']);
/** Attributes a creation request carries; the kernel takes addrgenmode only once a link exists. */
const CREATE_ATTRS = ['mtu', 'address', 'ifalias', 'txqlen'] as const;
const ATTRS = [...CREATE_ATTRS, 'addr_gen_mode'] as const;

export const PHASES = {
  removeNeighbours: 10,
  removeRules: 20,
  removeRoutes: 30,
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
  addAddresses: 140,
  setState: 150,
  addRoutes: 160,
  addRules: 170,
  addNeighbours: 180,
} as const;

export interface Staging {
  interfaces: Iterable<Staged<InterfaceTarget>>;
  routes: Iterable<Staged<RouteTarget>>;
  rules: Iterable<Staged<RuleTarget>>;
  neighbours: Iterable<Staged<NeighbourTarget>>;
}

export function plan(staging: Staging): Step[] {
  const steps: Step[] = [];
  const removed = new Map<string, InterfaceTarget>();
  for (const s of staging.interfaces) if (s.base && !s.target) removed.set(keyOf(s.base), s.base);
  const ordered = <T>(s: Staged<T>, list: Omit<Step, 'order'>[]) => {
    for (const step of list) steps.push({ order: s.order ?? UNORDERED, ...step });
  };
  for (const s of staging.interfaces) ordered(s, interfaceSteps(s, removed));
  for (const s of staging.routes) ordered(s, objectSteps(s, ROUTE_OPS));
  for (const s of staging.rules) ordered(s, objectSteps(s, RULE_OPS));
  for (const s of staging.neighbours) ordered(s, objectSteps(s, NEIGHBOUR_OPS));
  return steps.sort((a, b) => a.order - b.order || a.phase - b.phase);
}

const UNORDERED = Number.MAX_SAFE_INTEGER;

/** A link's full creation request, as a record can be turned back into one. */
export function creation(t: InterfaceTarget): Request {
  const spec: Record<string, unknown> = { ifname: t.ifname, kind: t.kind };
  // A link put back takes its old index again, so what refers to it by index still does.
  if (t.index !== undefined) spec.index = t.index;
  if (t.peer) spec.peer = { ...t.peer };
  if (t.link) spec.link = t.link;
  if (t.data) spec.data = t.data;
  Object.assign(spec, attributes(t));
  return { netns: t.netns, op: 'link', cmd: 'add', spec };
}

function link(netns: string, spec: Record<string, unknown>, cmd: Request['cmd'] = 'set'): Request {
  return { netns, op: 'link', cmd, spec };
}

function addr(netns: string, ifname: string, address: string, cmd: 'add' | 'del'): Request {
  return { netns, op: 'address', cmd, spec: { ifname, address } };
}

function keyOf(t: InterfaceTarget): string {
  return `${t.netns}|${t.ifname}`;
}

/** The peer of a removed veth, when it goes in the same commit (it always does: the kernel takes it). */
function removedPeer(base: InterfaceTarget, removed: ReadonlyMap<string, InterfaceTarget>): InterfaceTarget | undefined {
  if (base.kind !== 'veth' || !base.peer) return undefined;
  return removed.get(`${base.peer.netns ?? base.netns}|${base.peer.ifname}`);
}

function interfaceSteps(
  { base, target }: Staged<InterfaceTarget>,
  removed: ReadonlyMap<string, InterfaceTarget>,
): Omit<Step, 'order'>[] {
  const steps: Omit<Step, 'order'>[] = [];
  if (!target && base) {
    // A veth pair goes in one request, sent for the end whose key sorts first.
    const peer = removedPeer(base, removed);
    if (peer && keyOf(peer) < keyOf(base)) return steps;
    // Everything a link had comes back with it if the commit fails (both ends of a pair).
    const restore: Request[] = [];
    if (base.kind) {
      const create = creation(base);
      if (peer) create.spec.peer = { ...(create.spec.peer as object), ...attributes(peer) };
      restore.push(create);
    }
    restore.push(...restoreLink(base, removed));
    if (peer) restore.push(...restoreLink(peer, removed));
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
    });
    return steps;
  }
  if (!target) return steps;
  const netns = target.netns;
  let name = base?.ifname ?? target.ifname;
  if (!base) {
    // A veth's peer comes into being with the veth (and goes with its undo).
    if (target.peerOf === undefined) {
      steps.push({
        phase: target.kind && STACKED.has(target.kind) ? PHASES.createStacked : PHASES.createLinks,
        what: `create ${target.kind} ${target.ifname}`,
        request: creation(target),
        undo: [link(netns, { ifname: target.ifname }, 'del')],
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
        undo: [link(netns, { ifname: base.ifname, netns: base.netns }), ...restoreLink({ ...base, ports: [] }, removed)],
      });
    }
    const changed: Record<string, unknown> = {};
    const old: Record<string, unknown> = {};
    for (const a of ATTRS) {
      if (target[a] !== undefined && target[a] !== base[a]) {
        changed[a] = target[a];
        old[a] = base[a];
      }
    }
    if (target.data && JSON.stringify(target.data) !== JSON.stringify(base.data)) {
      changed.data = target.data;
      changed.kind = target.kind;
    }
    if (target.ifname !== base.ifname) {
      changed.newname = target.ifname;
      old.newname = base.ifname;
    }
    if (Object.keys(changed).length) {
      steps.push({
        phase: PHASES.setAttributes,
        what: `set ${Object.keys(changed).join(', ')} of ${base.ifname}`,
        request: link(netns, { ifname: base.ifname, ...changed }),
        undo: [link(netns, { ifname: target.ifname, ...old })],
      });
    }
    name = target.ifname;
  }
  // What is left of the starting state where the target is (a moved link arrives bare and down).
  const from = base && base.netns !== netns ? { ...base, ipaddr: [], master: undefined, state: 'down' as const } : base;
  const was = from?.master;
  if (target.master !== was) {
    const attach = target.master !== undefined;
    steps.push({
      phase: attach ? PHASES.attachPorts : PHASES.detachPorts,
      what: attach ? `make ${name} a port of ${target.master}` : `take ${name} out of ${was}`,
      request: link(netns, { ifname: name, master: attach ? target.master : 0 }),
      undo: [link(netns, { ifname: name, master: was ?? 0 })],
    });
  }
  const had = new Set(from?.ipaddr ?? []);
  const has = new Set(target.ipaddr);
  for (const a of had) {
    if (has.has(a)) continue;
    steps.push({
      phase: PHASES.removeAddresses,
      what: `remove ${a} from ${name}`,
      request: addr(netns, name, a, 'del'),
      undo: [addr(netns, name, a, 'add')],
    });
  }
  for (const a of has) {
    if (had.has(a)) continue;
    steps.push({
      phase: PHASES.addAddresses,
      what: `add ${a} to ${name}`,
      request: addr(netns, name, a, 'add'),
      undo: [addr(netns, name, a, 'del')],
    });
  }
  if (target.state !== (from?.state ?? 'down')) {
    steps.push({
      phase: PHASES.setState,
      what: `set ${name} ${target.state}`,
      request: link(netns, { ifname: name, state: target.state }),
      undo: [link(netns, { ifname: name, state: from?.state ?? 'down' })],
    });
  }
  return steps;
}

/** The attributes a creation request can carry. */
function attributes(t: InterfaceTarget): Record<string, unknown> {
  const out: Record<string, unknown> = t.index !== undefined ? { index: t.index } : {};
  for (const a of CREATE_ATTRS) if (t[a] !== undefined) out[a] = t[a];
  return out;
}

function hasLinkLocal(t: InterfaceTarget): boolean {
  return t.ipaddr.some(isLinkLocal);
}

/**
 * After recreating a removed link: its master (unless that is being put back
 * too: it takes its ports itself), its ports, addresses (link-local ones
 * too) and state.
 */
function restoreLink(base: InterfaceTarget, removed: ReadonlyMap<string, InterfaceTarget>): Request[] {
  const out: Request[] = [];
  // It must get the link-local addresses it had, not ones made from its MAC now (a bridge's
  // MAC is its first port's): no addresses of the kernel's own while it is down (the kernel
  // takes no addrgenmode at creation), its old ones added, then its mode back once it is up.
  if (hasLinkLocal(base)) out.push(link(base.netns, { ifname: base.ifname, addr_gen_mode: 'none' }));
  if (base.master && !removed.has(`${base.netns}|${base.master}`))
    out.push(link(base.netns, { ifname: base.ifname, master: base.master }));
  for (const p of base.ports) out.push(link(base.netns, { ifname: p, master: base.ifname }));
  for (const a of base.ipaddr) out.push(addr(base.netns, base.ifname, a, 'add'));
  if (base.state === 'up') out.push(link(base.netns, { ifname: base.ifname, state: 'up' }));
  if (hasLinkLocal(base)) out.push(link(base.netns, { ifname: base.ifname, addr_gen_mode: base.addr_gen_mode ?? 'eui64' }));
  return out;
}

export function routeSpec(t: RouteTarget): Record<string, unknown> {
  const spec: Record<string, unknown> = { family: t.family, dst: t.dst, table: t.table };
  for (const k of ['priority', 'type', 'scope', 'proto', 'gateway', 'dev', 'prefsrc', 'metrics'] as const) {
    if (t[k] !== undefined) spec[k] = t[k];
  }
  if (t.multipath.length) spec.multipath = t.multipath.map((h) => ({ ...h }));
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
  return spec;
}

/** How one kind of simple object (no parts of its own) is removed, created and changed. */
interface ObjectOps<T> {
  op: FamilyName;
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
  if (!target && base) {
    return [
      {
        phase: o.phases.remove,
        what: `remove ${o.what} ${o.name(base)}`,
        request: req(base, 'del'),
        undo: [req(base, o.restore)],
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
    },
  ];
}

const ROUTE_OPS: ObjectOps<RouteTarget> = {
  op: 'route',
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
  what: 'rule',
  name: (t) => String(t.priority ?? ''),
  spec: ruleSpec,
  phases: { remove: PHASES.removeRules, add: PHASES.addRules },
  create: 'add',
  restore: 'add',
};

const NEIGHBOUR_OPS: ObjectOps<NeighbourTarget> = {
  op: 'neighbour',
  what: 'neighbour',
  name: (t) => t.dst,
  spec: neighbourSpec,
  phases: { remove: PHASES.removeNeighbours, add: PHASES.addNeighbours },
  create: 'replace',
  change: 'replace',
  restore: 'replace',
};
