/** The review's diff engine, driven by fixtures: (before, after, expected diff). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonical, diffCollection, diffObject } from '../../src/transactions/diff.js';

interface Case {
  name: string;
  sets: string[];
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  expected: Record<string, unknown> | null;
}

const cases: Case[] = JSON.parse(readFileSync(new URL('../fixtures/review/diff-cases.json', import.meta.url), 'utf8'));

describe('diffObject', () => {
  for (const c of cases) {
    it(c.name, () => {
      const d = diffObject(c.before ?? undefined, c.after ?? undefined, c.sets);
      expect(d ?? null).toEqual(c.expected);
      // Stable: the same diff prints the same, key order included.
      expect(canonical(d)).toBe(canonical(c.expected ?? undefined));
      if (d) expect(JSON.stringify(Object.keys(d))).toBe(JSON.stringify(Object.keys(d).sort()));
    });
  }
});

describe('diffCollection', () => {
  it('names in order, unchanged objects left out', () => {
    const before = new Map([
      ['b', { ifname: 'b', mtu: 1500 }],
      ['a', { ifname: 'a', mtu: 1500 }],
    ]);
    const after = new Map([
      ['b', { ifname: 'b', mtu: 9000 }],
      ['a', { ifname: 'a', mtu: 1500 }],
      ['c', { ifname: 'c', mtu: 1500 }],
    ]);
    const d = diffCollection(before, after, []);
    expect(Object.keys(d)).toEqual(['b', 'c']);
    expect(d.b).toEqual({ mtu: 9000 });
  });
});
