import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Bmv2State, Bmv2Switch } from '../../../src/backends/bmv2/switch.js';
import { Bmv2NotFoundError, Bmv2StartupError, ValidationError } from '../../../src/errors.js';
import { listeners, STANDIN } from '../../helpers/bmv2-standin.js';
import { ip, useNetns } from '../../helpers/netns.js';
import { netnsPids } from '../../helpers/proc.js';
import { useRuntimeCleanup } from '../../helpers/runtime.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nst-sw-'));
  writeFileSync(join(dir, 'ok.json'), '{"__meta__": {"version": [2, 23]}}');
  writeFileSync(join(dir, 'bad.json'), '{"header_types": [\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

describe('Bmv2Switch with the stand-in', () => {
  const ns = useNetns();
  const switches: Bmv2Switch[] = [];
  afterEach(async () => {
    await Promise.all(switches.splice(0).map((s) => s.kill()));
  });
  useRuntimeCleanup(() => ns.names);
  beforeEach(() => {
    for (const i of [1, 2]) {
      ip(ns.name, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', `q${i}`);
      for (const l of [`p${i}`, `q${i}`]) ip(ns.name, 'link', 'set', l, 'up');
    }
  });

  const make = (o: Partial<ConstructorParameters<typeof Bmv2Switch>[0]> = {}) => {
    const s = new Bmv2Switch({ binary: STANDIN, netns: ns.name, noP4: true, ports: { 1: 'p1', 2: 'p2' }, ...o });
    switches.push(s);
    return s;
  };

  it('starts without blocking, is ready once it owns both ports, and stops with SIGTERM', async () => {
    const s = make({ name: 's1', deviceId: 7, thriftPort: 9301, grpcAddress: '127.0.0.1:50301' });
    const states: Bmv2State[] = [];
    s.changes$.subscribe((c) => states.push(c.state));
    const before = Date.now() * 1000;
    s.start();
    expect(s.state).toBe('starting');
    expect(s.isRunning).toBe(true);
    expect(s.returncode).toBeNull();
    await s.waitUntilReady();
    const pid = s.pid as number;
    expect(s.state).toBe('running');
    // Independently: the pid's own LISTEN sockets, from /proc; the pid in the namespace; BMv2's comm.
    expect(
      listeners(pid)
        .map((l) => l.port)
        .sort(),
    ).toEqual([50301, 9301].sort());
    expect(netnsPids(ns.name)).toContain(pid);
    expect(readFileSync(`/proc/${pid}/comm`, 'utf8')).toBe('simple_switch_g\n');
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(
      expect.arrayContaining(['--device-id', '7', '-i', '1@p1', '-i', '2@p2', '--thrift-port', '9301', '--no-p4']),
    );
    expect([s.thriftPort, s.grpcPort]).toEqual([9301, 50301]);
    expect(s.bootTimestampUs).toBeGreaterThanOrEqual(before);
    expect(s.bootTimestampUs).toBeLessThanOrEqual(Date.now() * 1000);

    expect(await s.stop()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(s.returncode).toBe(-15);
    expect(s.state).toBe('stopped');
    expect(s.isRunning).toBe(false);
    expect(s.bootTimestampUs).toBeUndefined();
    expect(alive(pid)).toBe(false);
    expect(netnsPids(ns.name)).toEqual([]);
    // Idempotent.
    expect(await s.stop()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(states).toEqual(['starting', 'running', 'stopped']);
  });

  it('SIGTERM ignored: stop() sends SIGKILL once its timeout has passed', async () => {
    const s = make({ env: { BMV2_STANDIN_IGNORE_SIGTERM: '1' } });
    s.start();
    await s.waitUntilReady();
    const t0 = performance.now();
    expect(await s.stop({ timeout: 300 })).toEqual({ code: null, signal: 'SIGKILL' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(s.returncode).toBe(-9);
    expect(s.lastLines()).toEqual([]); // released with the run
    expect(netnsPids(ns.name)).toEqual([]);
  });

  it('two stop() at once send one SIGTERM, escalate once, and resolve alike', async () => {
    const out = join(dir, 'twice.out');
    const s = make({ output: out, env: { BMV2_STANDIN_IGNORE_SIGTERM: '1' } });
    s.start();
    await s.waitUntilReady();
    const both = await Promise.all([s.stop({ timeout: 200 }), s.stop({ timeout: 200 })]);
    expect(both).toEqual([
      { code: null, signal: 'SIGKILL' },
      { code: null, signal: 'SIGKILL' },
    ]);
    // The stand-in says so on stderr each time it ignores a SIGTERM.
    expect(readFileSync(out, 'utf8').match(/SIGTERM ignored/g)).toHaveLength(1);
  });

  it('stop() while it starts: the pending waitUntilReady is a Bmv2StartupError, the switch stopped', async () => {
    const s = make({ env: { BMV2_STANDIN_START_DELAY_MS: '5000' } });
    s.start();
    const ready = s.waitUntilReady().catch((x) => x);
    expect(await s.stop()).toEqual({ code: null, signal: 'SIGTERM' });
    const e = await ready;
    expect(e).toBeInstanceOf(Bmv2StartupError);
    expect(e.message).toMatch(/was stopped before it was ready/);
    expect(s.state).toBe('stopped');
    expect(netnsPids(ns.name)).toEqual([]);
  });

  it('kill(): SIGKILL at once; stop() afterwards changes nothing', async () => {
    const s = make();
    s.start();
    await s.waitUntilReady();
    const pid = s.pid as number;
    expect(await s.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(alive(pid)).toBe(false);
    expect(await s.stop()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(s.state).toBe('stopped');
  });

  it('stop() and kill() before any start resolve with nothing', async () => {
    const s = make();
    expect(await s.stop()).toBeUndefined();
    expect(await s.kill()).toBeUndefined();
    expect(s.state).toBe('new');
    await expect(s.waitUntilReady()).rejects.toThrow(/never started/);
  });

  it.each([
    ['exit code 3', { BMV2_STANDIN_EXIT_CODE: '3' }, { exitCode: 3, signal: null, returncode: 3 }],
    ['SIGSEGV', { BMV2_STANDIN_EXIT_SIGNAL: 'SIGSEGV' }, { exitCode: null, signal: 'SIGSEGV', returncode: -11 }],
  ])('a crash after it was ready (%s) is seen at once as exited', async (_n, knob, want) => {
    const s = make({ env: { BMV2_STANDIN_EXIT_AFTER_MS: '300', ...knob } });
    const ended = firstValueFrom(s.changes$.pipe(filter((c) => c.state === 'exited')));
    s.start();
    await s.waitUntilReady();
    const status = await ended;
    expect({ exitCode: status.exitCode, signal: status.signal, returncode: s.returncode }).toEqual(want);
    expect(s.state).toBe('exited');
    expect(s.bootTimestampUs).toBeDefined(); // kept: it was not stopped
  });

  it('runs again after an exit, and in a cgroup of its own with limits (gone after the stop)', async () => {
    const s = make({ limits: { memory: '512M' } });
    s.start();
    await s.waitUntilReady();
    const first = s.pid as number;
    const cgroup = readFileSync(`/proc/${first}/cgroup`, 'utf8');
    const dirOf = /memory:(\/netstate\/proc-\d+-\w+)/.exec(cgroup)?.[1];
    expect(dirOf).toBeDefined();
    expect(readFileSync(`/sys/fs/cgroup/memory${dirOf}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(512 << 20));
    await s.stop();
    expect(existsSync(`/sys/fs/cgroup/memory${dirOf}`)).toBe(false);
    s.start();
    await s.waitUntilReady();
    expect(s.pid).not.toBe(first);
    expect(() => s.start()).toThrow(/runs already/);
  });

  it('its output goes to the file given, BMv2 logging with log: console', async () => {
    const out = join(dir, 'sub', 's1.out');
    const s = make({ output: out, log: 'console', logLevel: 'info', thriftPort: 9303 });
    s.start();
    await s.waitUntilReady();
    await s.stop();
    const text = readFileSync(out, 'utf8');
    expect(text).toMatch(/^Calling target program-options parser\nAdding interface p1 as port 1\n/);
    expect(text).toMatch(/\[bmv2\] \[I\] \[thread \d+\] Starting Thrift server on port 9303/);
  });

  type Failure = [
    string,
    (setup: { make: typeof make }) => Promise<Partial<ConstructorParameters<typeof Bmv2Switch>[0]>>,
    { code?: number; signal?: string; line: RegExp },
  ];
  const failures: Failure[] = [
    [
      'a JSON syntax error: SIGABRT',
      async () => ({ noP4: undefined, program: join(dir, 'bad.json') }),
      { signal: 'SIGABRT', line: /^terminate called after throwing an instance of 'Json::RuntimeError'$/ },
    ],
    [
      'BMV2_STANDIN_ABORT: SIGABRT',
      async () => ({ noP4: undefined, program: join(dir, 'ok.json'), env: { BMV2_STANDIN_ABORT: '1' } }),
      { signal: 'SIGABRT', line: /Json::RuntimeError/ },
    ],
    [
      'a program that cannot be opened: exit 1',
      async () => ({ noP4: undefined, program: join(dir, 'missing.json') }),
      { code: 1, line: /^JSON input file \S+missing\.json cannot be opened$/ },
    ],
    [
      'its Thrift port taken by another switch: exit 1',
      async ({ make }) => {
        const holder = make({ thriftPort: 9310, grpcPort: 50310, ports: {} });
        holder.start();
        await holder.waitUntilReady();
        return { thriftPort: 9310, grpcPort: 50311 };
      },
      { code: 1, line: /^Thrift returned an exception when trying to bind to port 9310$/ },
    ],
    [
      'its gRPC port held without SO_REUSEPORT: SIGSEGV',
      async ({ make }) => {
        const holder = make({ thriftPort: 9312, grpcPort: 50312, ports: {}, env: { BMV2_STANDIN_GRPC_REUSEPORT: '0' } });
        holder.start();
        await holder.waitUntilReady();
        return { thriftPort: 9313, grpcAddress: '127.0.0.1:50312' };
      },
      { signal: 'SIGSEGV', line: /No address added out of total 1 resolved for '127\.0\.0\.1:50312'/ },
    ],
  ];

  it.each(failures)('%s: a Bmv2StartupError with its last lines', async (_name, setup, want) => {
    const s = make(await setup({ make }));
    s.start();
    const e = (await s.waitUntilReady().catch((x) => x)) as Bmv2StartupError;
    expect(e).toBeInstanceOf(Bmv2StartupError);
    expect({ code: e.code, signal: e.signal }).toEqual({ code: want.code ?? null, signal: want.signal ?? null });
    expect(
      e.lines.some((l) => want.line.test(l)),
      e.lines.join('\n'),
    ).toBe(true);
    expect(e.message).toContain(want.code !== undefined ? `exited with code ${want.code}` : `killed by ${want.signal}`);
    expect(s.state).toBe('exited');
  });

  it('ready is not a log line: "Server listening" printed, nothing bound: a Bmv2StartupError with those lines', async () => {
    const s = make({ log: 'console', env: { BMV2_STANDIN_LISTEN: '0' } });
    s.start();
    const e = (await s.waitUntilReady({ timeout: 500 }).catch((x) => x)) as Bmv2StartupError;
    expect(e).toBeInstanceOf(Bmv2StartupError);
    expect(e.message).toMatch(/is not listening on port 9559 and 9090 after 500 ms; its last lines:/);
    expect(e.lines).toEqual(expect.arrayContaining(['Server listening on 0.0.0.0:9559']));
    expect(e.lines.some((l) => /Thrift server was started/.test(l))).toBe(true);
    // Still running, and (independently) listening on nothing.
    expect(s.state).toBe('starting');
    expect(listeners(s.pid as number)).toEqual([]);
  });

  it('its gRPC port taken by another switch (both bind: SO_REUSEPORT): a Bmv2StartupError naming the holder', async () => {
    const holder = make({ name: 'holder', thriftPort: 9314, grpcPort: 50314, ports: { 1: 'p1' } });
    holder.start();
    await holder.waitUntilReady();
    const s = make({ name: 'second', thriftPort: 9315, grpcPort: 50314, ports: { 1: 'p2' } });
    s.start();
    const e = (await s.waitUntilReady().catch((x) => x)) as Bmv2StartupError;
    expect(e).toBeInstanceOf(Bmv2StartupError);
    expect(e.message).toMatch(
      new RegExp(
        `\\(pid ${s.pid}\\) shares TCP port 50314 with pid ${holder.pid} \\(simple_switch_g\\), listening on any address`,
      ),
    );
    expect(e.lines).toContain('Adding interface p2 as port 1');
    // Owning a socket on the port was not enough: the kernel lists both, one each.
    expect(listeners(s.pid as number).map((l) => l.port)).toContain(50314);
    expect(listeners(holder.pid as number).map((l) => l.port)).toContain(50314);
    expect(holder.state).toBe('running');
  });

  it('not listening within the timeout: a Bmv2StartupError; the process is left running', async () => {
    const s = make({ env: { BMV2_STANDIN_START_DELAY_MS: '3000' } });
    s.start();
    await expect(s.waitUntilReady({ timeout: 300 })).rejects.toThrow(/is not listening on port 9559 and 9090 after 300 ms/);
    expect(s.state).toBe('starting');
    expect(await s.stop()).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it.each([
    ['missing', () => ({ ports: { 1: 'p1', 2: 'nope0' } }), /port 2's interface nope0 does not exist in namespace/],
    [
      'down',
      () => {
        ip(ns.name, 'link', 'set', 'p2', 'down');
        return {};
      },
      /port 2's interface p2 is down in namespace .*libpcap/,
    ],
  ])('a port interface %s: a Bmv2StartupError before anything runs', (_n, setup, message) => {
    const s = make(setup());
    expect(() => s.start()).toThrow(Bmv2StartupError);
    expect(() => s.start()).toThrow(message);
    expect(s.state).toBe('new');
    expect(netnsPids(ns.name)).toEqual([]);
  });

  it('no binary: Bmv2NotFoundError (the real one is not on this PATH; a path that is not there)', () => {
    expect(() => make({ binary: undefined }).start()).toThrow(Bmv2NotFoundError);
    expect(() => make({ binary: undefined }).start()).toThrow(/simple_switch_grpc is not on PATH/);
    expect(() => make({ binary: '/nonexistent/simple_switch_grpc' }).start()).toThrow(Bmv2NotFoundError);
  });
});

describe('Bmv2Switch options', () => {
  const base = { binary: STANDIN, noP4: true };
  it.each([
    ['neither program nor noP4', { binary: STANDIN }, 'program'],
    ['both program and noP4', { ...base, program: '/x.json' }, 'noP4'],
    ['a port that is no number', { ...base, ports: { x: 'p1' } }, 'ports.x'],
    ['an interface name too long', { ...base, ports: { 1: 'abcdefghijklmnop' } }, 'ports.1'],
    ['an interface on two ports', { ...base, ports: { 1: 'p1', 2: 'p1' } }, 'ports.2'],
    ['the drop port', { ...base, ports: { 511: 'p1' } }, 'ports.511'],
    ['a cpu port that is a data port', { ...base, ports: { 1: 'p1' }, cpuPort: 1 }, 'cpuPort'],
    ['Thrift and gRPC on one port', { ...base, thriftPort: 9559 }, 'thriftPort'],
    ['a gRPC address without a port', { ...base, grpcAddress: 'localhost' }, 'grpcAddress'],
    ['a gRPC port not the address', { ...base, grpcAddress: '0.0.0.0:1', grpcPort: 2 }, 'grpcPort'],
    ['a port out of range', { ...base, thriftPort: 70000 }, 'thriftPort'],
    ['a log level', { ...base, logLevel: 'loud' }, 'logLevel'],
    ['an unknown field', { ...base, threads: 2 }, 'threads'],
    ['a bad name', { ...base, name: 'a b' }, 'name'],
  ])('%s: ValidationError naming %s', (_n, options, field) => {
    const e = (() => {
      try {
        new Bmv2Switch(options as never);
      } catch (x) {
        return x;
      }
    })() as ValidationError;
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.field).toBe(field);
  });

  it('argv in the order simple_switch_grpc parses it', () => {
    const s = new Bmv2Switch({
      ...base,
      noP4: undefined,
      program: '/p.json',
      ports: { 2: 'p2', 1: 'p1' },
      deviceId: 3,
      thriftPort: 9091,
      grpcPort: 50052,
      cpuPort: 64,
      log: '/tmp/s.log',
      logLevel: 'info',
      pcap: '/tmp/pcap',
    });
    expect(s.argv.slice(1)).toEqual([
      ...['--device-id', '3', '-i', '1@p1', '-i', '2@p2', '--thrift-port', '9091'],
      ...['--log-file', '/tmp/s.log', '--log-flush', '-L', 'info', '--pcap', '/tmp/pcap', '/p.json'],
      ...['--', '--grpc-server-addr', '0.0.0.0:50052', '--cpu-port', '64'],
    ]);
    expect(new Bmv2Switch({ ...base, thriftPort: null }).argv.slice(1)).toEqual([
      ...['--device-id', '0', '--no-p4', '--', '--grpc-server-addr', '0.0.0.0:9559'],
    ]);
  });
});
