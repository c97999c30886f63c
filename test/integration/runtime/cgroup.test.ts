/**
 * cgroups on this machine: hybrid, cpu and memory bound to v1, cgroup2 at
 * /sys/fs/cgroup/unified with no controller. The v1 limits are tested for
 * real (quota and limit files, throttling, the OOM kill); the v2 tree for
 * grouping and cgroup.kill. Read back with the cgroup files themselves and
 * /proc/PID/cgroup; the v2 controller files are tested on an imitation tree
 * in test/unit/cgroup-files.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CgroupError,
  cgroupLayout,
  cgroupList,
  cgroupPids,
  createCgroup,
  exec,
  processes,
  removeCgroup,
  spawn,
  ValidationError,
} from '../../../src/index.js';
import { freshName, useNetns } from '../../helpers/netns.js';
import { cgroupFile, ownCgroup, useRuntimeCleanup } from '../../helpers/runtime.js';

const ns = useNetns();
useRuntimeCleanup(() => ns.names);

const layout = cgroupLayout();
const V1_CPU = layout.v1.cpu as string;
const V1_MEMORY = layout.v1.memory as string;
const V2 = layout.v2?.mount as string;

/** /proc/PID/cgroup as { hierarchy controllers (or '' for v2): path }. */
function procCgroups(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => l.split(':'))
      .map(([, ctl, path]) => [ctl as string, path as string]),
  );
}

describe('this host', () => {
  it('is hybrid: cpu and memory in v1, a cgroup2 mount without them (found in mountinfo)', () => {
    expect(layout.v2?.mount).toBe('/sys/fs/cgroup/unified');
    expect(layout.v2?.controllers).not.toContain('cpu');
    expect(layout.v2?.controllers).not.toContain('memory');
    expect(V1_CPU).toBe('/sys/fs/cgroup/cpu');
    expect(V1_MEMORY).toBe('/sys/fs/cgroup/memory');
  });
});

describe('limits on a spawned process', () => {
  it('the limits are in the cgroup files and the process is in every cgroup.procs', async () => {
    const p = spawn(ns.name, ['sleep', '30'], { limits: { cpu: 0.5, memory: '64M' }, stdout: 'ignore' });
    const name = p.cgroup?.name as string;
    expect(ownCgroup(name)).toBe(true);
    expect(cgroupFile(`${V1_CPU}/netstate/${name}`, 'cpu.cfs_period_us')).toBe('100000');
    expect(cgroupFile(`${V1_CPU}/netstate/${name}`, 'cpu.cfs_quota_us')).toBe('50000');
    expect(cgroupFile(`${V1_MEMORY}/netstate/${name}`, 'memory.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
    expect(cgroupFile(`${V1_MEMORY}/netstate/${name}`, 'memory.memsw.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
    for (const dir of [`${V1_CPU}/netstate/${name}`, `${V1_MEMORY}/netstate/${name}`, `${V2}/netstate/${name}`]) {
      expect(cgroupFile(dir, 'cgroup.procs')).toBe(String(p.pid));
    }
    expect(procCgroups(readFileSync(`/proc/${p.pid}/cgroup`, 'utf8'))).toMatchObject({
      cpu: `/netstate/${name}`,
      memory: `/netstate/${name}`,
      '': `/netstate/${name}`,
    });
    expect(cgroupList().find((c) => c.name === name)).toEqual({
      name,
      pids: [p.pid],
      dirs: [
        { version: 2, controllers: [], path: `${V2}/netstate/${name}` },
        { version: 1, controllers: ['cpu'], path: `${V1_CPU}/netstate/${name}` },
        { version: 1, controllers: ['memory'], path: `${V1_MEMORY}/netstate/${name}` },
      ],
    });
    // Its own cgroup goes when it exits.
    p.terminate();
    await p.wait();
    expect(cgroupList().map((c) => c.name)).not.toContain(name);
    for (const dir of p.cgroup?.dirs ?? []) expect(existsSync(dir.path)).toBe(false);
  });

  it('the command is in its cgroups from its first instruction: it reads /proc/self/cgroup itself', async () => {
    const r = await exec(ns.name, ['cat', '/proc/self/cgroup'], { limits: { cpu: 0.25, memory: '32M' } });
    const seen = procCgroups(r.stdout);
    expect(seen.cpu).toMatch(/^\/netstate\/proc-\d+-[0-9a-f]{8}$/);
    expect(seen.memory).toBe(seen.cpu);
    expect(seen['']).toBe(seen.cpu);
    // exec removed it afterwards.
    expect(cgroupList().map((c) => `/netstate/${c.name}`)).not.toContain(seen.cpu);
  });

  it('going over the memory limit gets the process OOM-killed (the same program fits without the allocation)', async () => {
    const cg = createCgroup(freshName('cg'), { memory: '96M' });
    try {
      const node = process.execPath;
      const fits = await exec(ns.name, [node, '-e', 'Buffer.alloc(8 << 20, 1)'], { cgroup: cg, check: false });
      expect(fits).toMatchObject({ code: 0, signal: null });
      const big = await exec(ns.name, [node, '-e', 'Buffer.alloc(400 << 20, 1); console.log("survived")'], {
        cgroup: cg,
        check: false,
      });
      expect(big).toMatchObject({ code: null, signal: 'SIGKILL', stdout: '' });
      const memDir = cg.dirs.find((d) => d.controllers.includes('memory'))?.path as string;
      expect(cgroupFile(memDir, 'memory.oom_control')).toMatch(/^oom_kill 1$/m);
      expect(Number(cgroupFile(memDir, 'memory.max_usage_in_bytes'))).toBeLessThanOrEqual(96 << 20);
    } finally {
      await removeCgroup(cg);
    }
  });

  it('a busy loop under cpu 0.2 is throttled (cpu.stat of its cgroup)', async () => {
    const cg = createCgroup(freshName('cg'), { cpu: 0.2 });
    try {
      await exec(ns.name, [process.execPath, '-e', 'const t = Date.now(); while (Date.now() - t < 400);'], { cgroup: cg });
      const cpuDir = cg.dirs.find((d) => d.controllers.includes('cpu'))?.path as string;
      const stat = Object.fromEntries(
        cgroupFile(cpuDir, 'cpu.stat')
          .split('\n')
          .map((l) => l.split(' ')),
      );
      expect(Number(stat.nr_throttled)).toBeGreaterThan(0);
      expect(Number(stat.throttled_time)).toBeGreaterThan(0);
    } finally {
      await removeCgroup(cg);
    }
  });
});

describe('createCgroup / cgroupList / removeCgroup', () => {
  it('without limits: a v2 grouping cgroup only; removeCgroup kills what runs in it (cgroup.kill, then SIGKILL each), forks included, and removes it', async () => {
    const name = freshName('cg');
    const cg = createCgroup(name);
    expect(cg.dirs).toEqual([{ version: 2, controllers: [], path: `${V2}/netstate/${name}` }]);
    expect(existsSync(`${V2}/netstate/${name}/cgroup.kill`)).toBe(true);
    const a = spawn(ns.name, ['sleep', '30'], { cgroup: cg, stdout: 'ignore' });
    const b = spawn(ns.name, ['sh', '-c', 'sleep 30 & echo forked; wait'], { cgroup: cg, capture: true });
    await new Promise((r) => b.stdout?.once('data', r));
    const pids = cgroupPids(cg);
    expect(pids).toHaveLength(3);
    expect(processes(ns.name).map((p) => p.pid)).toEqual(pids);

    const killed = await removeCgroup(name);
    expect(killed).toEqual(pids);
    expect(processes(ns.name)).toEqual([]);
    expect(existsSync(`${V2}/netstate/${name}`)).toBe(false);
    expect(cgroupList().map((c) => c.name)).not.toContain(name);
    expect(await a.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await b.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await removeCgroup(name)).toEqual([]); // gone: nothing to do
  });

  it('a host without cgroup2 (roots given): v1 directories only; removeCgroup kills by pidfd (v1 has no cgroup.kill)', async () => {
    const name = freshName('cg');
    const cg = createCgroup(name, { cpu: 0.5, memory: '64M' }, { v2: null, v1: layout.v1 });
    expect(cg.dirs.map((d) => [d.version, d.controllers])).toEqual([
      [1, ['cpu']],
      [1, ['memory']],
    ]);
    expect(existsSync(`${cg.dirs[0]?.path}/cgroup.kill`)).toBe(false);
    const p = spawn(ns.name, ['sh', '-c', 'sleep 30 & echo forked; wait'], { cgroup: cg, capture: true });
    await new Promise((r) => p.stdout?.once('data', r));
    const pids = cgroupPids(cg);
    expect(pids).toHaveLength(2);
    expect(processes(ns.name).map((x) => x.pid)).toEqual(pids);
    expect(procCgroups(readFileSync(`/proc/${p.pid}/cgroup`, 'utf8'))['']).toBe('/'); // not in v2
    expect(await removeCgroup(cg)).toEqual(pids);
    expect(processes(ns.name)).toEqual([]);
    for (const d of cg.dirs) expect(existsSync(d.path)).toBe(false);
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('a name already there is a CgroupError, and the first stays intact', () => {
    const name = freshName('cg');
    const first = createCgroup(name, { cpu: 0.5 });
    expect(() => createCgroup(name, { cpu: 0.3 })).toThrow(CgroupError);
    expect(cgroupFile(first.dirs[1]?.path as string, 'cpu.cfs_quota_us')).toBe('50000');
  });

  // [title, name, limits, field]
  const BAD: [string, unknown, unknown, string][] = [
    ['a name with /', '../x', {}, 'name'],
    ['an empty name', '', {}, 'name'],
    ['a name starting with a dot', '.x', {}, 'name'],
    ['cpu 0', 'ok', { cpu: 0 }, 'limits.cpu'],
    ['cpu negative', 'ok', { cpu: -0.5 }, 'limits.cpu'],
    ['cpu below 0.01 (1 ms per 100 ms)', 'ok', { cpu: 0.001 }, 'limits.cpu'],
    ['cpu as text', 'ok', { cpu: '0.5' }, 'limits.cpu'],
    ['memory with an unknown unit', 'ok', { memory: '1X' }, 'limits.memory'],
    ['memory in fractions', 'ok', { memory: '1.5G' }, 'limits.memory'],
    ['memory below a page', 'ok', { memory: 100 }, 'limits.memory'],
    ['memory not whole', 'ok', { memory: 5000.5 }, 'limits.memory'],
    ['an unknown limit', 'ok', { mem: '1G' }, 'limits.mem'],
  ];
  it.each(BAD)('refused before anything is made: %s', (_title, name, limits, field) => {
    const before = cgroupList();
    let error: unknown;
    try {
      createCgroup(name as string, limits as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
    expect(cgroupList()).toEqual(before);
  });
});
