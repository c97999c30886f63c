/**
 * Processes that exit: an open NetState or Rtnl never keeps a process alive
 * or delays its exit by itself, while what it was asked to await does keep it
 * alive until it settles. Each case runs a script against the built package
 * (test/fixtures/lifecycle-child.mjs) in a child process and measures the time
 * from the step under test to the child's exit — once with the poller's
 * io_uring (where the kernel allows it) and once with its fallback (signals
 * while idle, a waiting thread while something is awaited).
 */
import { execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ClosedError, NetState, Rtnl } from '../../src/index.js';
import { ip, useNetns } from '../helpers/netns.js';

const CHILD = new URL('../fixtures/lifecycle-child.mjs', import.meta.url).pathname;
/** The brief's bound for every exit; what is measured is printed. */
const EXIT_WITHIN_MS = 2000;

const ns = useNetns();

/** Each poller method: the environment of the child, and how it must say it waits. */
const METHODS: { poller: string; env: Record<string, string>; method: RegExp }[] = [
  { poller: 'default', env: {}, method: /^(io_uring|signals and a thread)$/ },
  { poller: 'fallback', env: { NETSTATE_POLLER: 'fallback' }, method: /^signals and a thread$/ },
];

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string[];
  stderr: string;
  /** From the child's `ready` line to its exit. */
  exitMs: number;
  /** How its poller waited. */
  method: string;
}

function runChild(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    // A hang must fail the test, not the suite's timeout (and must not outlive it).
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      const exitedAt = Date.now();
      clearTimeout(killer);
      child.on('close', () => {
        const stdout = out.split('\n').filter(Boolean);
        const [, readyAt, method] = /^ready (\d+) (.*)$/.exec(stdout.find((l) => l.startsWith('ready ')) ?? '') ?? [];
        resolve({
          status,
          signal,
          stdout: stdout.filter((l) => !l.startsWith('ready ')),
          stderr: err,
          exitMs: exitedAt - Number(readyAt),
          method: method ?? '(never ready)',
        });
      });
    });
  });
}

const SCENARIOS: { scenario: string; status: number; stdout: string[]; stderr?: RegExp }[] = [
  { scenario: 'throw', status: 1, stdout: [], stderr: /Error: thrown on purpose/ },
  { scenario: 'exit', status: 3, stdout: [] },
  { scenario: 'end', status: 0, stdout: ['end of script'] },
  { scenario: 'close', status: 0, stdout: ['completed', 'end of script'] },
  { scenario: 'await', status: 0, stdout: ['found', 'end of script'] },
  { scenario: 'event', status: 0, stdout: ['end of script', 'event'] },
];

describe.each(METHODS)('poller: $poller', ({ env, method }) => {
  describe.each(['netstate', 'rtnl'])('a script with an open %s and an events$ subscription', (opener) => {
    it.each(SCENARIOS)('$scenario: exits at once with status $status', async ({ scenario, status, stdout, stderr }) => {
      const run = await runChild(env, opener, scenario, ns.name);
      console.log(`${run.method}: ${opener} ${scenario}: exited ${run.exitMs} ms after its last step, status ${run.status}`);
      expect({ status: run.status, signal: run.signal, stdout: run.stdout }).toEqual({ status, signal: null, stdout });
      if (stderr) expect(run.stderr).toMatch(stderr);
      else expect(run.stderr).toBe('');
      expect(run.method).toMatch(method);
      expect(run.exitMs).toBeGreaterThanOrEqual(0);
      expect(run.exitMs).toBeLessThan(EXIT_WITHIN_MS);
    });
  });

  describe('a request that is never answered keeps the process alive (no "unsettled top-level await")', () => {
    const WAIT_MS = 300; // the child acts after this, from an unref'd timer

    it('until close() rejects it with a ClosedError', async () => {
      const run = await runChild(env, 'socket', 'close', ns.name);
      console.log(`${run.method}: pending request, closed: exited ${run.exitMs} ms after it was sent, status ${run.status}`);
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
        status: 0,
        stdout: ['closed', 'end of script'],
        stderr: '',
      });
      expect(run.method).toMatch(method);
      expect(run.exitMs).toBeGreaterThanOrEqual(WAIT_MS);
      expect(run.exitMs).toBeLessThan(EXIT_WITHIN_MS);
    });

    // Without io_uring the waiting thread is armed then: exit must not wait for it.
    it.each([
      { scenario: 'exit', status: 3, stderr: /^$/ },
      { scenario: 'throw', status: 1, stderr: /Error: thrown on purpose/ },
    ])('until it calls process.exit or throws ($scenario): then it exits at once', async ({ scenario, status, stderr }) => {
      const run = await runChild(env, 'socket', scenario, ns.name);
      console.log(`${run.method}: pending request, ${scenario}: exited ${run.exitMs} ms after, status ${run.status}`);
      expect({ status: run.status, stdout: run.stdout }).toEqual({ status, stdout: [] });
      expect(run.stderr).toMatch(stderr);
      expect(run.exitMs).toBeGreaterThanOrEqual(0);
      expect(run.exitMs).toBeLessThan(EXIT_WITHIN_MS);
    });
  });
});

/** Netlink sockets of the namespace that joined multicast groups, from the kernel's own list. */
function eventSockets(netns: string): number {
  const lines = execFileSync('ip', ['netns', 'exec', netns, 'cat', '/proc/net/netlink'], { encoding: 'utf8' }).split('\n');
  // sk Eth Pid Groups ...: Eth 0 is NETLINK_ROUTE
  return lines.slice(1).filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[1] === '0' && f[3] !== undefined && Number.parseInt(f[3], 16) !== 0;
  }).length;
}

describe('close()', () => {
  it('NetState: completes events$, applied$ and errors$, rejects pending waitFor and sync() with a ClosedError', async () => {
    const db = await NetState.open({ netns: ns.name });
    const completed: string[] = [];
    db.events$.subscribe({ complete: () => completed.push('events$') });
    db.applied$.subscribe({ complete: () => completed.push('applied$') });
    db.errors$.subscribe({ complete: () => completed.push('errors$') });
    const waiting = db.waitFor('interface', { ifname: 'never0' }, { timeout: 20_000 });
    const syncing = db.sync();
    expect(eventSockets(ns.name)).toBe(1);
    const start = Date.now();
    await db.close();
    await expect(waiting).rejects.toThrow(ClosedError);
    await expect(syncing).rejects.toThrow(ClosedError);
    expect(Date.now() - start).toBeLessThan(1000); // not the waitFor's timeout
    expect(completed.sort()).toEqual(['applied$', 'errors$', 'events$']);
    expect(eventSockets(ns.name)).toBe(0);
    await expect(db.sync()).rejects.toThrow(ClosedError);
    await expect(db.waitFor('interface', 'lo')).rejects.toThrow(ClosedError);
    expect(() => db.begin()).toThrow(ClosedError);
  });

  it('a ClosedError is a NetStateError that says what was closed', async () => {
    const db = await NetState.open({ netns: ns.name });
    const waiting = db.waitFor('route', '10.9.9.0/24');
    await db.close();
    const e = await waiting.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClosedError);
    expect(e).toMatchObject({
      name: 'ClosedError',
      message: 'waitFor: the store was closed while waiting for route 10.9.9.0/24',
    });
  });

  it('Rtnl: closes the event socket its events$ opened and completes every subscriber', async () => {
    const nl = await Rtnl.open({ netns: ns.name });
    const completed: number[] = [];
    const lc0 = new Promise<void>((resolve) =>
      nl.events$.subscribe({ next: (e) => e.record?.ifname === 'lc0' && resolve(), complete: () => completed.push(1) }),
    );
    nl.events$.subscribe({ complete: () => completed.push(2) });
    expect(eventSockets(ns.name)).toBe(1);
    ip(ns.name, 'link', 'add', 'lc0', 'type', 'veth', 'peer', 'name', 'lc1');
    await lc0; // the stream works before it is closed
    nl.close();
    expect(completed).toEqual([1, 2]);
    expect(eventSockets(ns.name)).toBe(0);
    // After close: a new subscription completes at once, a request is refused.
    let late = false;
    nl.events$.subscribe({ complete: () => (late = true) });
    expect(late).toBe(true);
    await expect(nl.link('dump')).rejects.toThrow(ClosedError);
  });
});
