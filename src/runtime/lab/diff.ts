/**
 * What changes between a running lab and the lab a file now describes, so
 * that `lab up` on a running lab applies only the difference.
 *
 * Identity: a node by its name and kind (a node whose kind changed is
 * removed and added again, with its links); a link by its id (its two
 * endpoints). Whole nodes and links that appear or go are listed whole; the
 * fine-grained lists (addresses, routes, impairments, MTU and MAC, node
 * settings) are about what is on both sides only. Notes for applying it:
 * - A link with an end on a removed node is in `removedLinks`, but deleting
 *   that node's namespace already deletes the veth pair.
 * - An added node comes with its routes and settings; an added link with
 *   its interfaces' addresses, MTU, MAC and impairment (read them from
 *   `desired`).
 * - A switch whose settings or ports changed, or a link of whose was
 *   removed or added, is in `changedNodes` with `switch`: BMv2 opens its
 *   ports when it starts, so it is restarted.
 * An order that works: removed routes, addresses, links, nodes; then added
 * nodes, links, addresses, routes; then changed settings and impairments.
 */
import { ValidationError } from '../../errors.js';
import type { Impairment, LabInterface, LabLimits, LabLink, LabModel, LabNode, LabRoute, LabSwitch } from './model.js';

export interface LabDiff {
  addedNodes: LabNode[];
  removedNodes: LabNode[];
  changedNodes: NodeChange[];
  addedLinks: LabLink[];
  removedLinks: LabLink[];
  /** MTU or MAC changes on a link both sides have. */
  changedLinks: LinkChange[];
  addedAddresses: AddressChange[];
  removedAddresses: AddressChange[];
  addedRoutes: RouteChange[];
  removedRoutes: RouteChange[];
  /** Shaping changes on interfaces both sides have (before/after absent: no shaping). */
  impairments: ImpairmentChange[];
}

export interface NodeChange {
  node: string;
  sysctls?: { key: string; before?: string; after?: string }[];
  exec?: { before: string[]; after: string[] };
  limits?: { before: LabLimits; after: LabLimits };
  /** The switch must be restarted (its settings or ports changed, or a link of its was made anew). */
  switch?: { before: LabSwitch; after: LabSwitch };
}

export interface LinkChange {
  link: string;
  mtu?: { before?: number; after?: number };
  macs?: { node: string; interface: string; before?: string; after?: string }[];
}

export interface AddressChange {
  node: string;
  interface: string;
  /** 'address/length'. */
  address: string;
}

export interface RouteChange {
  node: string;
  route: LabRoute;
}

export interface ImpairmentChange {
  node: string;
  interface: string;
  before?: Impairment;
  after?: Impairment;
}

/** The changes that turn `running` into `desired`. Pure. */
export function diffLabs(running: LabModel, desired: LabModel): LabDiff {
  if (running.name !== desired.name) {
    // Another name is another lab (other namespaces): nothing of the running one would be kept.
    throw new ValidationError(
      `lab "${desired.name}" is not lab "${running.name}": a diff is between two versions of one lab`,
      'name',
    );
  }
  const diff: LabDiff = {
    addedNodes: [],
    removedNodes: [],
    changedNodes: [],
    addedLinks: [],
    removedLinks: [],
    changedLinks: [],
    addedAddresses: [],
    removedAddresses: [],
    addedRoutes: [],
    removedRoutes: [],
    impairments: [],
  };
  const kept = new Set<string>();
  for (const before of Object.values(running.nodes)) {
    const after = desired.nodes[before.name];
    if (after && after.kind === before.kind) kept.add(before.name);
    else diff.removedNodes.push(before);
  }
  for (const after of Object.values(desired.nodes)) {
    if (!kept.has(after.name)) diff.addedNodes.push(after);
  }

  const linkKept = (l: LabLink) => l.endpoints.every((e) => kept.has(e.node));
  for (const before of Object.values(running.links)) {
    const after = desired.links[before.id];
    if (!after || !linkKept(before)) diff.removedLinks.push(before);
  }
  for (const after of Object.values(desired.links)) {
    const before = running.links[after.id];
    if (!before || !linkKept(after)) diff.addedLinks.push(after);
    else diffLink(diff, running, desired, before, after);
  }

  // A switch whose port's veth is deleted or made anew must be restarted, even with the same settings.
  const relinked = new Set([...diff.removedLinks, ...diff.addedLinks].flatMap((l) => l.endpoints.map((e) => e.node)));
  for (const name of kept) diffNode(diff, running.nodes[name] as LabNode, desired.nodes[name] as LabNode, relinked.has(name));
  return diff;
}

/** Whether applying `diff` would change nothing. */
export function isEmptyDiff(diff: LabDiff): boolean {
  return Object.values(diff).every((list) => (list as unknown[]).length === 0);
}

function diffLink(diff: LabDiff, running: LabModel, desired: LabModel, before: LabLink, after: LabLink): void {
  const change: LinkChange = { link: after.id };
  if (before.mtu !== after.mtu)
    change.mtu = {
      ...(before.mtu !== undefined && { before: before.mtu }),
      ...(after.mtu !== undefined && { after: after.mtu }),
    };
  for (const e of after.endpoints) {
    const was = running.nodes[e.node]?.interfaces[e.interface] as LabInterface;
    const now = desired.nodes[e.node]?.interfaces[e.interface] as LabInterface;
    if (was.mac !== now.mac) {
      change.macs ??= [];
      change.macs.push({
        node: e.node,
        interface: e.interface,
        ...(was.mac && { before: was.mac }),
        ...(now.mac && { after: now.mac }),
      });
    }
    for (const address of was.addresses) {
      if (!now.addresses.includes(address)) diff.removedAddresses.push({ node: e.node, interface: e.interface, address });
    }
    for (const address of now.addresses) {
      if (!was.addresses.includes(address)) diff.addedAddresses.push({ node: e.node, interface: e.interface, address });
    }
    if (!same(was.impair, now.impair)) {
      diff.impairments.push({
        node: e.node,
        interface: e.interface,
        ...(was.impair && { before: was.impair }),
        ...(now.impair && { after: now.impair }),
      });
    }
  }
  if (change.mtu || change.macs) diff.changedLinks.push(change);
}

function diffNode(diff: LabDiff, before: LabNode, after: LabNode, relinked: boolean): void {
  const change: NodeChange = { node: after.name };
  const keys = new Set([...Object.keys(before.sysctls), ...Object.keys(after.sysctls)]);
  for (const key of keys) {
    const [was, now] = [before.sysctls[key], after.sysctls[key]];
    if (was === now) continue;
    change.sysctls ??= [];
    change.sysctls.push({ key, ...(was !== undefined && { before: was }), ...(now !== undefined && { after: now }) });
  }
  if (!same(before.exec, after.exec)) change.exec = { before: before.exec, after: after.exec };
  if (!same(before.limits, after.limits)) change.limits = { before: before.limits, after: after.limits };
  if (before.switch && after.switch && (relinked || !same(before.switch, after.switch))) {
    change.switch = { before: before.switch, after: after.switch };
  }
  if (Object.keys(change).length > 1) diff.changedNodes.push(change);

  for (const route of before.routes) {
    if (!after.routes.some((r) => same(r, route))) diff.removedRoutes.push({ node: after.name, route });
  }
  for (const route of after.routes) {
    if (!before.routes.some((r) => same(r, route))) diff.addedRoutes.push({ node: after.name, route });
  }
}

/** Deep equality of plain data, whatever the order of keys. */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
