import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetState, PendingCommitError } from '../../../src/index.js';
import { Journal } from '../../../src/transactions/journal.js';
import { childUntil } from '../../helpers/child.js';
import { exactView, settledView } from '../../helpers/exact-view.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { basicLab } from '../../helpers/lab.js';
import { ipJson, noDad, useNetns } from '../../helpers/netns.js';
import { dead } from '../../helpers/proc.js';
import { Random, seedFrom } from '../../helpers/random.js';

const ns = useNetns();
let journal: string;
let db: NetState;
let before: ReturnType<typeof exactView>;

beforeEach(async () => {
  noDad(ns.name);
  basicLab(ns.name);
  journal = join(tmpdir(), `${ns.name}.journal.sqlite`);
  db = await NetState.open({ netns: ns.name, journal });
  [before] = (await settledView([ns.name], db)) as [ReturnType<typeof exactView>];
});

afterEach(async () => {
  await db.close();
  for (const s of ['', '-wal', '-shm']) rmSync(`${journal}${s}`, { force: true });
});

/** The change every test makes: an address and a route through it. */
function stage(d: NetState) {
  const tx = d.begin();
  tx.interface('v0').addIp('10.0.9.1/24');
  tx.addRoute({ dst: '10.77.0.0/16', gateway: '10.0.9.2' });
  return tx;
}

const hasRoute = () => ipJson(ns.name, 'route', 'show', '10.77.0.0/16').length === 1;

/** Resolves with the entry's state once it is final (another process's progress: read from the file). */
async function finalState(id: string, within: number): Promise<string | undefined> {
  const deadline = Date.now() + within;
  for (;;) {
    const j = Journal.open(journal);
    const state = j.get(id)?.state;
    j.close();
    if ((state && !['pending', 'rolling_back', 'recovering', 'applying'].includes(state)) || Date.now() > deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a provisional commit', () => {
  it('is final once confirmed, also after its deadline', async () => {
    const pending = await stage(db).commit({ confirm: 600 });
    expect(pending.state).toBe('pending');
    expect(hasRoute()).toBe(true);
    await pending.confirm();
    expect(await finalState(pending.id, 2000)).toBe('confirmed');
    await new Promise((resolve) => setTimeout(resolve, 900)); // past the deadline: nothing may happen then
    expect(hasRoute()).toBe(true);
    expect(pending.state).toBe('confirmed');
    await expect(pending.rollback()).rejects.toThrow(PendingCommitError);
  });

  it('is undone at once by rollback(), exactly; a confirm then is refused', async () => {
    const pending = await stage(db).commit({ confirm: 30_000 });
    const report = await pending.rollback();
    expect(report.notRolledBack).toEqual([]);
    expect(exactView(ns.name)).toEqual(before);
    await expect(pending.confirm()).rejects.toThrow(/rolled back/);
    await expectStoreMatchesKernel(db, ns.name);
  });

  it('is undone at its deadline when nobody confirms it', async () => {
    const pending = await stage(db).commit({ confirm: 400 });
    expect(await finalState(pending.id, 5000)).toBe('rolled_back');
    await db.sync();
    expect(exactView(ns.name)).toEqual(before);
    await expect(pending.confirm()).rejects.toThrow(PendingCommitError);
  });

  it('blocks another commit touching its objects until it is final; other objects are free', async () => {
    const pending = await stage(db).commit({ confirm: 30_000 });
    const other = db.begin();
    other.interface('v0').set({ mtu: 1300 });
    await expect(other.commit()).rejects.toThrow(PendingCommitError);
    const free = db.begin();
    free.interface('v1').set({ mtu: 1300 });
    await free.commit();
    await pending.confirm();
    const after = db.begin();
    after.interface('v0').set({ mtu: 1300 });
    await after.commit();
  });
});

describe('confirm racing the deadline', () => {
  const seed = seedFrom('RACE_SEED', 'confirm/deadline race');
  const r = new Random(seed);
  const offsets = Array.from({ length: 8 }, () => r.int(-40, 40));
  it.each(offsets)('confirm %i ms around the deadline: exactly one outcome, and the kernel agrees', async (offset) => {
    const pending = await stage(db).commit({ confirm: 300 });
    const confirmed = await new Promise<boolean>((resolve) =>
      setTimeout(
        () =>
          pending.confirm().then(
            () => resolve(true),
            (e) => {
              expect(e).toBeInstanceOf(PendingCommitError);
              resolve(false);
            },
          ),
        Math.max(0, 300 + offset),
      ),
    );
    const state = await finalState(pending.id, 5000);
    expect(state).toBe(confirmed ? 'confirmed' : 'rolled_back');
    await db.sync();
    if (confirmed) expect(hasRoute()).toBe(true);
    else expect(exactView(ns.name)).toEqual(before);
  });
});

describe('the deadline holds when the process that made the commit dies', () => {
  it('kill -9 of the owner: the watchdog undoes the commit at its deadline', async () => {
    const { child, match } = await childUntil([ns.name, journal, 'confirm'], /^pending /, { env: { CONFIRM_MS: '1200' } });
    try {
      const id = match.split(' ')[1] as string;
      await db.sync();
      expect(hasRoute()).toBe(true);
      child.kill('SIGKILL');
      expect(await finalState(id, 8000)).toBe('rolled_back');
      await db.sync();
      expect(exactView(ns.name)).toEqual(before);
      await expectStoreMatchesKernel(db, ns.name);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('kill -9 of the owner, then confirm from another process (as `netstate confirm ID` does): it stays', async () => {
    const { child, match } = await childUntil([ns.name, journal, 'confirm'], /^pending /, { env: { CONFIRM_MS: '1500' } });
    const id = match.split(' ')[1] as string;
    child.kill('SIGKILL');
    // The watchdog, the only one left that could undo it at the deadline, is ended by the confirm.
    const j = Journal.open(journal);
    const watchdog = j.get(id)?.watchdogPid;
    j.close();
    expect(watchdog && !dead(watchdog)).toBe(true);
    await db.confirm(id);
    expect(await finalState(id, 500)).toBe('confirmed');
    const until = Date.now() + 5000;
    while (!dead(watchdog as number) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(dead(watchdog as number)).toBe(true);
    expect(hasRoute()).toBe(true);
  });
});
