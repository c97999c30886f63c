/**
 * Processes in a namespace: exec, spawn (NsProcess), processes, killProcess,
 * killAll. Checked through /proc (ns/net, cmdline, status, stat), `ip netns
 * pids` and `ip netns identify`, never only through netstate's own view.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { assertNotHostNamespace } from '../../../src/backends/process/members.js';
import {
  cgroupList,
  exec,
  killAll,
  killProcess,
  NamespaceError,
  type NsProcess,
  ProcessError,
  ProcessTimeoutError,
  processes,
  spawn,
  TimeoutError,
  ValidationError,
} from '../../../src/index.js';
import { ip, useNetns } from '../../helpers/netns.js';
import { netnsPids } from '../../helpers/proc.js';
import { ownCgroup, useRuntimeCleanup } from '../../helpers/runtime.js';

const ns = useNetns(2);
useRuntimeCleanup(() => ns.names);

const NODE = process.execPath;

function nsInode(name: string): number {
  return statSync(`/run/netns/${name}`).ino;
}

function procNetInode(pid: number): number {
  return statSync(`/proc/${pid}/ns/net`).ino;
}

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
}

function ppid(pid: number): number {
  return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** Resolves with the first line of `stream` matching `re`. */
function lineOf(stream: Readable | null, re: RegExp): Promise<string> {
  let buf = '';
  return new Promise((resolve, reject) => {
    stream?.setEncoding('utf8');
    stream?.on('data', (d: string) => {
      buf += d;
      const line = buf.split('\n').find((l) => re.test(l));
      if (line !== undefined) resolve(line);
    });
    stream?.on('end', () => reject(new Error(`no line matching ${re} in ${JSON.stringify(buf)}`)));
  });
}

/** A long-running process that says when it runs its own code: `node -e` printing "ready". */
const READY = ['-e', 'console.log("ready " + process.pid); setInterval(() => {}, 1 << 30)'];

/** The same, ignoring SIGTERM (to test the SIGKILL escalation). */
const STUBBORN = ['-e', 'process.on("SIGTERM", () => {}); console.log("ready " + process.pid); setInterval(() => {}, 1 << 30)'];

describe('exec', () => {
  it('runs in the namespace and returns code, stdout and stderr', async () => {
    const r = await exec(ns.name, ['sh', '-c', 'readlink /proc/self/ns/net; ip -br link; echo err >&2']);
    expect(r.code).toBe(0);
    expect(r.signal).toBeNull();
    const [link, ...links] = r.stdout.trim().split('\n');
    expect(link).toBe(`net:[${nsInode(ns.name)}]`);
    expect(links.map((l) => l.split(/\s+/)[0])).toEqual(['lo']); // the namespace's links, not the host's
    expect(r.stderr).toBe('err\n');
  });

  it('input, env and cwd', async () => {
    expect((await exec(ns.name, ['cat'], { input: 'hello\n' })).stdout).toBe('hello\n');
    const r = await exec(ns.name, ['sh', '-c', 'echo "$FOO"; pwd; test -n "$HOME" || echo unset'], {
      env: { FOO: 'bar baz', PATH: '/usr/bin:/bin' },
      cwd: '/tmp',
    });
    expect(r.stdout).toBe('bar baz\n/tmp\nunset\n');
  });

  it('check: a non-zero exit is a ProcessError with argv, code, namespace and the end of stderr; check: false returns it', async () => {
    const argv = ['sh', '-c', 'echo out; echo first >&2; echo "the reason" >&2; exit 3'];
    const e = await exec(ns.name, argv).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProcessError);
    expect(e).toMatchObject({ argv, code: 3, signal: null, netns: ns.name, stderr: 'first\nthe reason\n' });
    expect((e as Error).message).toContain('exited with code 3');
    expect((e as Error).message).toContain('the reason');
    expect((e as Error).message).toContain(ns.name);
    expect(await exec(ns.name, argv, { check: false })).toEqual({
      code: 3,
      signal: null,
      stdout: 'out\n',
      stderr: 'first\nthe reason\n',
    });
  });

  it('check: death by a signal is a ProcessError naming the signal', async () => {
    const e = await exec(ns.name, ['sh', '-c', 'kill -KILL $$']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProcessError);
    expect(e).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect((e as Error).message).toContain('killed by SIGKILL');
  });

  it('timeout: SIGTERM, and a ProcessTimeoutError with what it printed', async () => {
    const e = await exec(ns.name, ['sh', '-c', 'echo started; exec sleep 10'], { timeout: 150 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProcessTimeoutError);
    expect(e).toBeInstanceOf(ProcessError);
    expect(e).toMatchObject({ timeout: 150, signal: 'SIGTERM', code: null, stdout: 'started\n' });
    expect(processes(ns.name)).toEqual([]);
  });

  it('timeout: SIGKILL after the grace period when SIGTERM is ignored', async () => {
    const e = await exec(ns.name, [NODE, ...STUBBORN], { timeout: 300, killGrace: 100 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProcessTimeoutError);
    expect(e).toMatchObject({ signal: 'SIGKILL' });
    expect(processes(ns.name)).toEqual([]);
  });

  it('a command that is not there is a ProcessError before anything runs', async () => {
    const e = await exec(ns.name, ['no-such-command-nst']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProcessError);
    expect((e as Error).message).toMatch(/no such executable on PATH/);
    expect(() => spawn(ns.name, ['./no-such-file'], { cwd: '/tmp' })).toThrow(ProcessError);
  });
});

describe('spawn', () => {
  it("the pid is the command's own, in the namespace, a child of this process, listed by processes() and ip netns pids", async () => {
    const p = spawn(ns.name, [NODE, ...READY], { capture: true });
    expect(await lineOf(p.stdout, /^ready/)).toBe(`ready ${p.pid}`);
    expect(cmdline(p.pid)).toEqual([NODE, ...READY]);
    expect(p.command).toBe(NODE);
    expect(procNetInode(p.pid)).toBe(nsInode(ns.name));
    expect(ppid(p.pid)).toBe(process.pid); // no wrapper in between
    expect(processes(ns.name).map((x) => [x.pid, x.comm, x.argv])).toEqual([[p.pid, 'node', [NODE, ...READY]]]);
    expect(netnsPids(ns.name)).toEqual([p.pid]);
    expect(processes(ns.names[1] as string)).toEqual([]);
    expect(processes(undefined).map((x) => x.pid)).not.toContain(p.pid);
    expect(processes(undefined).map((x) => x.pid)).toContain(process.pid);

    expect(p.poll()).toBeNull();
    expect(p.exited).toBe(false);
    expect(p.terminate()).toBe(true);
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(p.returncode).toBe(-15);
    expect(p.poll()).toBe(-15);
    expect(p.exited).toBe(true);
    expect(p.kill()).toBe(false); // exited: never signals a pid that may be someone else's now
    expect(processes(ns.name)).toEqual([]);
  });

  it('a short command reads its own /proc: the pid it sees is NsProcess.pid (no fork between)', async () => {
    const p = spawn(ns.name, ['cat', '/proc/self/stat'], { capture: true });
    const line = await lineOf(p.stdout, /\)/);
    expect(line.split(' ').slice(0, 2)).toEqual([String(p.pid), '(cat)']);
    expect(await p.wait()).toEqual({ code: 0, signal: null });
  });

  it('wait({ timeout }) is a TimeoutError and leaves the process running; stop() escalates to SIGKILL', async () => {
    const p = spawn(ns.name, [NODE, ...STUBBORN], { capture: true });
    await lineOf(p.stdout, /^ready/);
    await expect(p.wait({ timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
    expect(p.exited).toBe(false);
    expect(procNetInode(p.pid)).toBe(nsInode(ns.name));
    expect(await p.stop({ timeout: 200 })).toEqual({ code: null, signal: 'SIGKILL' });
    expect(processes(ns.name)).toEqual([]);
  });

  it('await using: SIGTERM on disposal, waited for', async () => {
    let pid = 0;
    let handle: NsProcess | undefined;
    {
      await using p = spawn(ns.name, ['sleep', '30'], { stdout: 'ignore' });
      pid = p.pid;
      handle = p;
      expect(netnsPids(ns.name)).toEqual([pid]);
    }
    expect(handle?.status).toEqual({ code: null, signal: 'SIGTERM' });
    expect(netnsPids(ns.name)).toEqual([]);
  });

  it('close() releases the pipes and leaves the process running', async () => {
    const p = spawn(ns.name, ['sleep', '30'], { capture: true, stdin: 'pipe' });
    p.close();
    expect(p.stdout?.destroyed).toBe(true);
    expect(p.stdin?.destroyed).toBe(true);
    expect(p.exited).toBe(false);
    expect(netnsPids(ns.name)).toEqual([p.pid]);
    p.kill();
    expect(await p.wait()).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

describe('what keeps Node running', () => {
  const CHILD = join(import.meta.dirname, '../../fixtures/runtime-child.mjs');

  function runChild(mode: string): Promise<{ code: number | null; out: string; err: string }> {
    const child = nodeSpawn(NODE, [CHILD, mode, ns.name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    // 'exit', not 'close': the sleeps it leaves behind hold a copy of nothing of ours, but be safe.
    return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
  }

  it('an open NsProcess (pipes included) does not keep node from exiting; the process lives on in the namespace', async () => {
    const started = Date.now();
    const r = await runChild('open');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000); // the sleeps last 30 s
    const pids = (r.out.match(/^pids (\d+) (\d+)$/m) ?? []).slice(1).map(Number);
    expect(pids).toHaveLength(2);
    expect(netnsPids(ns.name)).toEqual([...pids].sort((a, b) => a - b));
    const killed = await killAll(ns.name, { timeout: 2000 });
    expect(killed.map((k) => k.pid).sort()).toEqual([...pids].sort());
  });

  it('a wait() in progress keeps node running until it resolves', async () => {
    expect(await runChild('wait')).toMatchObject({ code: 0, out: 'waited 0 null\n' });
  });

  it('ref() keeps node running until the process exits', async () => {
    expect(await runChild('ref')).toMatchObject({ code: 0, out: 'exited 0\n' });
  });
});

describe('killProcess / killAll', () => {
  it('killProcess signals a process of the namespace and refuses one outside it (nothing sent)', async () => {
    const [mine, other] = ns.names as [string, string];
    const inside = spawn(mine, ['sleep', '30'], { stdout: 'ignore' });
    const outside = spawn(other, ['sleep', '30'], { stdout: 'ignore' });
    const host = spawn(undefined, ['sleep', '30'], { stdout: 'ignore' });
    try {
      for (const pid of [outside.pid, host.pid, process.pid === 1 ? 2 : 1]) {
        expect(() => killProcess(mine, pid, 'SIGKILL')).toThrow(NamespaceError);
      }
      expect(() => killProcess(mine, 999_999_999)).toThrow(NamespaceError);
      expect(outside.exited || host.exited).toBe(false);
      expect(killProcess(mine, inside.pid)).toMatchObject({ pid: inside.pid, comm: 'sleep', signal: 'SIGTERM' });
      expect(await inside.wait()).toEqual({ code: null, signal: 'SIGTERM' });
      // The refused ones were never signalled: they still run, and end by our hand.
      expect(netnsPids(other)).toEqual([outside.pid]);
      expect(readFileSync(`/proc/${host.pid}/stat`, 'utf8')).toMatch(/\) S /);
    } finally {
      outside.kill();
      host.kill();
      await Promise.all([outside.wait(), host.wait()]);
    }
    expect(outside.status).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('killAll ends everything, children, orphans and SIGTERM-ignorers included, and returns only when none is left', async () => {
    const plain = spawn(ns.name, ['sleep', '30'], { stdout: 'ignore' });
    const stubborn = spawn(ns.name, [NODE, ...STUBBORN], { capture: true });
    await lineOf(stubborn.stdout, /^ready/);
    // A shell with two children, and a daemon re-parented away from us (setsid, then its parent exits).
    const family = spawn(ns.name, ['sh', '-c', 'sleep 30 & sleep 30 & echo forked; wait'], { capture: true });
    await lineOf(family.stdout, /^forked/);
    await exec(ns.name, ['sh', '-c', 'setsid sleep 30 </dev/null >/dev/null 2>&1 &']);
    const before = processes(ns.name);
    expect(before.length).toBe(6);
    expect(netnsPids(ns.name)).toEqual(before.map((p) => p.pid));
    const orphan = before.find((p) => ![plain.pid, stubborn.pid, family.pid].includes(p.pid) && ppid(p.pid) !== family.pid);
    expect(orphan && ppid(orphan.pid)).not.toBe(process.pid);

    const killed = await killAll(ns.name, { timeout: 300 });
    expect(processes(ns.name)).toEqual([]);
    expect(netnsPids(ns.name)).toEqual([]);
    expect(killed.map((k) => k.pid).sort()).toEqual(before.map((p) => p.pid).sort());
    expect(killed.find((k) => k.pid === stubborn.pid)?.signal).toBe('SIGKILL');
    expect(killed.find((k) => k.pid === plain.pid)?.signal).toBe('SIGTERM');
    expect(await stubborn.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await killAll(ns.name)).toEqual([]);
  });

  it('killAll refuses the namespace of this process and of PID 1 (tested on the guard, which runs before any signal)', () => {
    // Not through killAll itself: a broken guard would end every process of the host.
    const id = (path: string) => ({ dev: statSync(path).dev, ino: statSync(path).ino });
    expect(() => assertNotHostNamespace('x', id('/proc/self/ns/net'))).toThrow(NamespaceError);
    expect(() => assertNotHostNamespace(ns.name, id(`/run/netns/${ns.name}`))).not.toThrow();
    // PID 1's namespace: only readable where PID 1 has no capability we lack (here it has CAP_SYS_RESOURCE: EACCES).
    let pid1: { dev: number; ino: number } | undefined;
    try {
      pid1 = id('/proc/1/ns/net');
    } catch {}
    if (pid1) expect(() => assertNotHostNamespace('x', pid1)).toThrow(NamespaceError);
  });
});

describe('bad input is refused before anything starts', () => {
  // [title, call, error class, field]
  const BAD: [string, (netns: string) => unknown, Function, string | undefined][] = [
    ['empty argv', (n) => spawn(n, []), ValidationError, 'argv'],
    ['argv not an array', (n) => spawn(n, 'sleep 1' as never), ValidationError, 'argv'],
    ['empty command', (n) => spawn(n, ['']), ValidationError, 'argv.0'],
    ['NUL in an argument', (n) => spawn(n, ['echo', 'a\0b']), ValidationError, 'argv.1'],
    ['argument not a string', (n) => spawn(n, ['sleep', 1 as never]), ValidationError, 'argv.1'],
    ['bad namespace name', () => spawn('a/b', ['true']), NamespaceError, undefined],
    ['missing namespace', () => spawn('nst-no-such-ns', ['true']), NamespaceError, undefined],
    ['unknown option', (n) => spawn(n, ['true'], { timout: 5 } as never), ValidationError, 'timout'],
    ['bad stdio', (n) => spawn(n, ['true'], { stdout: 'file' as never }), ValidationError, 'stdout'],
    ['env value not a string', (n) => spawn(n, ['true'], { env: { A: 1 } as never }), ValidationError, 'env.A'],
    ['cwd missing', (n) => spawn(n, ['true'], { cwd: '/nonexistent-nst' }), ValidationError, 'cwd'],
    ['cpu 0', (n) => spawn(n, ['true'], { limits: { cpu: 0 } }), ValidationError, 'limits.cpu'],
    ['memory with a bad unit', (n) => spawn(n, ['true'], { limits: { memory: '1X' } }), ValidationError, 'limits.memory'],
    [
      'limits and cgroup',
      (n) => spawn(n, ['true'], { limits: { cpu: 0.5 }, cgroup: { name: 'x', dirs: [], limits: {} } }),
      ValidationError,
      'limits',
    ],
    ['exec timeout 0', (n) => exec(n, ['true'], { timeout: 0 }), ValidationError, 'timeout'],
    ['exec timeout not a number', (n) => exec(n, ['true'], { timeout: '1s' as never }), ValidationError, 'timeout'],
    ['exec input not text', (n) => exec(n, ['cat'], { input: 42 as never }), ValidationError, 'input'],
    ['exec check not a boolean', (n) => exec(n, ['true'], { check: 'yes' as never }), ValidationError, 'check'],
    ['killProcess pid 0 (would be our group)', (n) => killProcess(n, 0), ValidationError, 'pid'],
    ['killProcess pid -1 (would be everyone)', (n) => killProcess(n, -1), ValidationError, 'pid'],
    ['killProcess bad signal', (n) => killProcess(n, 1, 'SIGNOPE' as never), ValidationError, 'signal'],
    ['killAll without a namespace', () => killAll(undefined as never), ValidationError, 'netns'],
    ['killAll negative timeout', (n) => killAll(n, { timeout: -1 }), ValidationError, 'timeout'],
  ];
  it.each(BAD)('%s', async (_title, call, kind, field) => {
    const cgroupsBefore = cgroupList().filter((c) => ownCgroup(c.name));
    let error: unknown;
    try {
      await call(ns.name);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(kind);
    if (field) expect((error as ValidationError).field).toBe(field);
    expect(processes(ns.name)).toEqual([]);
    expect(cgroupList().filter((c) => ownCgroup(c.name))).toEqual(cgroupsBefore);
  });
});

describe('namespace view', () => {
  it('a spawned process sees the namespace through /proc/net and /proc/sys/net (not /sys: no remount, unlike ip netns exec)', async () => {
    ip(ns.name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    const r = await exec(ns.name, [
      'sh',
      '-c',
      'cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " " | sort; ls /proc/sys/net/ipv6/conf',
    ]);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['lo', 'v0', 'v1', 'all', 'default', 'lo', 'v0', 'v1']);
  });
});
