/**
 * The plan as the journal writes it (journal-plan.ts, journal-columns.ts):
 * whatever goes in comes back as a rollback reads it, for edge cases and
 * seeded random plans (replay with JOURNAL_SEED=<n>), and 100 000 routes
 * that differ in their destination cost a few bytes each.
 */
import { describe, expect, it } from 'vitest';
import { fromColumns, toColumns } from '../../src/transactions/journal-columns.js';
import { decodePlanChunk, encodePlanChunk } from '../../src/transactions/journal-plan.js';
import { type ObjectChange, type ObjectKind, objectStep, type Step } from '../../src/transactions/plan.js';
import type { NeighbourTarget, RouteTarget, RuleTarget } from '../../src/transactions/staged.js';
import { type Random, seeded } from '../helpers/random.js';

type Rec = Record<string, unknown> | undefined;

describe('records as columns', () => {
  const cases: [string, Rec[]][] = [
    ['no records', []],
    ['all absent', [undefined, undefined, undefined]],
    ['absent at both ends', [undefined, { a: 1 }, { a: 1 }, undefined]],
    ['a field only some have', [{ a: 1 }, { a: 1, b: 'x' }, { a: 2 }, { b: 'x' }]],
    ['equal objects in a run, then a different one', [{ m: [] }, { m: [] }, { m: [{ hops: 1 }] }, { m: [] }]],
    ['null is a value, undefined is lacking', [{ a: null }, { a: undefined }, { a: null }, {}]],
    ['false, 0 and empty strings are values', [{ a: false }, { a: 0 }, { a: '' }, { a: 0 }]],
    ['nested objects', [{ metrics: { mtu: 1400, rtt: 'x' } }, { metrics: { mtu: 1400, rtt: 'x' } }, { metrics: { mtu: 1500 } }]],
  ];
  it.each(cases)('%s', (_name, records) => {
    const back = fromColumns(JSON.parse(JSON.stringify(toColumns(records))));
    expect(back).toEqual(records.map((r) => (r ? JSON.parse(JSON.stringify(r)) : undefined)));
  });

  it('gives each record its own copy of an object value', () => {
    const [a, b] = fromColumns(toColumns([{ m: [] }, { m: [] }])) as Record<string, unknown[]>[];
    a?.m?.push(1);
    expect(b?.m).toEqual([]);
  });

  it('refuses columns that do not cover their records', () => {
    const c = toColumns([{ a: 1 }, { a: 1 }]);
    c.n = 3;
    expect(() => fromColumns(c)).toThrow(/covers 2 records of 3/);
  });

  it('round-trips seeded random records', () => {
    const r = seeded('JOURNAL_SEED');
    for (let trial = 0; trial < 200; trial++) {
      const records: Rec[] = Array.from({ length: r.int(0, 40) }, () => (r.chance(0.15) ? undefined : randomRecord(r)));
      expect(fromColumns(JSON.parse(JSON.stringify(toColumns(records))))).toEqual(
        records.map((x) => (x ? JSON.parse(JSON.stringify(x)) : undefined)),
      );
    }
  });
});

function randomRecord(r: Random): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of r.sample(['a', 'b', 'c', 'd'], r.int(0, 4)))
    out[k] = r.pick<unknown>([1, 2, 'x', null, true, [], [1], { m: r.int(0, 1) }, undefined]);
  return out;
}

/** What a rollback reads of a step: its description, its undo, its proofs, what it cannot put back, where and what it asked. */
function asRollbackReadsIt(s: Step): unknown {
  const { netns, op, cmd, refresh, onlyChanges } = s.request;
  return JSON.parse(
    JSON.stringify({ what: s.what, undo: s.undo, back: s.back, lost: s.lost, netns, op, cmd, refresh, onlyChanges }),
  );
}

describe('a plan chunk written and read back', () => {
  it('gives back every step as a rollback reads it, for seeded random plans', () => {
    const r = seeded('JOURNAL_SEED');
    for (let trial = 0; trial < 100; trial++) {
      const steps = randomPlan(r, r.int(0, 60));
      const back = decodePlanChunk(encodePlanChunk(steps));
      expect(back.map(asRollbackReadsIt)).toEqual(steps.map(asRollbackReadsIt));
    }
  });

  it('remakes a route step with its request whole (the same function made it)', () => {
    const change = routeChange({
      base: undefined,
      target: route({ dst: '10.1.0.0/16', gateway: '10.0.0.2', metrics: { mtu: 1400 } }),
    });
    const step = stepOf(change) as Step;
    const [back] = decodePlanChunk(encodePlanChunk([step]));
    expect(back?.request).toEqual(step.request);
    expect(back?.phase).toBe(step.phase);
  });

  it('reads a chunk written before columns (a list of steps)', () => {
    const old = [
      {
        what: 'add route 10.9.0.0/16',
        request: { netns: 'a', op: 'route', cmd: 'add' },
        undo: [{ netns: 'a', op: 'route', cmd: 'del', spec: { family: 'inet', dst: '10.9.0.0/16', table: 254 } }],
      },
    ];
    const [step] = decodePlanChunk(JSON.stringify(old));
    expect(step?.undo).toEqual(old[0]?.undo);
    expect(step?.request).toEqual({ netns: 'a', op: 'route', cmd: 'add', spec: {} });
  });

  it('writes 100 000 routes that differ in their destination in under 25 bytes each', () => {
    const steps: Step[] = [];
    for (let i = 0; i < 100_000; i++) {
      const dst = `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;
      steps.push(stepOf(routeChange({ target: route({ dst, gateway: '10.0.0.2' }) })) as Step);
    }
    const text = encodePlanChunk(steps);
    expect(text.length / steps.length).toBeLessThan(25);
    expect(decodePlanChunk(text).map(asRollbackReadsIt)).toEqual(steps.map(asRollbackReadsIt));
  });
});

/** A simple object's step, as the plan makes it (none when the pair does not differ). */
function stepOf(change: ObjectChange): Step | undefined {
  const step = objectStep(change);
  return step && { order: 0, ...step };
}

function route(over: Partial<RouteTarget>): RouteTarget {
  return { netns: 'nst-a', family: 'inet', table: 254, dst: '10.0.0.0/8', multipath: [], ...over };
}

function routeChange(staged: ObjectChange['staged']): ObjectChange {
  return { kind: 'route', staged };
}

function randomRoute(r: Random): RouteTarget {
  const t = route({
    netns: r.pick(['nst-a', 'nst-b']),
    family: r.pick(['inet', 'inet6'] as const),
    table: r.pick([254, 500, 1000]),
    dst: `10.${r.int(0, 3)}.${r.int(0, 255)}.0/24`,
  });
  if (r.chance(0.3)) t.priority = r.int(0, 5);
  if (r.chance(0.2)) t.proto = r.pick(['static', 'boot', 'bird']);
  if (r.chance(0.2)) t.type = r.pick(['unicast', 'blackhole']);
  if (r.chance(0.6)) t.gateway = r.pick(['10.0.0.2', '10.0.0.3']);
  if (r.chance(0.5)) t.dev = r.pick(['v0', 'v1']);
  if (r.chance(0.2)) t.metrics = { mtu: r.pick([1400, 1500]) };
  if (r.chance(0.1)) t.onlink = true;
  if (r.chance(0.15))
    t.multipath = [
      { gateway: '10.0.0.2', dev: 'v0', hops: 0 },
      { gateway: '10.0.0.3', dev: 'v1', hops: r.int(0, 3), ...(r.chance(0.5) ? { onlink: true } : {}) },
    ];
  return t;
}

function randomRule(r: Random): RuleTarget {
  const t: RuleTarget = { netns: r.pick(['nst-a', 'nst-b']), family: 'inet', priority: r.int(100, 200), table: r.int(1, 9) };
  if (r.chance(0.5)) t.src = `10.${r.int(0, 9)}.0.0/16`;
  if (r.chance(0.3)) t.iifname = 'v0';
  return t;
}

function randomNeighbour(r: Random): NeighbourTarget {
  const t: NeighbourTarget = { netns: 'nst-a', family: 'inet', dev: r.pick(['v0', 'v1']), dst: `10.0.0.${r.int(1, 254)}` };
  if (r.chance(0.7)) t.lladdr = `02:00:00:00:00:${r.hex(1)}`;
  if (r.chance(0.5)) t.state = r.pick(['permanent', 'reachable']);
  if (r.chance(0.1)) t.router = true;
  return t;
}

const MAKERS: Record<ObjectKind, (r: Random) => { netns: string }> = {
  route: randomRoute,
  rule: randomRule,
  neighbour: randomNeighbour,
};

/** A plan's worth of steps: simple objects' changes of each kind in runs, and other steps between them. */
function randomPlan(r: Random, n: number): Step[] {
  const steps: Step[] = [];
  while (steps.length < n) {
    if (r.chance(0.2)) {
      steps.push(otherStep(r));
      continue;
    }
    const kind = r.pick(['route', 'rule', 'neighbour'] as const);
    for (let k = r.int(1, 8); k > 0; k--) {
      const base = r.chance(0.5) ? MAKERS[kind](r) : undefined;
      const target = !base || r.chance(0.5) ? MAKERS[kind](r) : undefined;
      const step = stepOf({ kind, staged: { base, target } });
      if (step) steps.push(step);
    }
  }
  return steps;
}

function otherStep(r: Random): Step {
  const netns = r.pick(['nst-a', 'nst-b']);
  return r.pick<Step>([
    {
      order: 0,
      phase: 60,
      what: 'create veth a0',
      request: { netns, op: 'link', cmd: 'add', spec: { ifname: 'a0', kind: 'veth' } },
      undo: [{ netns, op: 'link', cmd: 'del', spec: { ifname: 'a0' } }],
      back: [{ kind: 'interface', expect: { netns, ifname: 'a0', present: false } as never }],
    },
    {
      order: 0,
      phase: 90,
      what: 'set v0 alias',
      request: { netns, op: 'link', cmd: 'set', spec: { ifname: 'v0', ifalias: 'x' }, refresh: true },
      undo: [{ netns, op: 'link', cmd: 'set', spec: { ifname: 'v0', ifalias: '' }, refresh: true }],
    },
    {
      order: 0,
      phase: 5,
      what: 'remove namespace x',
      request: { netns, op: 'netns', cmd: 'del', spec: { name: 'x' } },
      undo: [{ netns, op: 'netns', cmd: 'add', spec: { name: 'x' } }],
      lost: 'the links of namespace x',
    },
    {
      order: 0,
      phase: 160,
      what: 'put back route 10.9.0.0/16 (the kernel took it)',
      request: { netns, op: 'route', cmd: 'replace', spec: { family: 'inet', dst: '10.9.0.0/16', table: 254 } },
      undo: [],
    },
  ]);
}
