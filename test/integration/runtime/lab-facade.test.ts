/**
 * The Lab facade: DummyNet's surface, each call a transaction on the store,
 * everything it makes recorded so that cleanup removes exactly that. Ported
 * from DummyNet's own example (../shared/reference: a namespace per host, a
 * veth between them, addresses, a default route, tc, a bridge, run and
 * run_async, cgroups, the process list and kill calls) and checked through
 * `ip -j`, `tc -j`, /proc and the cgroup tree. Then the ways a lab ends:
 * `await using`, SIGTERM to its process, kill -9 and the next open's sweep,
 * and a batch that fails making nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Lab, ProcessError, TransactionError } from '../../../src/index.js';
import { addNetns, delNetns, freshName, ipJson, tcJson } from '../../helpers/netns.js';
import { useRuntimeCleanup } from '../../helpers/runtime.js';

const CHILD = join(import.meta.dirname, '../../fixtures/lab-child.mjs');
let dir = '';
let journal = '';
const names: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nst-labfacade-'));
  journal = join(dir, 'journal.sqlite');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const n of names.splice(0)) delNetns(n);
});
// Processes left in a namespace keep it alive after `ip netns del`: ended first (after hooks run last-registered first).
useRuntimeCleanup(() => [...names]);

/** A namespace name of this test (removed after it whatever happens). */
function ns(tag: string): string {
  const n = freshName(tag);
  names.push(n);
  return n;
}

const exists = (n: string) => existsSync(`/run/netns/${n}`);
const cgroupDirs = (name: string) =>
  ['memory', 'cpu,cpuacct', 'cpu', 'pids', 'unified']
    .map((h) => `/sys/fs/cgroup/${h}/netstate/${name}`)
    .filter((d) => existsSync(d));

describe('Lab (DummyNet)', () => {
  it("DummyNet's example: hosts, a veth between them, addresses, a route, tc, a bridge, processes; cleanup removes what it made and nothing else", async () => {
    const [h1n, h2n, other] = [ns('l1'), ns('l2'), ns('lo')];
    addNetns(other); // not the lab's: cleanup must leave it
    const lab = await Lab.open({ journal, handleSignals: false });
    const h1 = await lab.netnsAdd(h1n);
    const h2 = await lab.netnsAdd(h2n);
    expect(lab.netnsList()).toEqual(expect.arrayContaining([h1n, h2n, other]));
    expect(await h1.linkVethAdd('v1', 'v1p')).toEqual(['v1', 'v1p']);
    await h1.linkSet(h2n, 'v1p');
    await h1.addrAdd('10.0.0.1/24', 'v1');
    await h2.addrAdd('10.0.0.2/24', 'v1p');
    await h1.up('v1');
    await h2.up('v1p');
    await h1.route('10.0.0.2');
    expect(ipJson<{ dst: string; gateway: string }[]>(h1n, 'route', 'show', 'default')[0]?.gateway).toBe('10.0.0.2');
    expect(h2.linkList()).toEqual(expect.arrayContaining(['lo', 'v1p']));
    // tc: rate alone is tbf on this kernel; tcShow reads the records.
    await h1.tc('v1', { rate: '10mbit' });
    expect(tcJson(h1n, 'qdisc', 'show', 'dev', 'v1').find((q) => q.root)?.kind).toBe('tbf');
    expect(h1.tcShow('v1').map((q) => q.kind)).toContain('tbf');
    // A bridge in h2 with a second veth's end as its port.
    await h2.bridgeAdd('br0');
    await h2.linkVethAdd('b1', 'b1p');
    await h2.bridgeSet('br0', 'b1');
    expect(h2.bridgeList()).toEqual(['br0']);
    expect(ipJson<{ ifname: string }[]>(h2n, 'link', 'show', 'master', 'br0').map((l) => l.ifname)).toEqual(['b1']);
    // run: to its end, in the namespace; a failing command with check throws.
    const out = await h1.run('ip -j addr show dev v1');
    expect(out.stdout).toContain('10.0.0.1');
    await expect(h1.run('exit 4', { check: true })).rejects.toBeInstanceOf(ProcessError);
    // run_async, in a cgroup the lab removes; the process list finds it by namespace inode.
    const sleeper = await h2.runAsync('exec sleep 300');
    const listed = h2.netnsProcessList().map((p) => p.pid);
    expect(listed).toContain(sleeper.pid);
    expect(() => h1.netnsKillProcess(h1n, sleeper.pid)).toThrow(); // not in h1
    h2.netnsKillProcess(h2n, sleeper.pid);
    expect((await sleeper.wait()).signal).toBe('SIGTERM');
    await h2.runAsync('exec sleep 300');
    const killed = await h2.netnsKillAll();
    expect(killed.length).toBe(1);
    // A cgroup with limits, under netstate/.
    const group = `${h1n}-g`;
    lab.addCgroup(group, { cpu: 0.5, memory: '64M' });
    expect(cgroupDirs(group).length).toBeGreaterThan(0);
    expect(lab.cgroupList().map((c) => c.name)).toContain(group);

    const report = await lab.cleanup();
    expect(report.removed.length).toBeGreaterThan(0);
    expect(exists(h1n)).toBe(false);
    expect(exists(h2n)).toBe(false);
    expect(exists(other)).toBe(true);
    expect(cgroupDirs(group)).toEqual([]);
    // A cleaned-up lab refuses further calls.
    await expect(lab.netnsAdd(ns('l3'))).rejects.toThrow(/cleaned up/);
  });

  it('await using cleans up at the end of the block; a failing batch makes nothing', async () => {
    const [a, b] = [ns('la'), ns('lb')];
    {
      await using lab = await Lab.open({ journal, handleSignals: false });
      const h = await lab.netnsAdd(a);
      // One transaction: the second namespace, a veth, and an address on a link that does not exist.
      const err = await lab
        .batch(async () => {
          await lab.netnsAdd(b);
          await h.linkVethAdd('x0', 'x1');
          await h.addrAdd('10.1.0.1/24', 'nosuch');
        })
        .catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(exists(b)).toBe(false);
      expect(ipJson<{ ifname: string }[]>(a, 'link').map((l) => l.ifname)).toEqual(['lo']);
      // A batch that works commits as one.
      const report = await lab.batch(async () => {
        await h.linkVethAdd('y0', 'y1');
        await h.addrAdd('10.2.0.1/24', 'y0');
        await h.up('y0');
      });
      expect(report?.steps).toBeGreaterThanOrEqual(3);
      expect(exists(a)).toBe(true);
    }
    expect(exists(a)).toBe(false);
  });

  /** Runs the child lab until it prints ready. */
  function child(namespace: string): Promise<ChildProcess> {
    const c = spawn(process.execPath, [CHILD, journal, namespace], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    return new Promise((resolve, reject) => {
      c.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve(c);
      });
      c.on('exit', (code) => reject(new Error(`the child exited (${code}): ${out} ${err}`)));
    });
  }

  const ended = (c: ChildProcess) =>
    new Promise<NodeJS.Signals | null>((resolve) => c.on('exit', (_code, signal) => resolve(signal)));

  it('SIGTERM to a process with an open lab removes what it made, and it dies of the signal', async () => {
    const n = ns('lt');
    const c = await child(n);
    expect(exists(n)).toBe(true);
    const end = ended(c);
    c.kill('SIGTERM');
    expect(await end).toBe('SIGTERM');
    expect(exists(n)).toBe(false);
  });

  it('after kill -9, the next Lab.open sweeps what the dead lab made', async () => {
    const n = ns('lk');
    const c = await child(n);
    const end = ended(c);
    c.kill('SIGKILL');
    expect(await end).toBe('SIGKILL');
    expect(exists(n)).toBe(true);
    const lab = await Lab.open({ journal, handleSignals: false });
    expect(exists(n)).toBe(false);
    await lab.cleanup();
  });

  it('refuses bad input before anything is made', async () => {
    const lab = await Lab.open({ journal, handleSignals: false });
    try {
      const h = await lab.netnsAdd(ns('lv'));
      await expect(h.addrAdd('10.0.0.300/24', 'lo')).rejects.toThrow(/address/);
      await expect(h.tc('lo', {})).rejects.toThrow(/at least one/);
      await expect(h.tc('lo', { delay: '10ms' })).rejects.toThrow(/netem/);
      await expect(h.linkVethAdd('a'.repeat(16), 'b')).rejects.toThrow(/ifname/);
      expect(ipJson<{ ifname: string }[]>(h.netns, 'link').map((l) => l.ifname)).toEqual(['lo']);
    } finally {
      await lab.cleanup();
    }
  });

  it('a failed commit inside the lab leaves the lab as it was', async () => {
    const lab = await Lab.open({ journal, handleSignals: false });
    try {
      const h = await lab.netnsAdd(ns('lf'));
      await h.linkVethAdd('f0', 'f1');
      // The gateway is not reachable: the kernel refuses the route.
      const err = await h.route('192.0.2.1').catch((e) => e);
      expect(err).toBeInstanceOf(TransactionError);
      expect(ipJson(h.netns, 'route', 'show', 'default')).toEqual([]);
      expect(lab.made().filter((r) => r.kind === 'route')).toEqual([]);
    } finally {
      await lab.cleanup();
    }
  });
});
