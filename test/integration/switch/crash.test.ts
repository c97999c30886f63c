/**
 * Switches and the death of the Node process that started them. Killed
 * (-9) while its commit starts a switch: the switch runs on, orphaned, and
 * the next NetState.open undoes the commit from the journal: the switch is
 * killed through its cgroup (the recovering process has no handle on it),
 * the veth removed. Ended normally after a commit: Node exits by itself
 * (a supervised switch holds nothing), and the switch runs on (its output
 * goes to a file: no pipe to die of SIGPIPE on).
 * Runs the built package (dist/): `npm run build` first.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupList, NetState, removeCgroup } from '../../../src/index.js';
import { Journal } from '../../../src/transactions/journal.js';
import { listeners, STANDIN } from '../../helpers/bmv2-standin.js';
import { childUntil, fixture } from '../../helpers/child.js';
import { ipJson, useNetns } from '../../helpers/netns.js';
import { comm, dead, exe, netnsPids } from '../../helpers/proc.js';
import { useRuntimeCleanup } from '../../helpers/runtime.js';

const CHILD = fixture('switch-child.mjs');

/**
 * The stand-in's pid in the namespace, once there is one (another process
 * starts it: /proc is all there is to watch). Its shebang's `env` has its
 * name too, before it becomes node and node names itself: only node counts.
 */
async function switchPid(ns: string, timeout = 10_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const pid = netnsPids(ns).find((p) => comm(p) === 'simple_switch_g' && !exe(p).endsWith('/env'));
    if (pid) return pid;
    if (Date.now() > deadline) throw new Error(`no switch in ${ns} after ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a switch outlives the Node process that started it', () => {
  const ns = useNetns();
  useRuntimeCleanup(() => ns.names);
  let journal: string;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    const pids = children.map((c) => c.pid);
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of ['', '-wal', '-shm']) rmSync(`${journal}${s}`, { force: true });
    // The children's cgroups carry their pid, not ours.
    for (const c of cgroupList()) if (pids.some((p) => c.name.startsWith(`tx-${p}-`))) await removeCgroup(c.name).catch(() => {});
  });

  it('killed -9 while its commit starts a switch: the next open kills the switch and removes the veth', async () => {
    journal = join(tmpdir(), `${ns.name}.journal.sqlite`);
    const run = await childUntil(['crash', ns.name, journal, STANDIN], /^committing$/, { script: CHILD });
    children.push(run.child);
    const pid = await switchPid(ns.name);
    run.child.kill('SIGKILL');
    await run.exited;
    // Orphaned, it runs on (still in its start delay), in its cgroup.
    expect(comm(pid)).toBe('simple_switch_g');
    const group = cgroupList().find((c) => c.pids.includes(pid));
    expect(group?.name).toMatch(/^tx-\d+-\w+-sw-s1$/);

    const db = await NetState.open({ netns: ns.name, journal });
    try {
      expect(db.recovered.map((r) => [r.outcome, r.notRolledBack])).toEqual([['recovered', []]]);
      expect(dead(pid)).toBe(true);
      expect(netnsPids(ns.name)).toEqual([]);
      expect(cgroupList().find((c) => c.name === group?.name)).toBeUndefined();
      expect(ipJson<{ ifname: string }[]>(ns.name, 'link').map((l) => l.ifname)).toEqual(['lo']);
      const j = Journal.open(journal);
      expect(j.list()[0]?.state).toBe('recovered');
      j.close();
    } finally {
      await db.close();
    }
  });

  it('a Node process that committed a supervised switch ends by itself; the switch runs on', async () => {
    journal = join(tmpdir(), `${ns.name}.journal.sqlite`);
    const run = await childUntil(['exit', ns.name, journal, STANDIN], /^committed \d+$/, { script: CHILD });
    children.push(run.child);
    const pid = Number(run.match.split(' ')[1]);
    expect(await run.exited).toBe(0);
    expect(comm(pid)).toBe('simple_switch_g');
    expect(
      listeners(pid)
        .map((l) => l.port)
        .sort(),
    ).toEqual([50401, 9401].sort());
  });
});
