/**
 * Rules in transactions: IPv6 rules (`family: 'inet6'`, or the family of
 * src/dst), actions given by number, fwmark/fwmask, iif/oif by name, invert
 * (`not`), and removeRule by a partial spec that names exactly one rule
 * (refused when it names none, several, or nothing). Read back through
 * `ip -j -4/-6 rule`.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/index.js';
import type { RuleSpec } from '../../../src/transactions/specs.js';
import { ipJson } from '../../helpers/netns.js';
import { type FeatureCase, featureCases, useFeatureLab } from './harness.js';

const lab = useFeatureLab();

type Json = Record<string, unknown>;

function rules(ns: string, family: '-4' | '-6'): Json[] {
  return ipJson<Json[]>(ns, family, 'rule', 'show');
}

function rule(ns: string, family: '-4' | '-6', priority: number): Json[] {
  return rules(ns, family).filter((r) => r.priority === priority);
}

/**
 * [title, spec, the family iproute2 lists it under, what `ip -j rule` shows for it]. iproute2 (6.1)
 * prints an inverted rule as `"not": null`, and nothing for one that is not.
 */
const ADDED: [string, RuleSpec, '-4' | '-6', Json][] = [
  ["IPv6, by family: 'inet6'", { family: 'inet6', table: 100, priority: 1000 }, '-6', { src: 'all', table: '100' }],
  ['IPv6, from its src', { src: '2001:db8:5::/48', table: 100, priority: 1000 }, '-6', { src: '2001:db8:5::', srclen: 48 }],
  ['IPv6, from its dst', { dst: '2001:db8:6::/48', table: 100, priority: 1000 }, '-6', { dst: '2001:db8:6::', dstlen: 48 }],
  ['action 6 (blackhole)', { src: '10.5.0.0/16', action: 6, priority: 1000 }, '-4', { action: 'blackhole' }],
  ['action 7 (unreachable)', { src: '10.5.0.0/16', action: 7, priority: 1000 }, '-4', { action: 'unreachable' }],
  ['action 8 (prohibit), IPv6', { family: 'inet6', action: 8, priority: 1000 }, '-6', { action: 'prohibit' }],
  ['fwmark and fwmask', { fwmark: 0x10, fwmask: 0xff, table: 100, priority: 1000 }, '-4', { fwmark: '0x10', fwmask: '0xff' }],
  ['fwmark without a mask', { fwmark: 0x11, table: 100, priority: 1000 }, '-4', { fwmark: '0x11' }],
  ['iif and oif by name', { iif: 'v0', oif: 'v1', table: 100, priority: 1000 }, '-4', { iif: 'v0', oif: 'v1' }],
  [
    'iifname and oifname (pyroute2)',
    { iifname: 'v0', oifname: 'v1', table: 100, priority: 1000 },
    '-4',
    { iif: 'v0', oif: 'v1' },
  ],
  ['inverted (not)', { invert: true, src: '10.6.0.0/16', table: 100, priority: 1000 }, '-4', { not: null, src: '10.6.0.0' }],
  [
    'IPv6 with fwmark, iif and invert',
    { family: 'inet6', fwmark: 7, iif: 'v0', invert: true, table: 200, priority: 1000 },
    '-6',
    { fwmark: '0x7', iif: 'v0', not: null, table: '200' },
  ],
];

/** Freezes of a few of them (a freeze of a rule keeps its whole match set). */
const FROZEN = new Set([
  "IPv6, by family: 'inet6'",
  'action 8 (prohibit), IPv6',
  'fwmark and fwmask',
  'IPv6 with fwmark, iif and invert',
]);

/** Rolled back, an added rule is removed by its whole spec: these show it for each kind of field. */
const ROLLED = new Set([
  "IPv6, by family: 'inet6'",
  'IPv6, from its src',
  'action 6 (blackhole)',
  'action 8 (prohibit), IPv6',
  'fwmark and fwmask',
  'iif and oif by name',
  'inverted (not)',
  'IPv6 with fwmark, iif and invert',
]);

const added: FeatureCase[] = ADDED.map(([title, spec, family, shown]) => ({
  name: `a rule: ${title}`,
  rollback: ROLLED.has(title),
  stage: (tx) => tx.addRule(spec),
  check: (ns) => {
    expect(rule(ns, family, 1000)).toEqual([expect.objectContaining(shown)]);
    // Only in its own family.
    expect(rule(ns, family === '-4' ? '-6' : '-4', 1000)).toEqual([]);
  },
  freeze: FROZEN.has(title) ? { pin: (db) => db.rules.freeze(1000), drift: [`${family} rule del priority 1000`] } : undefined,
}));

/** Rules to remove, made by iproute2 before the store opens. Two share priority 1100. */
const EXISTING = [
  'rule add from 10.7.0.0/16 lookup 100 priority 1100',
  'rule add from 10.8.0.0/16 lookup 100 priority 1100',
  'rule add from 10.9.0.0/16 lookup 200 priority 1200',
  '-6 rule add from 2001:db8:7::/48 lookup 100 priority 1300',
  'rule add fwmark 0x20/0xff lookup 100 priority 1400',
  'rule add iif v0 lookup 100 priority 1500',
  'rule add not from 10.10.0.0/16 lookup 100 priority 1600',
  '-6 rule add fwmark 0x30 lookup 300 priority 1700',
];

/**
 * [title, the partial spec, the family and priority of the one rule it names, how many of that priority
 * stay, whether it has a rollback test (a removed rule comes back by its whole match set, whatever spec
 * found it: one per kind of rule)].
 */
const REMOVED: [string, number | RuleSpec, '-4' | '-6', number, number, boolean?][] = [
  ['by priority alone (a number)', 1200, '-4', 1200, 0],
  ['by priority and src, beside a rule of the same priority', { priority: 1100, src: '10.8.0.0/16' }, '-4', 1100, 1, true],
  ['by table alone', { table: 200 }, '-4', 1200, 0],
  ['an IPv6 rule by its src', { src: '2001:db8:7::/48' }, '-6', 1300, 0, true],
  ['an IPv6 rule by family and priority', { family: 'inet6', priority: 1300 }, '-6', 1300, 0],
  ['by fwmark', { fwmark: 0x20 }, '-4', 1400, 0, true],
  ['an IPv6 rule by fwmark and table', { fwmark: 0x30, table: 300 }, '-6', 1700, 0],
  ['by iif name', { iif: 'v0' }, '-4', 1500, 0, true],
  ['by invert', { invert: true }, '-4', 1600, 0, true],
];

const removed: FeatureCase[] = REMOVED.map(([title, spec, family, priority, stay, rollback]) => ({
  name: `removeRule ${title}`,
  rollback: !!rollback,
  setup: EXISTING,
  stage: (tx) => tx.removeRule(spec),
  review: { rules: expect.toSatisfy((r: Json) => Object.values(r).length === 1) },
  check: (ns) => {
    expect(rule(ns, family, priority)).toHaveLength(stay);
    // Everything else is still there.
    expect(rules(ns, '-4').length + rules(ns, '-6').length).toBe(5 + EXISTING.length - 1);
  },
}));

featureCases(lab, [...added, ...removed]);

describe('removeRule refuses a spec that does not name exactly one rule (a ValidationError, nothing staged)', () => {
  const REFUSED: [string, number | RuleSpec, RegExp][] = [
    ['none matches', { priority: 4242 }, /no rule matches/],
    ['two match (one priority)', { priority: 1100 }, /2 rules match/],
    ['two match (the main rule of both families)', 32766, /2 rules match/],
    ['two match (one table)', { table: 100, family: 'inet' }, /rules match/],
    ['an empty spec', {}, /empty spec names none/],
  ];
  it.each(REFUSED)('%s', async (_title, spec, message) => {
    const db = await lab.open(EXISTING);
    const tx = db.begin();
    let err: unknown;
    try {
      tx.removeRule(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toMatch(message);
    expect((err as ValidationError).field).toBe('rule');
    expect(tx.review().rules).toEqual({});
  });

  it('a src of one family with family set to the other is refused naming src', async () => {
    const db = await lab.open();
    expect(() => db.begin().addRule({ family: 'inet', src: '2001:db8::/32', table: 100 })).toThrow(
      expect.objectContaining({ field: 'src' }),
    );
  });

  it('a rule that exists is refused when added again, in any spelling', async () => {
    const db = await lab.open(EXISTING);
    expect(() => db.begin().addRule({ src: '10.9.0.0/16', table: 200, priority: 1200 })).toThrow(/exists already/);
    expect(() => db.begin().addRule({ iifname: 'v0', table: 100, pref: 1500 })).toThrow(/exists already/);
    expect(() => db.begin().addRule({ fwmark: 0x20, fwmask: 0xff, table: 100, priority: 1400 })).toThrow(/exists already/);
  });
});
