/**
 * A link's traffic control as a transaction stages it: its root qdisc, and
 * what sits on its ingress (an ingress qdisc, and the forward filter on it).
 * Read from the store's qdisc and filter records, compared the way the
 * kernel reports them back.
 */
import { ticksToUsec } from '../backends/netlink/families/tc-units.js';
import type { Database } from '../db/database.js';
import type { StoredQdisc } from '../db/records.js';
import { canonical } from './diff.js';

/** What shape() was given, in p4net's terms (numbers: bit/s, ms, percent, packets). */
export interface Shape {
  rate?: number;
  delay?: number;
  jitter?: number;
  loss?: number;
  limit?: number;
}

interface OnLink {
  netns: string;
  ifname: string;
  /** The link's index when it exists: requests name it by index, so a rename in the same commit cannot lose it. */
  index?: number;
}

/** A link's root qdisc. */
export interface RootTarget extends OnLink {
  slot: 'root';
  /** 'default' for the kernel's own root (noqueue, pfifo_fast, mq; the built-in noop of a link never up). */
  kind: string;
  /** The handle it has ('8001:'), to put it back under the same one. */
  handle?: string;
  /** What it is made with, as Rtnl.qdisc takes it (rate in bit/s, burst and limit in bytes, ...). */
  options?: Record<string, unknown>;
  /** Staged by shape(): the qdisc is chosen at commit (netem where the kernel has it, tbf or pfifo where not). */
  shape?: Shape;
  /** A root netstate could not build again (an htb and its classes): why. */
  foreign?: string;
}

/** What sits on a link's ingress: an ingress qdisc, and the filter that forwards everything elsewhere. */
export interface IngressTarget extends OnLink {
  slot: 'ingress';
  qdisc?: string;
  /** The link all arriving traffic is redirected to (its name, or its index when it is gone). */
  forward?: string | number;
  /** The forward filter's identity (to replace it, or put it back). */
  filter?: { priority: number; protocol: string; handle: string };
  /** Filters or a qdisc netstate did not make and could not put back: what. */
  foreign?: string;
}

export type TcTarget = RootTarget | IngressTarget;

/** The kinds a rollback can make again from their record. */
const REBUILT = new Set(['tbf', 'netem', 'pfifo', 'bfifo', 'pfifo_fast', 'noqueue']);

function defined(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** The options that make a recorded qdisc again (as Rtnl.qdisc takes them). */
function optionsOf(rec: StoredQdisc): Record<string, unknown> | undefined {
  const o = (rec.options ?? {}) as Record<string, unknown>;
  switch (rec.kind) {
    case 'tbf': {
      const p = (o.parms ?? {}) as Record<string, number>;
      const out: Record<string, unknown> = { rate: rec.rate, burst: rec.burst, limit: p.limit };
      const peak = (o.prate64 as number | undefined) ?? p.peak_rate;
      if (peak) {
        out.peakrate = peak * 8;
        out.mtu = Math.round((ticksToUsec(p.mtu as number) * peak) / 1e6);
      }
      return out;
    }
    case 'netem':
      return defined({
        delay: rec.delay,
        jitter: rec.jitter || undefined,
        loss: rec.loss || undefined,
        limit: rec.limit,
        rate: rec.rate,
      });
    case 'pfifo':
    case 'bfifo':
      return { limit: ((o.header ?? {}) as { limit?: number }).limit };
    default:
      return {};
  }
}

/** A link's root qdisc from its record (none: the built-in noop, a default too). */
export function rootOf(rec: StoredQdisc | undefined, link: OnLink): RootTarget {
  const base: RootTarget = { ...link, slot: 'root', kind: 'default' };
  if (!rec || rec.default) return base;
  const t: RootTarget = { ...base, kind: rec.kind, handle: rec.handle };
  if (!REBUILT.has(rec.kind)) {
    t.foreign = `a${rec.kind === 'htb' ? 'n' : ''} ${rec.kind} qdisc (${rec.kind === 'htb' ? 'its classes are' : 'its options are'} not modelled)`;
    return t;
  }
  t.options = optionsOf(rec);
  return t;
}

/** The records of a link: by index when it has one, else by name. */
function linkFilter(link: OnLink): Record<string, unknown> {
  return link.index !== undefined ? { netns: link.netns, index: link.index } : { netns: link.netns, ifname: link.ifname };
}

export function readRoot(db: Database, link: OnLink): RootTarget {
  return rootOf(db.qdiscs.get({ ...linkFilter(link), parent: 'root' }), link);
}

export function readIngress(db: Database, link: OnLink): IngressTarget {
  const t: IngressTarget = { ...link, slot: 'ingress' };
  const q = db.qdiscs.get({ ...linkFilter(link), parent: 'ingress' });
  if (!q) return t;
  t.qdisc = q.kind;
  const filters = db.filters.list(linkFilter(link));
  if (q.kind !== 'ingress') t.foreign = `a ${q.kind} qdisc`;
  else if (filters.length > 1 || (filters.length === 1 && filters[0]?.forward === undefined)) {
    t.foreign = `${filters.length} filter${filters.length > 1 ? 's' : ''} netstate did not make`;
  } else if (filters.length === 1) {
    const f = filters[0] as (typeof filters)[number];
    t.forward = f.forward;
    t.filter = { priority: f.priority, protocol: f.protocol, handle: f.handle };
  }
  return t;
}

/** Two roots alike as the kernel reports them (a burst may come back a byte off: tc's tick arithmetic). */
export function sameRoot(a: RootTarget, b: RootTarget, withHandle = false): boolean {
  if (a.kind !== b.kind) return false;
  if (withHandle && a.handle !== undefined && b.handle !== undefined && a.handle !== b.handle) return false;
  const x = a.options ?? {};
  const y = b.options ?? {};
  for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
    const u = x[k];
    const v = y[k];
    if (k === 'burst' || k === 'mtu') {
      if (typeof u !== 'number' || typeof v !== 'number' || Math.abs(u - v) > Math.max(2, u / 100)) return false;
    } else if (canonical(u) !== canonical(v)) return false;
  }
  return true;
}

/** What a commit, a rollback or a freeze waits to see for one slot. */
export interface TcExpectation {
  link: OnLink;
  slot: 'root' | 'ingress';
  /** root: the kind ('default': any root the kernel attached, or none); its rate in bytes/s; its handle. */
  kind?: string;
  rateBytes?: number;
  handle?: string;
  /** root, put back from a record: the whole of it. */
  root?: RootTarget;
  /** ingress: whether an ingress qdisc is there, and where it forwards (null: nowhere). */
  qdisc?: boolean;
  forward?: string | number | null;
}

export function tcShown(db: Database, e: TcExpectation): boolean {
  const rec = db.qdiscs.get({ ...linkFilter(e.link), parent: e.slot });
  if (e.slot === 'ingress') {
    if (e.qdisc !== undefined && (rec !== undefined) !== e.qdisc) return false;
    if (e.forward !== undefined && (rec?.forward ?? null) !== e.forward) return false;
    return true;
  }
  if (e.kind === 'default') return rec === undefined || rec.default === true;
  if (!rec || rec.default) return false;
  if (e.root) return sameRoot(rootOf(rec, e.link), e.root, true);
  if (e.kind !== undefined && rec.kind !== e.kind) return false;
  if (e.handle !== undefined && rec.handle !== e.handle) return false;
  if (e.rateBytes !== undefined && Math.floor((rec.rate ?? 0) / 8) !== e.rateBytes) return false;
  return true;
}

export function describeExpectation(e: TcExpectation): string {
  const where = `${e.link.ifname}${e.link.netns ? ` in ${e.link.netns}` : ''}`;
  if (e.slot === 'ingress') return `ingress of ${where}${e.forward ? ` forwarding to ${e.forward}` : ''}`;
  return `root qdisc ${e.root?.kind ?? e.kind} of ${where}`;
}
