/**
 * The port's bookkeeping: every pyroute2 test is either ported (a scenario
 * names it) or listed as not applicable with a reason, never both; every
 * scenario names a real pyroute2 test. Needs no kernel.
 */
import { describe, expect, it } from 'vitest';
import type { Scenario } from './harness.js';
import { NOT_APPLICABLE, PYROUTE2_TESTS } from './inventory.js';
import { scenarios as ipdbL3 } from './ipdb-l3.scenarios.js';
import { scenarios as ipdbLinks } from './ipdb-links.scenarios.js';
import { scenarios as ipdbTransactions } from './ipdb-transactions.scenarios.js';
import { scenarios as ndbLinks } from './ndb-links.scenarios.js';
import { scenarios as ndbRoutes } from './ndb-routes.scenarios.js';
import { scenarios as ndbTransactions } from './ndb-transactions.scenarios.js';

const all: Scenario[] = [...ipdbLinks, ...ipdbL3, ...ipdbTransactions, ...ndbLinks, ...ndbRoutes, ...ndbTransactions];
/** The pyroute2 test a scenario comes from, without pytest's parameters. */
const base = (from: string) => from.replace(/\[.*\]$/, '');

describe('pyroute2 port: inventory', () => {
  it('names each scenario once, after a pyroute2 test', () => {
    const froms = all.map((s) => s.from);
    expect(froms.filter((f, i) => froms.indexOf(f) !== i)).toEqual([]);
    expect(froms.map(base).filter((f) => !PYROUTE2_TESTS.includes(f))).toEqual([]);
  });

  it('accounts for every pyroute2 test: ported, or not applicable with a reason', () => {
    const ported = new Set(all.map((s) => base(s.from)));
    const na = Object.keys(NOT_APPLICABLE);
    expect(
      na.filter((t) => ported.has(t)),
      'both ported and not applicable',
    ).toEqual([]);
    expect(
      na.filter((t) => !PYROUTE2_TESTS.includes(t)),
      'unknown tests listed',
    ).toEqual([]);
    expect(
      PYROUTE2_TESTS.filter((t) => !ported.has(t) && !(t in NOT_APPLICABLE)),
      'neither',
    ).toEqual([]);
    console.log(
      `pyroute2 tests: ${PYROUTE2_TESTS.length}; ported: ${ported.size} (${all.length} scenarios with pytest's parameters); not applicable: ${na.length}`,
    );
  });
});
