/**
 * Traffic control as plan steps: a root qdisc replaced or cleared, an
 * ingress qdisc added or removed, a forward filter added or pointed
 * elsewhere. Each step carries the requests that put back what was there
 * (the previous root under its own handle, the default by deleting ours, the
 * ingress qdisc with its forward) and what the store shows once they ran.
 */
import { isUnknownQdiscKind } from '../backends/netlink/tc-probe.js';
import { NetlinkError, TcError } from '../errors.js';
import { PHASES, type Request, type Step } from './plan.js';
import type { Staged } from './staged.js';
import { type IngressTarget, type RootTarget, sameRoot, type TcExpectation, type TcTarget } from './tc-targets.js';

/**
 * The priority of a forward filter: the one the kernel gives the first
 * filter of a qdisc when none is asked for, so a forward made by netstate
 * looks like one made by `tc filter add ... u32 match u32 0 0 action mirred`.
 */
export const FORWARD_PRIORITY = 49152;

type Link = { netns: string; ifname: string; index?: number };

/** How requests name the link: by index when it exists (a rename in the same commit cannot lose it). */
function dev(t: Link): Record<string, unknown> {
  return t.index !== undefined ? { index: t.index } : { ifname: t.ifname };
}

function qdisc(t: Link, cmd: Request['cmd'], spec: Record<string, unknown>): Request {
  return { netns: t.netns, op: 'qdisc', cmd, spec: { ...dev(t), ...spec } };
}

/**
 * The request that makes a root: the default by deleting what is there;
 * anything else by `replace` without a handle (the kernel picks one, and a
 * root of another kind is replaced whatever its handle: a handle named while
 * a root of another kind has it is refused, EINVAL "Invalid qdisc name"), or
 * under its old handle when one is put back.
 */
function makeRoot(t: RootTarget, withHandle: boolean): Request {
  if (t.kind === 'default') return qdisc(t, 'del', { parent: 'root' });
  return qdisc(t, 'replace', {
    parent: 'root',
    ...(withHandle && t.handle !== undefined ? { handle: t.handle } : {}),
    kind: t.kind,
    ...(t.options ?? {}),
  });
}

function forwardFilter(t: IngressTarget, cmd: 'add' | 'replace'): Request {
  const f = t.filter;
  return {
    netns: t.netns,
    op: 'filter',
    cmd,
    spec: {
      ...dev(t),
      parent: 'ingress',
      protocol: f?.protocol ?? 'all',
      priority: f?.priority ?? FORWARD_PRIORITY,
      ...(f ? { handle: f.handle } : {}),
      kind: 'u32',
      match: 'all',
      action: { kind: 'mirred', direction: 'egress', action: 'redirect', dev: t.forward },
    },
  };
}

/** What the store shows of a slot in this state. */
export function expectationOf(t: TcTarget): TcExpectation {
  const link = { netns: t.netns, ifname: t.ifname, index: t.index };
  if (t.slot === 'ingress') {
    return { link, slot: 'ingress', qdisc: t.qdisc !== undefined, forward: t.qdisc === undefined ? null : (t.forward ?? null) };
  }
  if (t.kind === 'default') return { link, slot: 'root', kind: 'default' };
  // A root read from a record is compared whole; one shape() chose, by kind and rate.
  if (t.handle !== undefined) return { link, slot: 'root', root: t };
  const rate = t.options?.rate;
  return { link, slot: 'root', kind: t.kind, ...(typeof rate === 'number' ? { rateBytes: Math.floor(rate / 8) } : {}) };
}

export function tcSteps({ base, target }: Staged<TcTarget>): Omit<Step, 'order'>[] {
  if (!base || !target) return [];
  return target.slot === 'root' ? rootSteps(base as RootTarget, target) : ingressSteps(base as IngressTarget, target);
}

function rootSteps(base: RootTarget, target: RootTarget): Omit<Step, 'order'>[] {
  if (base.kind === 'default' && target.kind === 'default') return [];
  if (target.handle !== undefined && sameRoot(base, target)) return [];
  // Its own handle again (a freeze's revert), unless a root of another kind holds that handle now.
  const withHandle = !(base.handle === target.handle && base.kind !== target.kind);
  return [
    {
      phase: PHASES.setRootQdiscs,
      what:
        target.kind === 'default'
          ? `clear the root qdisc of ${target.ifname} (${base.kind})`
          : `make ${target.kind} the root qdisc of ${target.ifname}`,
      request: makeRoot(target, withHandle),
      // A root netstate cannot build again is not replaced by staging (see shaping.ts); a freeze
      // may meet one, and then its rollback says so.
      undo: base.foreign ? [] : [makeRoot(base, true)],
      back: [{ kind: 'tc', expect: expectationOf(base) }],
    },
  ];
}

function ingressSteps(base: IngressTarget, target: IngressTarget): Omit<Step, 'order'>[] {
  const steps: Omit<Step, 'order'>[] = [];
  const had = base.qdisc !== undefined;
  const wants = target.qdisc !== undefined;
  // Filters of others on it (a freeze meets them): the ingress qdisc is made afresh, without them.
  const rebuild = wants && base.foreign !== undefined;
  const back = [{ kind: 'tc' as const, expect: expectationOf(base) }];
  if (had && (!wants || rebuild)) {
    steps.push({
      phase: PHASES.setIngress,
      what: `remove the ingress qdisc of ${base.ifname}${base.forward !== undefined ? ` (its forward to ${base.forward})` : ''}`,
      request: qdisc(base, 'del', { kind: 'ingress' }),
      undo: base.foreign
        ? []
        : [qdisc(base, 'add', { kind: 'ingress' }), ...(base.forward !== undefined ? [forwardFilter(base, 'add')] : [])],
      back,
    });
  }
  if (wants && (!had || rebuild)) {
    steps.push({
      phase: PHASES.setIngress,
      what: `add an ingress qdisc to ${target.ifname}`,
      request: qdisc(target, 'add', { kind: 'ingress' }),
      undo: [qdisc(target, 'del', { kind: 'ingress' })],
      back,
    });
  }
  if (wants && target.forward !== undefined && (rebuild || target.forward !== base.forward)) {
    const replacing = had && !rebuild && base.filter !== undefined;
    steps.push({
      phase: PHASES.setForwards,
      what: `forward all traffic arriving on ${target.ifname} to ${target.forward}`,
      request: forwardFilter({ ...target, filter: replacing ? base.filter : undefined }, replacing ? 'replace' : 'add'),
      undo: replacing
        ? [forwardFilter(base, 'replace')]
        : [
            {
              netns: target.netns,
              op: 'filter',
              cmd: 'del',
              spec: { ...dev(target), parent: 'ingress', protocol: 'all', priority: FORWARD_PRIORITY },
            },
          ],
      back,
    });
  }
  return steps;
}

/**
 * A kernel's refusal said in tc's terms: a qdisc kind it does not have
 * (ENOENT "Specified qdisc kind is unknown") is a TcError naming the kind.
 */
export function explainRefusal(step: Step, error: Error): Error {
  if (step.request.op !== 'qdisc' || !(error instanceof NetlinkError) || !isUnknownQdiscKind(error.errno, error.extack)) {
    return error;
  }
  const kind = String(step.request.spec.kind);
  return Object.assign(
    new TcError(
      `${kind} is not in this kernel (the kernel refused it: ENOENT "Specified qdisc kind is unknown")` +
        (kind === 'netem' ? '; delay, jitter and loss need netem (CONFIG_NET_SCH_NETEM)' : ''),
    ),
    { cause: error },
  );
}
