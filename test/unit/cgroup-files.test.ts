/**
 * The cgroup backend's file writing, on an imitation of cgroup hierarchies
 * in a temporary directory (roots are injectable): the cgroup2 controller
 * files this hybrid machine cannot have (cpu.max, memory.max, a parent's
 * cgroup.subtree_control), the v1 files, the refusals, and the parsing of
 * /proc/self/mountinfo. The kernel side of v1, and v2 grouping, are tested
 * for real in test/integration/runtime/cgroup.test.ts.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCgroupMounts } from '../../src/backends/cgroup.js';
import { CgroupError, cgroupLayout, cgroupList, createCgroup } from '../../src/index.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nst-cgroup-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A cgroup2 root offering `controllers`, with `enabled` in its subtree_control (as the kernel prints them). */
function fakeV2(controllers: string, enabled: string): string {
  const root = join(tmp, 'cg2');
  mkdirSync(root);
  writeFileSync(join(root, 'cgroup.controllers'), `${controllers}\n`);
  writeFileSync(join(root, 'cgroup.subtree_control'), `${enabled}\n`);
  return root;
}

function fakeV1(...controllers: string[]): Record<string, string> {
  return Object.fromEntries(
    controllers.map((c) => {
      mkdirSync(join(tmp, c));
      return [c, join(tmp, c)];
    }),
  );
}

const read = (path: string) => readFileSync(path, 'utf8');

describe('cgroup v2 with the controllers (imitated)', () => {
  it('cpu.max and memory.max in netstate/NAME, +cpu +memory in netstate/cgroup.subtree_control, the root untouched', () => {
    const root = fakeV2('cpuset cpu io memory hugetlb pids', 'cpu memory pids');
    const cg = createCgroup('lab1', { cpu: 0.5, memory: '256M' }, { v2: root, v1: {} });
    expect(cg.dirs).toEqual([{ version: 2, controllers: ['cpu', 'memory'], path: `${root}/netstate/lab1` }]);
    expect(read(`${root}/netstate/cgroup.subtree_control`)).toBe('+cpu +memory');
    expect(read(`${root}/netstate/lab1/cpu.max`)).toBe('50000 100000');
    expect(read(`${root}/netstate/lab1/memory.max`)).toBe(String(256 * 1024 ** 2));
    expect(read(`${root}/cgroup.subtree_control`)).toBe('cpu memory pids\n');
    expect(cgroupList({ v2: root, v1: {} })).toEqual([{ name: 'lab1', pids: [], dirs: cg.dirs }]);
  });

  it.each([
    [0.01, '1000 100000'],
    [0.333, '33300 100000'],
    [1, '100000 100000'],
    [2.5, '250000 100000'],
  ])('cpu %s is cpu.max "%s" (a fraction of one CPU, 100 ms period)', (cpu, max) => {
    const root = fakeV2('cpu', 'cpu');
    createCgroup('c', { cpu }, { v2: root, v1: {} });
    expect(read(`${root}/netstate/c/cpu.max`)).toBe(max);
  });

  it.each([
    [4096, 4096],
    ['512K', 512 * 1024],
    ['256m', 256 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['2T', 2 * 1024 ** 4],
  ])('memory %s is memory.max %s', (memory, bytes) => {
    const root = fakeV2('memory', 'memory');
    createCgroup('m', { memory }, { v2: root, v1: {} });
    expect(read(`${root}/netstate/m/memory.max`)).toBe(String(bytes));
  });

  it('a controller offered but not enabled at the root is refused (CgroupError), and nothing is made or enabled', () => {
    const root = fakeV2('cpu memory', 'memory');
    const e = (() => {
      try {
        createCgroup('lab1', { cpu: 0.5, memory: '1G' }, { v2: root, v1: {} });
      } catch (x) {
        return x as CgroupError;
      }
    })();
    expect(e).toBeInstanceOf(CgroupError);
    expect(e?.message).toContain(`${root}/cgroup.subtree_control`);
    expect(e?.message).toContain('+cpu');
    expect(e?.cgroup).toBe('lab1');
    expect(() => read(`${root}/netstate/lab1/memory.max`)).toThrow();
    expect(read(`${root}/cgroup.subtree_control`)).toBe('memory\n');
  });
});

describe('hybrid (imitated): v2 groups, v1 limits', () => {
  it('a v2 grouping directory without controllers, v1 quota/period and limit_in_bytes', () => {
    const root = fakeV2('hugetlb', '');
    const v1 = fakeV1('cpu', 'memory');
    const cg = createCgroup('h', { cpu: 0.25, memory: '64M' }, { v2: root, v1 });
    expect(cg.dirs).toEqual([
      { version: 2, controllers: [], path: `${root}/netstate/h` },
      { version: 1, controllers: ['cpu'], path: `${v1.cpu}/netstate/h` },
      { version: 1, controllers: ['memory'], path: `${v1.memory}/netstate/h` },
    ]);
    expect(read(`${v1.cpu}/netstate/h/cpu.cfs_period_us`)).toBe('100000');
    expect(read(`${v1.cpu}/netstate/h/cpu.cfs_quota_us`)).toBe('25000');
    expect(read(`${v1.memory}/netstate/h/memory.limit_in_bytes`)).toBe(String(64 << 20));
    expect(() => read(`${root}/netstate/cgroup.subtree_control`)).toThrow(); // nothing enabled anywhere
  });

  it('a failure half-way removes the directories already made', () => {
    const root = fakeV2('', '');
    writeFileSync(join(tmp, 'not-a-dir'), '');
    expect(() => createCgroup('h', { memory: '64M' }, { v2: root, v1: { memory: join(tmp, 'not-a-dir') } })).toThrow(CgroupError);
    expect(cgroupList({ v2: root, v1: {} })).toEqual([]);
  });

  it('no controller anywhere, or nothing to group with: CgroupError', () => {
    expect(() => createCgroup('x', { cpu: 0.5 }, { v2: null, v1: {} })).toThrow(/no cpu controller/);
    expect(() => createCgroup('x', {}, { v2: null, v1: fakeV1('cpu') })).toThrow(CgroupError);
  });
});

describe('mountinfo', () => {
  it('this machine: hybrid', () => {
    const found = parseCgroupMounts(read('/proc/self/mountinfo'));
    expect(found.v2).toBe(cgroupLayout().v2?.mount);
    expect(found.v1.cpu).toBeDefined();
    expect(found.v1.memory).toBeDefined();
  });

  it('pure v2, co-mounted v1 controllers, named hierarchies, escaped paths', () => {
    const text = [
      '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot',
      '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
      '41 31 0:38 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct',
      '42 31 0:39 / /mnt/my\\040cgroups rw,relatime - cgroup cgroup rw,memory',
      '43 23 0:5 / /proc rw,relatime - proc proc rw',
    ].join('\n');
    expect(parseCgroupMounts(text)).toEqual({
      v2: '/sys/fs/cgroup',
      v1: { cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', memory: '/mnt/my cgroups' },
    });
  });
});
