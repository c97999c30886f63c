import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SwitchRecord } from '../../../src/db/switches.js';
import { NetState, removeCgroup, type StoreEvent } from '../../../src/index.js';
import { STANDIN } from '../../helpers/bmv2-standin.js';
import { ip, useNetns } from '../../helpers/netns.js';
import { netnsPids } from '../../helpers/proc.js';
import { useRuntimeCleanup } from '../../helpers/runtime.js';

interface Seen {
  at: number;
  state: string;
  pid: number | null;
}

/** Milliseconds from each 'exited' to the 'starting' that follows it. */
function gaps(seen: Seen[]): number[] {
  const out: number[] = [];
  seen.forEach((s, i) => {
    if (s.state !== 'exited') return;
    const next = seen.slice(i + 1).find((x) => x.state === 'starting');
    if (next) out.push(next.at - s.at);
  });
  return out;
}

describe('switch supervision', () => {
  const ns = useNetns();
  let db: NetState;
  let seen: Seen[];
  beforeEach(async () => {
    ip(ns.name, 'link', 'add', 'p1', 'type', 'veth', 'peer', 'name', 'q1');
    ip(ns.name, 'link', 'set', 'p1', 'up');
    db = await NetState.open({ netns: ns.name, journal: false });
    seen = [];
    db.events$.pipe(filter((e: StoreEvent) => e.kind === 'switch' && e.after !== undefined)).subscribe((e) => {
      const r = e.after as unknown as SwitchRecord;
      if (seen.at(-1)?.state !== r.state || seen.at(-1)?.pid !== r.pid)
        seen.push({ at: performance.now(), state: r.state, pid: r.pid });
    });
  });
  afterEach(async () => {
    await db.close();
  });
  useRuntimeCleanup(() => ns.names);

  const start = async (more: Record<string, unknown>) => {
    const tx = db.begin();
    tx.addSwitch({ name: 's1', binary: STANDIN, noP4: true, ports: { 1: 'p1' }, ...more });
    await tx.commit();
  };
  const restarted = (n: number) => db.waitFor('switch', { name: 's1', restarts: n, state: 'running' }, { timeout: 10_000 });

  it("restart: 'on-failure': restarted after each crash, the delays doubling up to the maximum", async () => {
    await start({
      restart: 'on-failure',
      backoff: { initial: 100, max: 400, resetAfter: 5000 },
      env: { BMV2_STANDIN_EXIT_AFTER_MS: '300', BMV2_STANDIN_EXIT_SIGNAL: 'SIGSEGV' },
    });
    await restarted(4);
    const g = gaps(seen).slice(0, 4);
    console.log(`restart delays (ms): ${g.map((x) => x.toFixed(0)).join(', ')}`);
    // A timer never fires early; late, under load, it may: the upper bounds leave room for that.
    [100, 200, 400, 400].forEach((want, i) => {
      expect(g[i]).toBeGreaterThanOrEqual(want - 5);
      expect(g[i]).toBeLessThan(want + 190);
    });
    const pids = new Set(seen.map((s) => s.pid));
    expect(pids.size).toBeGreaterThanOrEqual(5);
    expect((db.switches.get('s1') as SwitchRecord).restart).toBe('on-failure');
    // Removed, it is not restarted: stopped, its record gone, nothing left in the namespace.
    const tx = db.begin();
    tx.switch('s1').remove();
    await tx.commit();
    expect(db.switches.list()).toEqual([]);
    expect(netnsPids(ns.name)).toEqual([]);
  });

  it('the delays start over after a run that lasted resetAfter', async () => {
    await start({
      restart: 'on-failure',
      backoff: { initial: 200, max: 5000, resetAfter: 150 },
      env: { BMV2_STANDIN_EXIT_AFTER_MS: '500', BMV2_STANDIN_EXIT_CODE: '2' },
    });
    await restarted(3);
    const g = gaps(seen).slice(0, 3);
    console.log(`restart delays after long runs (ms): ${g.map((x) => x.toFixed(0)).join(', ')}`);
    // Each run lasted over 150 ms (ready, then 500 ms to its exit): 200 each time, where doubling gives 200, 400, 800.
    for (const x of g) {
      expect(x).toBeGreaterThanOrEqual(195);
      expect(x).toBeLessThan(395);
    }
  });

  it('a frozen switch is restarted when killed from outside; released, it is not', async () => {
    await start({});
    const first = db.switches.get('s1') as SwitchRecord;
    expect(first.restart).toBe('no');
    const frozen = db.switches.freeze('s1', { backoff: { initial: 50 } });
    const events: string[] = [];
    frozen.events$.subscribe((e) => events.push(e.kind));
    expect((db.switches.get('s1') as SwitchRecord).restart).toBe('on-failure');
    process.kill(first.pid as number, 'SIGKILL');
    const back = (await restarted(1)) as unknown as SwitchRecord;
    expect(back.pid).not.toBe(first.pid);
    expect(netnsPids(ns.name)).toEqual([back.pid]);
    expect(events).toEqual(['scheduled', 'restarted']);

    frozen.release();
    expect((db.switches.get('s1') as SwitchRecord).restart).toBe('no');
    const exited = firstValueFrom(db.events$.pipe(filter((e) => e.kind === 'switch' && e.after?.state === 'exited')));
    process.kill(back.pid as number, 'SIGKILL');
    expect((await exited).after).toMatchObject({ state: 'exited', signal: 'SIGKILL', exitCode: null });
    // Proving that nothing happens takes waiting: ten times the delay a restart would have had.
    await new Promise((r) => setTimeout(r, 500));
    expect(db.switches.get('s1')).toMatchObject({ state: 'exited', pid: back.pid, restarts: 1 });
    expect(netnsPids(ns.name)).toEqual([]);
  });

  it('an exit is seen at once: the record says exited, with the signal, when its event comes', async () => {
    await start({});
    const pid = db.switches.get('s1')?.pid as number;
    let recordThen: SwitchRecord | undefined;
    const exited = firstValueFrom(
      db.events$.pipe(filter((e) => e.kind === 'switch' && (e.after as unknown as SwitchRecord)?.state === 'exited')),
    ).then((e) => {
      recordThen = db.switches.get('s1') as SwitchRecord;
      return { e, at: performance.now() };
    });
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const { e, at } = await exited;
    console.log(`kill -9 to the exited event: ${(at - t0).toFixed(1)} ms`);
    // A child's exit comes with SIGCHLD: no polling period to wait out.
    expect(at - t0).toBeLessThan(200);
    expect(e.after).toMatchObject({ name: 's1', state: 'exited', pid, signal: 'SIGKILL', exitCode: null });
    expect(recordThen).toMatchObject({ state: 'exited', pid, signal: 'SIGKILL', exitCode: null, restart: 'no' });
  });

  it('a frozen switch killed twice is restarted after the first delay, then after twice that', async () => {
    await start({});
    const frozen = db.switches.freeze('s1', { backoff: { initial: 200, max: 1000, resetAfter: 60_000 } });
    const planned: number[] = [];
    frozen.events$.subscribe((e) => {
      if (e.kind === 'scheduled') planned.push(e.delay);
    });
    for (const n of [1, 2]) {
      process.kill(db.switches.get('s1')?.pid as number, 'SIGKILL');
      await restarted(n);
    }
    const g = gaps(seen);
    console.log(`frozen switch restart delays (ms): ${g.map((x) => x.toFixed(0)).join(', ')}`);
    expect(planned).toEqual([200, 400]);
    expect(g).toHaveLength(2);
    expect(g[0]).toBeGreaterThanOrEqual(195);
    expect(g[0]).toBeLessThan(390);
    expect(g[1]).toBeGreaterThanOrEqual(395);
    expect(g[1]).toBeLessThan(590);
    expect(netnsPids(ns.name)).toEqual([db.switches.get('s1')?.pid]);
    frozen.release();
  });

  it('a switch taken down elsewhere (its cgroup removed, as a recovery or a watchdog does) is not restarted', async () => {
    await start({ restart: 'on-failure', backoff: { initial: 50 } });
    const rec = db.switches.get('s1') as SwitchRecord;
    const gone = db.waitFor('switch', { name: 's1' }, { absent: true });
    await removeCgroup(rec.cgroup as string);
    await gone;
    expect(netnsPids(ns.name)).toEqual([]);
    expect(seen.map((s) => s.state)).toEqual(['starting', 'running', 'exited']);
  });

  it('a restart that cannot start (its port is gone) is a failure, and tried again later', async () => {
    await start({ restart: 'on-failure', backoff: { initial: 50, max: 200 } });
    const pid = db.switches.get('s1')?.pid as number;
    const frozen = db.switches.freeze('s1', { backoff: { initial: 50, max: 200 } });
    const failed = firstValueFrom(frozen.events$.pipe(filter((e) => e.kind === 'failed')));
    const second = firstValueFrom(frozen.events$.pipe(filter((e) => e.kind === 'scheduled' && e.attempt === 2)));
    ip(ns.name, 'link', 'del', 'p1');
    process.kill(pid, 'SIGKILL');
    const f = await failed;
    expect(f.kind === 'failed' && f.error.message).toMatch(/port 1's interface p1 does not exist/);
    expect(await second).toEqual({ kind: 'scheduled', attempt: 2, delay: 100 });
    frozen.release();
  });
});
