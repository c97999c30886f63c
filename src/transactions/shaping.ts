/**
 * Traffic control staged on an interface (the handle's shape, clearShape,
 * forwardTo and clearForward call these):
 *
 *   tx.interface('v0').shape({ rate: '10mbit', delay: '20ms', jitter: '5ms', loss: '1%', limit: 1000 });
 *   tx.interface('v0').clearShape();
 *   tx.interface('a0').forwardTo('b0');      // all traffic arriving on a0 leaves through b0
 *   tx.interface('a0').clearForward();
 *
 * shape() is p4net's apply_netem: one netem qdisc at the root carrying
 * everything, where the kernel has netem. Where it does not (asked once, at
 * commit, without changing anything: see tc-probe.ts), rate alone is a tbf
 * (and limit alone a pfifo), and delay, jitter or loss are a TcError that
 * says netem is missing: the commit is refused before anything is sent.
 */
import { parsePercent, parseRate, parseTime } from '../backends/netlink/families/tc-units.js';
import { qdiscKindKnown } from '../backends/netlink/tc-probe.js';
import { netnsExists } from '../backends/netns.js';
import { field, int, parseSpec, Refusal, shown, spec, type z } from '../backends/schema.js';
import { ROOT } from '../db/source.js';
import { TcError, ValidationError } from '../errors.js';
import type { ObjectDiff } from './diff.js';
import { canonical } from './diff.js';
import type { InterfaceTarget, Staged } from './staged.js';
import { type IngressTarget, type RootTarget, readIngress, readRoot, type Shape, sameRoot, type TcTarget } from './tc-targets.js';
import type { Transaction } from './transaction.js';

// ---------------------------------------------------------------- the spec

/** A rate: '10mbit', '1gbit', '500kbps' or bits per second; kept in bits per second. */
const rate = field<string | number, number>((v) => {
  const bytes = parseRate(v);
  return bytes === undefined
    ? new Refusal(`${shown(v)} is not a rate like '10mbit', '1gbit' or bits per second (8 bit/s and up)`)
    : bytes * 8;
});
/** A time: '10ms', '1s', '500us' or milliseconds; kept in milliseconds. */
const time = field<string | number, number>((v) => {
  const usec = parseTime(v);
  return usec === undefined ? new Refusal(`${shown(v)} is not a time like '10ms', '1s' or milliseconds`) : usec / 1000;
});
/** A loss: '1%', '0.5%' or a number of percent; kept in percent. */
const percent = field<string | number, number>((v) => {
  if (parsePercent(v) === undefined) return new Refusal(`${shown(v)} is not a percentage in 0..100 like '1%' or 0.5`);
  return typeof v === 'number' ? v : Number.parseFloat(String(v));
});

/** shape()'s argument, p4net's terms. */
export const ShapeSpec = spec({
  /** The rate traffic leaves at. */
  rate: rate.optional(),
  /** Delay added to every packet. */
  delay: time.optional(),
  /** Variation of the delay (needs delay). */
  jitter: time.optional(),
  /** Packets dropped at random. */
  loss: percent.optional(),
  /** Packets queued at most. */
  limit: int(1, 0xffffffff, 'a queue length in packets').optional(),
});
export type ShapeSpec = z.input<typeof ShapeSpec>;

export function parseShape(input: unknown, what: string): Shape {
  const s = parseSpec(ShapeSpec, input, what);
  const given = Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as Shape;
  if (Object.keys(given).length === 0) {
    throw new ValidationError(`${what}: give at least one of rate, delay, jitter, loss, limit`, 'shape');
  }
  if (given.jitter !== undefined && given.delay === undefined) {
    throw new ValidationError(`${what}: jitter: jitter varies the delay: it needs delay`, 'jitter');
  }
  return given;
}

// ---------------------------------------------------------------- staging

/** An interface's slot, loaded into the transaction (its state from the store, or none for a new link). */
function touch(tx: Transaction, key: string, slot: 'root' | 'ingress'): Staged<TcTarget> {
  const iface = tx.touchInterface(key, true) as Staged<InterfaceTarget>;
  const tkey = `${key}|${slot}`;
  const had = tx.tc.get(tkey);
  if (had) return had;
  const from = (iface.base ?? iface.target) as InterfaceTarget;
  const link = { netns: from.netns, ifname: from.ifname, index: iface.base?.index };
  let base: TcTarget;
  if (slot === 'root') base = iface.base ? readRoot(tx.db, link) : { ...link, slot, kind: 'default' };
  else base = iface.base ? readIngress(tx.db, link) : { ...link, slot };
  const s: Staged<TcTarget> = { base, target: base };
  tx.tc.set(tkey, s);
  return s;
}

function refuseForeign(t: TcTarget, what: string): void {
  if (!t.foreign) return;
  throw new TcError(
    `${what}: ${t.ifname} has ${t.foreign} ${t.slot === 'root' ? 'as its root' : 'on its ingress'}; ` +
      'netstate will not replace what a rollback could not put back: remove it first (tc, or Rtnl)',
  );
}

export function stageShape(tx: Transaction, key: string, input: unknown): void {
  tx.live();
  const ifname = key.split('|')[1] as string;
  const shape = parseShape(input, `shape of ${ifname}`);
  const s = touch(tx, key, 'root');
  refuseForeign(s.base as TcTarget, `shape of ${ifname}`);
  const { handle: _h, options: _o, foreign: _f, ...rest } = s.base as RootTarget;
  s.target = { ...rest, kind: 'shape', shape };
}

/** p4net's clear_qdisc: the default root again; nothing to do where it is there already. */
export function stageClearShape(tx: Transaction, key: string): void {
  tx.live();
  const ifname = key.split('|')[1] as string;
  const s = touch(tx, key, 'root');
  refuseForeign(s.base as TcTarget, `clearShape of ${ifname}`);
  const { handle: _h, options: _o, shape: _s, foreign: _f, ...rest } = s.base as RootTarget;
  s.target = { ...rest, kind: 'default' };
}

export function stageForward(tx: Transaction, key: string, to: string): void {
  tx.live();
  const [netns, ifname] = key.split('|') as [string, string];
  if (to === ifname) throw new ValidationError(`forwardTo: ${ifname} cannot forward to itself`, 'to');
  // The target must exist in the same namespace (or be made by this transaction).
  tx.touchInterface(tx.ifKey(to, netns), true);
  const s = touch(tx, key, 'ingress');
  refuseForeign(s.base as TcTarget, `forwardTo of ${ifname}`);
  s.target = { ...(s.base as TcTarget), slot: 'ingress', qdisc: 'ingress', forward: to };
}

export function stageClearForward(tx: Transaction, key: string): void {
  tx.live();
  const ifname = key.split('|')[1] as string;
  const s = touch(tx, key, 'ingress');
  const base = s.base as TcTarget & { forward?: unknown; filter?: unknown; qdisc?: string };
  refuseForeign(base, `clearForward of ${ifname}`);
  // Only a forward netstate would have made goes (with its ingress qdisc); an empty ingress qdisc stays.
  if (base.forward === undefined) {
    s.target = s.base;
    return;
  }
  const { qdisc: _q, forward: _f, filter: _x, ...rest } = base;
  s.target = rest as TcTarget;
}

// ---------------------------------------------------------------- at commit

/** The MTU a tbf's bucket must hold whole frames of, when the target does not say (Ethernet's). */
const DEFAULT_MTU = 1500;
const ETHERNET_HEADER = 14;
/** The queue a tbf keeps when no limit is given: 50 ms at its rate (as `tc` examples and Mininet do). */
const TBF_LATENCY_MS = 50;

/**
 * The qdisc a shape becomes: netem with everything where the kernel has it;
 * where not, tbf for rate (its bucket holds 10 ms of traffic and at least two
 * full frames; its queue 50 ms of traffic, or `limit` full frames), pfifo
 * for limit alone, and a TcError for delay, jitter or loss.
 */
export function shapedRoot(shape: Shape, netem: boolean, mtu: number, ifname: string): Pick<RootTarget, 'kind' | 'options'> {
  if (netem) return { kind: 'netem', options: { ...shape } };
  const needs = (['delay', 'jitter', 'loss'] as const).filter((k) => shape[k] !== undefined);
  if (needs.length) {
    throw new TcError(
      `shape of ${ifname}: ${needs.join(', ')} need${needs.length === 1 ? 's' : ''} the netem qdisc, which this kernel does not have ` +
        '(CONFIG_NET_SCH_NETEM is not set, and it cannot be loaded); rate and limit alone are done with tbf',
    );
  }
  if (shape.rate === undefined) return { kind: 'pfifo', options: { limit: shape.limit } };
  const frame = mtu + ETHERNET_HEADER;
  const burst = Math.max(Math.ceil(shape.rate / 8 / 100), 2 * frame);
  const queue = shape.limit === undefined ? { latency: TBF_LATENCY_MS } : { limit: shape.limit * frame };
  return { kind: 'tbf', options: { rate: shape.rate, burst, ...queue } };
}

/**
 * The transaction's traffic control as the commit plans it: each slot
 * under the name its link has once the commit ran, shapes turned into
 * qdiscs (netem asked for once), slots of links this commit removes left
 * out (their qdiscs go with them).
 */
export async function prepareShaping(tx: Transaction): Promise<Staged<TcTarget>[]> {
  const out: Staged<TcTarget>[] = [];
  let netem: boolean | undefined;
  for (const [tkey, s] of tx.tc) {
    if (!s.base || !s.target || canonical(s.base) === canonical(s.target)) continue;
    const iface = tx.interfaces.get(tkey.slice(0, tkey.lastIndexOf('|')));
    const link = iface?.target;
    if (!iface || !link) continue;
    if (iface.base && iface.base.netns !== link.netns) {
      throw new ValidationError(
        `${link.ifname} moves to ${link.netns} in this transaction: its qdiscs do not go with it; shape it there in a commit of its own`,
        'netns',
      );
    }
    let target: TcTarget = { ...s.target, ifname: link.ifname };
    if (target.slot === 'root' && target.shape) {
      // The kernel's qdiscs are the same in every namespace: one made by this commit (not there yet) is asked in ours.
      const where = target.netns === ROOT || !netnsExists(target.netns) ? undefined : target.netns;
      netem ??= (await qdiscKindKnown('netem', where)) !== false;
      target = { ...target, ...shapedRoot(target.shape, netem, link.mtu ?? DEFAULT_MTU, link.ifname) };
    }
    out.push({ base: s.base, target, order: iface.order });
  }
  return out;
}

// ---------------------------------------------------------------- review

function describeRoot(t: RootTarget): unknown {
  if (t.kind === 'default') return 'default';
  if (t.shape) return { shape: t.shape };
  return { kind: t.kind, ...(t.options ?? {}) };
}

/** What changed in a slot (current → pinned, for a freeze), as the review shows it; undefined when nothing did. */
export function tcDrift(current: TcTarget, pinned: TcTarget): ObjectDiff | undefined {
  if (current.slot === 'root' && pinned.slot === 'root') {
    return sameRoot(current, pinned) ? undefined : { qdisc: { from: describeRoot(current), to: describeRoot(pinned) } };
  }
  const cur = current as IngressTarget;
  const pin = pinned as IngressTarget;
  if (cur.qdisc === pin.qdisc && cur.forward === pin.forward && !cur.foreign) return undefined;
  return { forward: { from: cur.forward ?? null, to: pin.forward ?? null } };
}

/** The review of each changed slot, under its interface: `qdisc: { from, to }`, `forward: { from, to }`. */
export function reviewShaping(
  tx: Transaction,
  interfaces: Record<string, ObjectDiff>,
  label: (netns: string, ifname: string) => string,
): void {
  for (const [tkey, s] of tx.tc) {
    const { base, target } = s;
    if (!base || !target || canonical(base) === canonical(target)) continue;
    const ifname = tx.interfaces.get(tkey.slice(0, tkey.lastIndexOf('|')))?.target?.ifname ?? target.ifname;
    const name = label(target.netns, ifname);
    const entry = interfaces[name] ?? {};
    if (target.slot === 'root') entry.qdisc = { from: describeRoot(base as RootTarget), to: describeRoot(target) };
    else entry.forward = { from: (base as { forward?: unknown }).forward ?? null, to: target.forward ?? null };
    interfaces[name] = Object.fromEntries(Object.entries(entry).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
