/**
 * Confirmation: does the store show what a commit (or its rollback) made?
 * It models the kernel rather than comparing bytes: only what the commit
 * changed is compared (a bridge's MAC follows its ports, an address the
 * kernel adds is the kernel's business), values come in the form the kernel
 * reports them (an alias cleared is the empty string), and what the kernel
 * adds on its own (link-local IPv6 addresses, 127.0.0.1 when lo comes up)
 * is not judged.
 */
import { parseIp } from '../backends/netlink/codec/address.js';
import { ROUTE_TYPES } from '../backends/netlink/families/names.js';
import type { Database } from '../db/database.js';
import { decodeBody } from '../db/kinds/kind.js';
import { forEachAttr } from '../db/raw.js';
import { ClosedError, TimeoutError } from '../errors.js';
import { neighbourOf } from './current.js';
import { canonical } from './diff.js';
import type { InterfaceTarget, NeighbourTarget, RouteTarget, RuleTarget, Staged } from './staged.js';

/** What one interface must look like: each field that is set is checked, the rest is not. */
export interface InterfaceExpectation {
  netns: string;
  ifname: string;
  /** It must not exist. */
  gone?: boolean;
  state?: 'up' | 'down';
  /** A master's name, or null for none. */
  master?: string | null;
  mtu?: number;
  address?: string;
  /** '' for none. */
  ifalias?: string;
  txqlen?: number;
  brport?: Record<string, number>;
  /** Exactly these alternative names (in any order). */
  altnames?: string[];
  present: string[];
  absent: string[];
  /** Exactly these ports (sorted). */
  ports?: string[];
  /** A new veth: the store knows which link is its peer. */
  peerKnown?: boolean;
}

const ATTRS = ['mtu', 'address', 'txqlen'] as const;
const aliasOf = (t: InterfaceTarget) => t.ifalias ?? '';

/** What a commit's target means for one interface, as far as the commit changed it. */
export function expectTarget({ base, target }: Staged<InterfaceTarget>, readded: readonly string[] = []): InterfaceExpectation {
  const t = (target ?? base) as InterfaceTarget;
  const e: InterfaceExpectation = { netns: t.netns, ifname: t.ifname, present: [], absent: [] };
  if (!target) {
    e.gone = true;
    return e;
  }
  // A link moved to another namespace arrives there bare: everything is due.
  const from = base && base.netns === target.netns ? base : undefined;
  if (!from || target.state !== from.state) e.state = target.state;
  if (!from || target.master !== from.master) e.master = target.master ?? null;
  for (const a of ATTRS) if (target[a] !== undefined && target[a] !== from?.[a]) e[a] = target[a] as never;
  if (target.ifalias !== undefined && (!from || aliasOf(target) !== aliasOf(from))) e.ifalias = aliasOf(target);
  const brport = changedEntries(target.brport, target.master === from?.master ? from?.brport : undefined);
  if (brport) e.brport = brport;
  if (canonical([...(target.altnames ?? [])].sort()) !== canonical([...(base?.altnames ?? [])].sort()))
    e.altnames = [...(target.altnames ?? [])];
  const had = new Set(from?.ipaddr ?? []);
  e.present = [...target.ipaddr.filter((a) => !had.has(a)), ...readded];
  e.absent = [...had].filter((a) => !target.ipaddr.includes(a));
  if (!from || canonical([...target.ports].sort()) !== canonical([...from.ports].sort())) e.ports = [...target.ports].sort();
  if (!base && target.kind === 'veth') e.peerKnown = true;
  return e;
}

/** What a rollback must show for one interface: its starting state, as far as the commit changed it. */
export function expectBase({ base, target }: Staged<InterfaceTarget>): InterfaceExpectation {
  const t = (base ?? target) as InterfaceTarget;
  const e: InterfaceExpectation = { netns: t.netns, ifname: t.ifname, present: [], absent: [] };
  if (!base) {
    e.gone = true;
    return e;
  }
  // Removed or moved: it is back whole.
  const whole = !target || target.netns !== base.netns;
  const changed = (a: keyof InterfaceTarget) => whole || canonical(base[a]) !== canonical((target as InterfaceTarget)[a]);
  if (changed('state')) e.state = base.state;
  if (changed('master')) e.master = base.master ?? null;
  for (const a of ATTRS) if (base[a] !== undefined && changed(a)) e[a] = base[a] as never;
  if (whole || aliasOf(base) !== aliasOf(target as InterfaceTarget)) e.ifalias = aliasOf(base);
  if (base.brport && (changed('brport') || changed('master'))) e.brport = { ...base.brport };
  if (whole ? base.altnames?.length : changed('altnames')) e.altnames = [...(base.altnames ?? [])];
  const now = whole ? [] : (target as InterfaceTarget).ipaddr;
  e.present = base.ipaddr.filter((a) => !now.includes(a));
  e.absent = now.filter((a) => !base.ipaddr.includes(a));
  if (changed('ports')) e.ports = [...base.ports].sort();
  return e;
}

function changedEntries(want?: Record<string, number>, had?: Record<string, number>): Record<string, number> | undefined {
  if (!want) return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(want)) if (had?.[k] !== v) out[k] = v;
  return Object.keys(out).length ? out : undefined;
}

/** Compared on the stored record: this runs once per interface of a commit (a thousand for 500 veth pairs). */
export function interfaceShown(db: Database, e: InterfaceExpectation, indexOf: IndexOf = indexCache(db)): boolean {
  const rec = db.interfaces.linkOf(e.netns, e.ifname);
  if (e.gone) return rec === undefined;
  if (!rec) return false;
  if (e.state !== undefined && ((rec.flags & IFF_UP) !== 0) !== (e.state === 'up')) return false;
  if (e.master !== undefined) {
    const masterIndex = e.master === null ? undefined : (indexOf(e.netns, e.master) ?? -1);
    if (masterIndex !== (rec.master || undefined)) return false;
  }
  if (e.mtu !== undefined && rec.mtu !== e.mtu) return false;
  if (e.address !== undefined && rec.address?.toLowerCase() !== e.address.toLowerCase()) return false;
  if (e.ifalias !== undefined && (rec.ifalias ?? '') !== e.ifalias) return false;
  if (e.txqlen !== undefined && rec.txqlen !== e.txqlen) return false;
  if (e.peerKnown && !rec.link) return false;
  if (e.altnames) {
    // Rare: read from the decoded record, which the fast byte reader does not cover.
    const alts = (db.interfaces.get({ netns: e.netns, ifname: e.ifname })?.altnames as string[] | undefined) ?? [];
    if (canonical([...alts].sort()) !== canonical([...e.altnames].sort())) return false;
  }
  const has = new Set(rec.ipaddr);
  for (const a of e.present) if (!has.has(a)) return false;
  for (const a of e.absent) if (has.has(a)) return false;
  if (e.brport) {
    const port = db.interfaces.get({ netns: e.netns, ifname: e.ifname })?.slave_data as Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(e.brport)) if (port?.[k] !== v) return false;
  }
  if (e.ports === undefined) return true;
  // Ports: exactly these. Most links have none, and one count says so.
  const master = { netns: e.netns, master: rec.index };
  if (e.ports.length === 0) return db.interfaces.count(master) === 0;
  const ports = db.interfaces.list(master).map((p) => p.ifname as string);
  return canonical(ports.sort()) === canonical(e.ports);
}

/** Interface names to indexes, per namespace, read once per confirmation round. */
export type IndexOf = (netns: string, ifname: string) => number | undefined;

export function indexCache(db: Database): IndexOf {
  const cache = new Map<string, number | undefined>();
  return (netns, ifname) => {
    const key = `${netns}|${ifname}`;
    if (!cache.has(key)) cache.set(key, db.interfaces.get({ netns, ifname })?.index as number | undefined);
    return cache.get(key);
  };
}

/**
 * Read from the stored bytes: this runs once per route of a 100 000-route
 * commit. A route with metrics or nexthops is decoded and compared whole.
 */
export function routeShown(db: Database, s: Staged<RouteTarget>, indexOf: IndexOf = indexCache(db)): boolean {
  const body = db.routes.bodyOf(s.target ?? (s.base as RouteTarget));
  if (!s.target) return body === undefined;
  if (!body) return false;
  const t = s.target;
  if (t.metrics !== undefined || t.multipath.length) return recordMatches(t, decodeBody('route', body), indexOf);
  let gateway = -1;
  let gatewayLen = 0;
  let oif: number | undefined;
  let multipath = false;
  forEachAttr(body, RTMSG_LEN, body.length, (type, at, len) => {
    if (type === RTA_GATEWAY) {
      gateway = at;
      gatewayLen = len;
    } else if (type === RTA_OIF) oif = body.readUInt32LE(at);
    else if (type === RTA_MULTIPATH) multipath = true;
  });
  if (multipath) return false;
  if (t.type !== undefined && ROUTE_TYPES.number(t.type, 'type') !== body[RTM_TYPE_AT]) return false;
  if (t.dev !== undefined && indexOf(t.netns, t.dev) !== oif) return false;
  if (t.gateway === undefined) return gateway < 0;
  const want = gatewayBytes(t.gateway);
  return gateway >= 0 && want.length === gatewayLen && want.equals(body.subarray(gateway, gateway + gatewayLen));
}

const IFF_UP = 0x1;
const RTMSG_LEN = 12;
const RTM_TYPE_AT = 7;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_MULTIPATH = 9;

/** A commit's routes share a few gateways: each is parsed once. */
const gateways = new Map<string, Buffer>();
function gatewayBytes(text: string): Buffer {
  let bytes = gateways.get(text);
  if (!bytes) {
    bytes = parseIp(text) ?? Buffer.alloc(0);
    if (gateways.size > 1024) gateways.clear();
    gateways.set(text, bytes);
  }
  return bytes;
}

function recordMatches(t: RouteTarget, rec: Record<string, unknown>, indexOf: IndexOf): boolean {
  if (t.gateway !== rec.gateway) return false;
  if (t.dev !== undefined && indexOf(t.netns, t.dev) !== rec.oif) return false;
  if (t.type !== undefined && t.type !== rec.type) return false;
  if (t.metrics !== undefined && canonical(t.metrics) !== canonical(rec.metrics)) return false;
  const hops = (rec.multipath as { gateway?: string; oif?: number; hops: number }[] | undefined) ?? [];
  const key = (h: { gateway?: string; hops: number }[]) => canonical(h.map((x) => [x.gateway ?? null, x.hops]).sort());
  return key(t.multipath) === key(hops);
}

/** A rule with every field of the target (normalised as the store's records are) is there, or not. */
export function ruleShown(db: Database, s: Staged<RuleTarget>, normalize: (r: Record<string, unknown>) => RuleTarget): boolean {
  const t = (s.target ?? s.base) as RuleTarget;
  const { netns, ...fields } = t;
  const found = db.rules.list({ netns }).some((rec) => {
    const r = normalize(rec);
    return Object.entries(fields).every(([k, v]) => canonical(r[k]) === canonical(v));
  });
  return s.target ? found : !found;
}

export function neighbourShown(db: Database, s: Staged<NeighbourTarget>): boolean {
  const t = (s.target ?? s.base) as NeighbourTarget;
  const rec = db.neighbours.get({ netns: t.netns, ifname: t.dev, dst: t.dst });
  if (!s.target) return rec === undefined;
  if (!rec) return false;
  const cur = neighbourOf(db, rec);
  return (
    (s.target.lladdr === undefined || cur.lladdr?.toLowerCase() === s.target.lladdr.toLowerCase()) &&
    (s.target.state === undefined || cur.state === s.target.state)
  );
}

/** One kind of thing a confirmation waits for: how to name an item, and whether the store shows it yet. */
export interface ProofKind<T> {
  name(item: T): string;
  shown(item: T, indexOf: IndexOf): boolean;
}

/**
 * What the store does not show yet. Each call checks only what was still
 * missing the time before, from the oldest: objects show up in the order
 * they were sent, so a commit of 100 000 routes is confirmed batch by batch,
 * not re-read whole after every event. Two parallel lists, no object per
 * item: a 100 000-route commit allocates enough already.
 */
export class Confirmer {
  private head = 0;
  private readonly items: unknown[] = [];
  private readonly kinds: ProofKind<unknown>[] = [];

  constructor(private readonly db: Database) {}

  add<T>(kind: ProofKind<T>, item: T): void {
    this.items.push(item);
    this.kinds.push(kind as ProofKind<unknown>);
  }

  get size(): number {
    return this.items.length;
  }

  private shown(i: number, indexOf: IndexOf): boolean {
    return (this.kinds[i] as ProofKind<unknown>).shown(this.items[i], indexOf);
  }

  left(): number {
    const indexOf = indexCache(this.db); // names may have changed since the last round
    while (this.head < this.items.length && this.shown(this.head, indexOf)) this.head++;
    return this.items.length - this.head;
  }

  /** The names of what is still missing (checks them all: for the error). */
  names(): string[] {
    const indexOf = indexCache(this.db);
    const out: string[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      if (!this.shown(i, indexOf)) out.push((this.kinds[i] as ProofKind<unknown>).name(this.items[i]));
    }
    return out;
  }
}

/**
 * Resolves when nothing is missing any more, re-checking after each batch
 * the store applies; the TimeoutError names what never came.
 */
export function waitUntil(db: Database, missing: { left(): number; names(): string[] }, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (missing.left() === 0) return resolve();
    let timer: NodeJS.Timeout | undefined;
    const sub = db.applied$.subscribe({
      next: () => {
        if (missing.left() === 0) finish();
      },
      // The store closed: nothing will show any more (and its tables are gone).
      complete: () => {
        clearTimeout(timer);
        reject(new ClosedError('the store was closed while a commit waited for the kernel to show its changes'));
      },
    });
    if (sub.closed) return; // closed already: rejected above
    timer = setTimeout(fail, timeout);
    function fail(): void {
      sub.unsubscribe();
      const left = missing.names();
      if (left.length === 0) {
        resolve();
        return;
      }
      const more = left.length > 10 ? ` (+${left.length - 10} more)` : '';
      reject(new TimeoutError(`the kernel never showed: ${left.slice(0, 10).join('; ')}${more}`));
    }
    function finish(): void {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve();
    }
  });
}
