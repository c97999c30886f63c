/**
 * Removes what a lab made, as its records say: one transaction for the
 * network (links, addresses, routes and shaping it put on links it did not
 * make, then its namespaces with everything in them), then its cgroups
 * (with what still runs in them). Records of things inside a namespace the
 * lab made are covered by that namespace's removal. Things already gone are
 * not an error; a record whose commit never went through made nothing.
 */
import { removeCgroup } from '../backends/cgroup.js';
import { netnsExists } from '../backends/netns.js';
import { ROOT } from '../db/source.js';
import type { NetState } from '../netstate/netstate.js';
import type { Journal } from '../transactions/journal.js';
import type { LabRegistry, MadeRecord } from './registry.js';

export interface CleanupReport {
  /** What was removed, in words. */
  removed: string[];
}

/** Whether a record's commit made anything: unknown (a crash before the mark) counts as made. */
function madeIt(r: MadeRecord, journal: Journal | undefined): boolean {
  if (!r.commit || !journal) return true;
  const state = journal.get(r.commit)?.state;
  return state === undefined || state === 'committed' || state === 'confirmed' || state === 'pending' || state === 'applying';
}

export async function cleanupLab(db: NetState, registry: LabRegistry, lab: string): Promise<CleanupReport> {
  const records = registry.list(lab).filter((r) => madeIt(r, db.journal));
  const namespaces = new Set(records.filter((r) => r.kind === 'namespace').map((r) => r.name));
  const links = new Set(records.filter((r) => r.kind === 'link').map((r) => `${r.netns}|${r.name}`));
  const removed: string[] = [];
  // What lives in a namespace the lab made goes with it; what it put on a link it made, with the link.
  const covered = (r: MadeRecord) =>
    r.kind !== 'namespace' &&
    r.kind !== 'cgroup' &&
    r.kind !== 'process' &&
    (namespaces.has(r.netns) || (r.detail !== undefined && links.has(`${r.netns}|${r.detail}`)));
  const network = records.filter((r) => !covered(r) && r.kind !== 'cgroup' && r.kind !== 'process').reverse();
  for (const r of network) {
    const ns = r.kind === 'namespace' ? undefined : r.netns;
    if (ns && ns !== ROOT && netnsExists(ns) && !db.followed.includes(ns)) await db.follow(ns);
  }
  const tx = db.begin();
  for (const r of network) {
    const where = { netns: r.netns };
    if (r.kind === 'namespace') {
      if (netnsExists(r.name)) {
        tx.removeNamespace(r.name);
        removed.push(`namespace ${r.name}`);
      }
    } else if (!db.followed.includes(r.netns)) {
      // Its namespace is gone: so is it.
    } else if (r.kind === 'link') {
      if (db.interfaces.get({ netns: r.netns, ifname: r.name })) {
        tx.interface(r.name, where).remove();
        removed.push(`link ${r.name}`);
      }
    } else if (r.kind === 'address' && r.detail) {
      const [address, prefixlen] = r.name.split('/');
      if (db.addresses.get({ netns: r.netns, ifname: r.detail, address, prefixlen: Number(prefixlen) })) {
        tx.interface(r.detail, where).delIp(r.name);
        removed.push(`address ${r.name} of ${r.detail}`);
      }
    } else if (r.kind === 'route') {
      const table = r.detail ? Number(r.detail) : 254;
      if (db.routes.get({ netns: r.netns, dst: r.name, table })) {
        tx.route({ dst: r.name, table, netns: r.netns }).remove();
        removed.push(`route ${r.name}`);
      }
    } else if ((r.kind === 'qdisc' || r.kind === 'forward') && r.detail) {
      if (db.interfaces.get({ netns: r.netns, ifname: r.detail })) {
        const handle = tx.interface(r.detail, where);
        if (r.kind === 'qdisc') handle.clearShape();
        else handle.clearForward();
        removed.push(`${r.kind} on ${r.detail}`);
      }
    }
  }
  if (removed.length) await tx.commit();
  else tx.drop();
  for (const r of records.filter((x) => x.kind === 'cgroup' || x.kind === 'process').reverse()) {
    const killed = await removeCgroup(r.name);
    removed.push(`${r.kind} ${r.name}${killed.length ? ` (ended ${killed.join(', ')})` : ''}`);
  }
  registry.drop(lab);
  return { removed };
}
