/**
 * The table every feature file runs: each case stages one feature and, in
 * tests of their own,
 *  - commits it, with the review showing it first, and reads it back through
 *    iproute2 and /sys (the independent reader), the store equal to the kernel;
 *  - commits it with a check that fails once everything was applied: the
 *    rollback is exact (`exactView` of the namespace before == after, nothing
 *    in `notRolledBack`) and the store equals the kernel again;
 *  - where a freeze applies, in the first test: once committed, freezes the
 *    object, lets an outside `ip` command undo the feature, and reads it back
 *    once the freeze reverted.
 */
import { execFileSync } from 'node:child_process';
import { firstValueFrom, timeout } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Frozen, NetState, type Review, type Transaction, TransactionError } from '../../../src/index.js';
import { type ExactView, settledView } from '../../helpers/exact-view.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { ipAll } from '../../helpers/lab.js';
import { addNetns, delNetns, freshName, ipJson, noDad } from '../../helpers/netns.js';

/**
 * The basic lab of lab.ts (basicLab), as one `ip -batch` (one process, not
 * nine: every test starts with it).
 */
const BASIC_LAB = [
  'link add v0 type veth peer name v1',
  'link set v0 up',
  'link set v1 up',
  'addr add 10.0.0.1/24 dev v0',
  'addr add 2001:db8::1/64 dev v0 nodad',
  'route add 10.9.0.0/16 via 10.0.0.2',
  'route add 10.8.0.0/16 via 10.0.0.2 table 100',
  'route add 2001:db8:9::/48 via 2001:db8::2',
  'neigh add 10.0.0.7 lladdr 02:00:00:00:00:07 dev v0',
];

/**
 * iproute2 commands in as few processes as can be: runs of plain commands in
 * one `ip -n NS -batch -` (it stops at the first that fails, and says which);
 * a command with options of its own (`-6 rule add ...`) by itself, as a
 * batch line cannot carry them.
 */
function batch(ns: string, commands: readonly string[]): void {
  let run: string[] = [];
  const flush = () => {
    if (run.length)
      execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${run.join('\n')}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
    run = [];
  };
  for (const c of commands) {
    if (!c.startsWith('-')) {
      run.push(c);
      continue;
    }
    flush();
    ipAll(ns, [c]);
  }
  flush();
}

/** One namespace per test with the basic lab (v0/v1 up, 10.0.0.1/24 and 2001:db8::1/64 on v0, routes, a neighbour). */
export interface FeatureLab {
  readonly ns: string;
  readonly db: NetState;
  /** Runs `setup` (iproute2 commands) in the namespace, then opens the store following it. */
  open(setup?: readonly string[]): Promise<NetState>;
}

export function useFeatureLab(): FeatureLab {
  let name = '';
  let db: NetState | undefined;
  beforeEach(() => {
    name = freshName('f');
    addNetns(name);
    noDad(name);
    batch(name, BASIC_LAB);
  });
  afterEach(async () => {
    await db?.close();
    db = undefined;
    delNetns(name);
  });
  return {
    get ns() {
      return name;
    },
    get db() {
      if (!db) throw new Error('open() the lab first');
      return db;
    },
    async open(setup = []) {
      batch(name, setup);
      db = await NetState.open({ netns: [name] });
      return db;
    },
  };
}

export interface FeatureCase {
  name: string;
  /** iproute2 commands run before the store opens (beyond the basic lab). */
  setup?: readonly string[];
  /** Stages the feature. */
  stage(tx: Transaction): void;
  /** Part of what `review()` must show (matched with toMatchObject). */
  review?: Partial<Review>;
  /** What the kernel shows once it is committed: asserts through iproute2 and /sys. */
  check(ns: string): void;
  /**
   * A freeze of what the case made: `pin` freezes it, `drift` (iproute2
   * commands) undoes the feature from outside; `check` must hold again
   * once the freeze reverted the drift.
   */
  freeze?: { pin(db: NetState): Frozen; drift: readonly string[] };
  /** false: no rollback test of its own (its undo is the same as another case's, which has one). */
  rollback?: boolean;
}

/** The tests of a table of cases (see the top of this file). */
export function featureCases(lab: FeatureLab, cases: readonly FeatureCase[]): void {
  for (const c of cases) {
    describe(c.name, () => {
      const title = `the review shows it; committed, iproute2 reads it back${c.freeze ? '; frozen, it survives an outside change' : ''}`;
      it(title, async () => {
        const db = await lab.open(c.setup);
        const tx = db.begin();
        c.stage(tx);
        const review = tx.review();
        // Every case changes something, and the review says so before anything is sent.
        expect(Object.values(review).some((objects) => Object.keys(objects).length > 0)).toBe(true);
        if (c.review) expect(review).toMatchObject(c.review);
        await tx.commit();
        c.check(lab.ns);
        await expectStoreMatchesKernel(db, lab.ns);
        if (c.freeze) {
          try {
            await expectFreezeHolds(db, lab.ns, c);
          } catch (e) {
            if (e instanceof Error) e.message = `frozen, then changed from outside (${c.freeze.drift.join('; ')}): ${e.message}`;
            throw e;
          }
        }
      });

      if (c.rollback !== false) {
        it('a commit failing after it was applied rolls it back exactly', async () => {
          const db = await lab.open(c.setup);
          await expectRollsBack(db, lab.ns, c.stage);
        });
      }
    });
  }
}

/** Freezes what the case made, undoes it from outside, and checks it is back once the freeze reverted. */
async function expectFreezeHolds(db: NetState, ns: string, c: FeatureCase): Promise<void> {
  const { pin, drift } = c.freeze as NonNullable<FeatureCase['freeze']>;
  await db.sync();
  const frozen = pin(db);
  try {
    const reverted = firstValueFrom(frozen.reverts$.pipe(timeout(5000)));
    ipAll(ns, drift);
    const revert = await reverted;
    expect(revert.error).toBeUndefined();
    await settleFreeze(db, frozen);
    c.check(ns);
  } finally {
    frozen.release();
  }
  await expectStoreMatchesKernel(db, ns);
}

/** Reverts triggered by the revert's own events are over, and the store has everything. */
async function settleFreeze(db: NetState, frozen: Frozen): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await frozen.settled();
    await db.sync();
  }
}

/**
 * Stages, adds a check that fails once everything was applied, and proves
 * the rollback exact: the namespace as `ip -j -d` shows it is as before, the
 * error names nothing it could not roll back, and the store equals the kernel.
 */
export async function expectRollsBack(db: NetState, ns: string, stage: (tx: Transaction) => void): Promise<TransactionError> {
  const [before] = (await settledView([ns], db)) as [ExactView];
  const tx = db.begin();
  stage(tx);
  tx.check(async () => false);
  const err = await tx.commit().catch((e) => e);
  expect(err).toBeInstanceOf(TransactionError);
  expect(err.step).toBe('check 1');
  expect(err.rolledBack.length).toBeGreaterThan(0);
  expect(err.notRolledBack).toEqual([]);
  const [after] = (await settledView([ns], db)) as [ExactView];
  expect(after).toEqual(before);
  await expectStoreMatchesKernel(db, ns);
  return err;
}

/** Reads /sys/class/net/DEV/FILE inside the namespace (`ip netns exec` mounts the namespace's /sys). */
export function sysfs(ns: string, dev: string, file: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/${file}`], { encoding: 'utf8' }).trim();
}

type Json = Record<string, unknown>;

/** `ip -j -d link show dev X`, or undefined when there is no such link. */
export function linkDetail(ns: string, dev: string): Json | undefined {
  return ipJson<Json[]>(ns, '-d', 'link', 'show').find((l) => l.ifname === dev);
}

/** The addresses of a link as `ip -j addr show dev X` lists them, in the kernel's order. */
export function addrInfo(ns: string, dev: string): Json[] {
  return (ipJson<Json[]>(ns, 'addr', 'show', 'dev', dev)[0]?.addr_info as Json[] | undefined) ?? [];
}
