/**
 * The simple_switch_grpc stand-in (test/fixtures/bmv2/simple_switch_grpc),
 * checked against the process contract of BMv2 it imitates: argv errors and
 * their exits, the lines it prints and their order and buffering, listening
 * sockets owned by its pid (read from /proc), death by SIGTERM, the knobs,
 * port conflicts, and frames switched between hosts in other namespaces.
 * Every switch runs in a fresh nst- namespace and is SIGKILLed after each
 * test, pass or fail.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { echo } from '../../src/backends/icmp.js';
import {
  isEcho,
  killAll,
  listeners,
  pcapFrames,
  runSwitch,
  type Switch,
  startSwitch,
  untilListening,
  untilOutput,
} from '../helpers/bmv2-standin.js';
import { ip, ipJson, useNetns } from '../helpers/netns.js';

const LOG_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] \[bmv2\] \[([TDIWEC])\] \[thread (\d+)\] (.*)$/;
const V4_MAPPED_LOOPBACK = '0000000000000000FFFF00000100007F';
const ANY6 = '0'.repeat(32);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nst-bmv2-'));
  writeFileSync(join(dir, 'ok.json'), '// jsoncpp takes comments\n{"__meta__": {"version": [2, 23]} /* here too */}\n');
  writeFileSync(join(dir, 'bad.json'), '{"header_types": [\n');
  writeFileSync(join(dir, 'v3.json'), '{"__meta__": {"version": [3, 0]}}');
  writeFileSync(join(dir, 'marked.json'), '{"__standin__": {"abort": "bad program"}}');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function promiscuity(ns: string, link: string): number {
  return (ipJson<{ promiscuity: number }[]>(ns, '-d', 'link', 'show', link)[0] as { promiscuity: number }).promiscuity;
}

/** Log lines as `[L] message` (time and thread checked), other lines as they are. */
function lines(s: Switch): string[] {
  return s.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = LOG_LINE.exec(l);
      if (!m) return l;
      if (!m[3]?.includes('[cxt 0]')) expect(Number(m[2])).toBe(s.pid); // BMv2's main thread: tid = pid
      return `[${m[1]}] ${m[3]}`;
    });
}

describe('simple_switch_grpc stand-in: the command line', () => {
  const ns = useNetns();
  afterEach(killAll);

  type Case = [string, () => string[], Record<string, string>, { code?: number; signal?: string; out?: RegExp; err?: RegExp }];
  const json = (f: string) => () => [join(dir, f)];
  const cases: Case[] = [
    [
      'no JSON and no --no-p4',
      () => [],
      {},
      { code: 1, out: /^Error: please specify an input JSON configuration file\nUsage: / },
    ],
    [
      'both log sinks',
      () => ['--log-console', '--log-file', join(dir, 'x.log'), join(dir, 'ok.json')],
      {},
      { code: 1, out: /^Error: --log-console and --log-file are exclusive\n$/ },
    ],
    [
      'a bad log level',
      () => ['-L', 'loud', '--no-p4'],
      {},
      { code: 1, out: /^Invalid value loud for --log-level\nRun with -h to see possible values\n$/ },
    ],
    [
      '--pcap DIR missing',
      () => ['--pcap', '/nonexistent-nst', '--no-p4'],
      {},
      { code: 1, out: /^Directory '\/nonexistent-nst' specified with '--pcap' does not exist\.\n$/ },
    ],
    [
      '--pcap takes the next word, here the JSON',
      () => ['--pcap', join(dir, 'ok.json')],
      {},
      { code: 1, out: /^Error: please specify an input JSON configuration file\n/ },
    ],
    [
      'an unknown core option',
      () => ['--frobnicate', '--no-p4'],
      {},
      { code: 1, out: /^Error while parsing command line arguments\n[\s\S]*make sure you separate general bmv2 options/ },
    ],
    ['-i without @', () => ['-i', '1', '--no-p4'], {}, { code: 1, out: /^Error while parsing command line arguments\n/ }],
    [
      'an ambiguous prefix (--log)',
      () => ['--log', '--no-p4'],
      {},
      { code: 1, out: /^Error while parsing command line arguments\n/ },
    ],
    [
      'a repeated option',
      () => ['--device-id', '1', '--device-id', '2', '--no-p4'],
      {},
      { code: 1, out: /^Error while parsing/ },
    ],
    [
      '--cpu-port 0: exit 1 and no message',
      () => ['--no-p4', '--', '--cpu-port', '0'],
      {},
      { code: 1, out: /^Calling target program-options parser\n$/, err: /^$/ },
    ],
    [
      'a cpu port that is a data port',
      () => ['--no-p4', '--log-console', '-i', '1@lo', '--', '--cpu-port', '1'],
      {},
      {
        code: 1,
        out: /Adding interface lo as port 1\n[\s\S]*\[bmv2\] \[E\] \[thread \d+\] Cpu port 1 is used as a data port\n$/,
      },
    ],
    [
      'an unreadable JSON',
      json('missing.json'),
      {},
      { code: 1, out: /^Calling target program-options parser\nJSON input file \S+missing\.json cannot be opened\n$/ },
    ],
    [
      'a JSON syntax error aborts (the buffered line is lost)',
      json('bad.json'),
      {},
      {
        signal: 'SIGABRT',
        out: /^$/,
        err: /^terminate called after throwing an instance of 'Json::RuntimeError'\n {2}what\(\): {2}\* Line/,
      },
    ],
    ['BMV2_STANDIN_ABORT=1', json('ok.json'), { BMV2_STANDIN_ABORT: '1' }, { signal: 'SIGABRT', err: /Json::RuntimeError/ }],
    ['a JSON marked as a bad program', json('marked.json'), {}, { signal: 'SIGABRT', err: /what\(\): {2}bad program/ }],
    [
      'an unsupported JSON version',
      json('v3.json'),
      {},
      {
        code: 1,
        out: /\nWe require a bmv2 JSON major version number of 2 but this JSON input is tagged with a major version number of 3\n$/,
      },
    ],
    ['-v', () => ['-v'], {}, { code: 0, out: /^1\.15\.5-\w+\n$/ }],
    ['--json-version', () => ['--json-version'], {}, { code: 0, out: /^2\.24\n$/ }],
    ['-h', () => ['-h'], {}, { code: 0, out: /^Usage: [\s\S]*Target specific options:\n[\s\S]*--grpc-server-addr/ }],
    [
      'SSL without a certificate',
      () => ['--no-p4', '--', '--grpc-server-ssl'],
      {},
      { code: 1, err: /^When enabling SSL\/TLS for gRPC server, --grpc-server-cert is required\n$/ },
    ],
    [
      '--thrift-port in a build without Thrift',
      () => ['--thrift-port', '9090', '--no-p4'],
      { BMV2_STANDIN_THRIFT: '0' },
      { code: 1, out: /^Error while parsing command line arguments\n/ },
    ],
  ];

  it.each(cases)('%s', async (_name, args, knobs, want) => {
    const r = await runSwitch(ns.name, args(), knobs);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: want.code ?? null, signal: want.signal ?? null });
    if (want.out) expect(r.stdout).toMatch(want.out);
    if (want.err) expect(r.stderr).toMatch(want.err);
  });
});

describe('simple_switch_grpc stand-in: start-up, sockets, signals, knobs', () => {
  const ns = useNetns();
  afterEach(killAll);
  beforeEach(() => {
    for (const i of [1, 2, 3]) ip(ns.name, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', `q${i}`);
    for (const l of ['p1', 'p2', 'q1', 'q2', 'q3']) ip(ns.name, 'link', 'set', l, 'up'); // p3 stays DOWN
  });

  it("prints BMv2's lines in order, opens up ports only, listens as gRPC and Thrift do, and dies of SIGTERM", async () => {
    const s = startSwitch(ns.name, [
      ...['--device-id', '3', '-i', '2@p2', '-i', '1@p1', '-i', '3@p3', '-i', '4@nope'],
      ...['--thrift-port', '9191', '--log-console', '-L', 'debug', '--no-p4'],
      ...['--', '--grpc-server-addr', '127.0.0.1:50111'],
    ]);
    const l = await untilListening(s, [50111, 9191]);
    await untilOutput(s, 'stdout', /Thrift server was started\n/);
    // gRPC binds an IPv4 address as v4-mapped on an AF_INET6 socket; Thrift binds [::].
    expect(l.map(({ port, family, address }) => ({ port, family, address })).sort((a, b) => a.port - b.port)).toEqual([
      { port: 9191, family: 6, address: ANY6 },
      { port: 50111, family: 6, address: V4_MAPPED_LOOPBACK },
    ]);
    expect(readFileSync(`/proc/${s.pid}/comm`, 'utf8')).toBe('simple_switch_g\n');
    // An opened port is promiscuous by membership (libpcap's way); the DOWN one was refused.
    expect([promiscuity(ns.name, 'p1'), promiscuity(ns.name, 'p2'), promiscuity(ns.name, 'p3')]).toEqual([1, 1, 0]);

    s.child.kill('SIGTERM');
    expect(await s.exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(promiscuity(ns.name, 'p1')).toBe(0);
    expect(lines(s).filter((x) => !x.includes('[cxt 0]'))).toEqual([
      'Calling target program-options parser',
      'Adding interface p1 as port 1',
      '[D] Adding interface p1 as port 1',
      'Adding interface p2 as port 2',
      '[D] Adding interface p2 as port 2',
      'Adding interface p3 as port 3',
      '[D] Adding interface p3 as port 3',
      '[E] Add port operation failed',
      'Adding interface nope as port 4',
      '[D] Adding interface nope as port 4',
      '[E] Add port operation failed',
      'Server listening on 127.0.0.1:50111',
      '[I] Starting Thrift server on port 9191',
      '[I] Thrift server was started',
    ]);
  });

  it('without logging, bare lines stay in the stdout buffer and die with the process; endl lines do not', async () => {
    const args = ['-i', '1@p1', '--no-p4', '--thrift-port', '9192', '--', '--grpc-server-addr', '0.0.0.0:50112'];
    const s = startSwitch(ns.name, args);
    const l = await untilListening(s, [50112, 9192]);
    expect(l.find((x) => x.port === 50112)).toMatchObject({ family: 6, address: ANY6 }); // a wildcard: one dual-stack socket
    s.child.kill('SIGTERM');
    await s.exit;
    expect(s.stdout).toBe('Calling target program-options parser\nAdding interface p1 as port 1\n');

    const u = startSwitch(ns.name, args, { BMV2_STANDIN_UNBUFFERED: '1' });
    await untilListening(u, [50112, 9192]);
    await untilOutput(u, 'stdout', /^Server listening on 0\.0\.0\.0:50112$/m);
  });

  it('an unknown target option: boost says so, and the target options fall back to their defaults', async () => {
    const s = startSwitch(ns.name, [
      ...['--no-p4', '--thrift-port', '9193', '--log-console'],
      ...['--', '--grpc-server-addr', '127.0.0.1:50113', '--frob'],
    ]);
    await untilListening(s, [9559, 9193]);
    await untilOutput(s, 'stdout', /Thrift server was started/);
    expect(lines(s).slice(0, 4)).toEqual([
      'Calling target program-options parser',
      "unrecognised option '--frob'",
      'Target parser returned an error',
      'Server listening on 0.0.0.0:9559',
    ]);
  });

  it('BMV2_STANDIN_IGNORE_SIGTERM: SIGTERM leaves it running and listening; SIGKILL ends it', async () => {
    const s = startSwitch(ns.name, ['--no-p4', '--thrift-port', '9194'], { BMV2_STANDIN_IGNORE_SIGTERM: '1' });
    await untilListening(s, [9559, 9194]);
    s.child.kill('SIGTERM');
    await untilOutput(s, 'stderr', /\[stand-in\] SIGTERM ignored/);
    expect(() => process.kill(s.pid, 0)).not.toThrow();
    expect(
      listeners(s.pid)
        .map((x) => x.port)
        .sort(),
    ).toEqual([9194, 9559]);
    s.child.kill('SIGKILL');
    expect(await s.exit).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('BMV2_STANDIN_START_DELAY_MS holds the listeners back', async () => {
    const started = Date.now();
    const s = startSwitch(ns.name, ['--no-p4', '--thrift-port', '9195'], { BMV2_STANDIN_START_DELAY_MS: '800' });
    await untilListening(s, [9559, 9195]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
  });

  it('BMV2_STANDIN_LISTEN=0: every line as if it listened, no socket bound, and it runs on', async () => {
    const s = startSwitch(ns.name, ['--no-p4', '--log-console', '--thrift-port', '9198'], { BMV2_STANDIN_LISTEN: '0' });
    // "Thrift server was started" comes after the gRPC bind and right before the Thrift one.
    await untilOutput(s, 'stdout', /Thrift server was started/);
    expect(s.stdout).toMatch(/^Server listening on 0\.0\.0\.0:9559$/m);
    expect(listeners(s.pid)).toEqual([]);
    expect(() => process.kill(s.pid, 0)).not.toThrow();
    s.child.kill('SIGTERM');
    expect(await s.exit).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it.each([
    [{ BMV2_STANDIN_EXIT_CODE: '3' }, { code: 3, signal: null }],
    [{ BMV2_STANDIN_EXIT_SIGNAL: 'SIGSEGV' }, { code: null, signal: 'SIGSEGV' }],
  ])('BMV2_STANDIN_EXIT_AFTER_MS: ready first, then ends with %j', async (knob, end) => {
    const s = startSwitch(ns.name, ['--no-p4', '--log-console', '--thrift-port', '9196'], {
      BMV2_STANDIN_EXIT_AFTER_MS: '600',
      ...knob,
    });
    await untilListening(s, [9559, 9196]);
    expect(await s.exit).toEqual(end);
    expect(s.stdout).toMatch(/Thrift server was started\n$/);
  });

  it('its stdout pipe closed, it dies of SIGPIPE at the next flush, as a C program does (exit() flushes)', async () => {
    const s = startSwitch(ns.name, ['--no-p4', '--thrift-port', '9200'], { BMV2_STANDIN_EXIT_AFTER_MS: '400' });
    s.child.stdout?.destroy();
    expect(await s.exit).toEqual({ code: null, signal: 'SIGPIPE' });
  });

  it('a Thrift port in use: the message on stderr and exit 1, after gRPC listened', async () => {
    const holder = startSwitch(ns.name, ['--no-p4', '--thrift-port', '9197', '--', '--grpc-server-addr', '127.0.0.1:50117']);
    await untilListening(holder, [50117, 9197]);
    const r = await runSwitch(ns.name, [
      ...['--no-p4', '--thrift-port', '9197', '--log-console'],
      ...['--', '--grpc-server-addr', '127.0.0.1:50118'],
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /Server listening on 127\.0\.0\.1:50118\n.*Starting Thrift server on port 9197\n.*Thrift server was started\n$/,
    );
    expect(r.stderr).toBe(
      'Thrift returned an exception when trying to bind to port 9197\n' +
        'The exception is: Could not bind: Address already in use\n' +
        'You may have another process already using this port, maybe another instance of bmv2.\n',
    );
  });

  it('a gRPC port held without SO_REUSEPORT: "Server listening" is printed all the same, then SIGSEGV', async () => {
    const holder = startSwitch(ns.name, ['--no-p4', '--thrift-port', '9198', '--', '--grpc-server-addr', '0.0.0.0:50119'], {
      BMV2_STANDIN_GRPC_REUSEPORT: '0',
    });
    await untilListening(holder, [50119, 9198]);
    const r = await runSwitch(ns.name, [
      ...['--no-p4', '--thrift-port', '9199', '--log-console'],
      ...['--', '--grpc-server-addr', '127.0.0.1:50119'],
    ]);
    expect(r.signal).toBe('SIGSEGV');
    expect(r.stdout).toMatch(/Server listening on 127\.0\.0\.1:50119\n.*Starting Thrift server/);
    expect(r.stderr).toMatch(/No address added out of total 1 resolved for '127\.0\.0\.1:50119'.*Address already in use/);
  });

  it('two switches share a gRPC port (SO_REUSEPORT), each owning its own listening socket', async () => {
    const a = startSwitch(ns.name, ['--no-p4', '--thrift-port', '9201', '--', '--grpc-server-addr', '0.0.0.0:50120']);
    const b = startSwitch(ns.name, ['--no-p4', '--thrift-port', '9202', '--', '--grpc-server-addr', '0.0.0.0:50120']);
    const la = (await untilListening(a, [50120, 9201])).find((x) => x.port === 50120);
    const lb = (await untilListening(b, [50120, 9202])).find((x) => x.port === 50120);
    expect(la?.inode).toBeDefined();
    expect(la?.inode).not.toBe(lb?.inode);
    // Each pid's fds name only its own socket: "connect works" would not tell them apart, ownership does.
    expect(listeners(a.pid).some((x) => x.inode === lb?.inode)).toBe(false);
  });
});

describe('simple_switch_grpc stand-in: switching frames between hosts', () => {
  const ns = useNetns(4); // the switch, h1, h2, h3
  let pcapDir: string;
  afterEach(async () => {
    await killAll();
    rmSync(pcapDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    pcapDir = mkdtempSync(join(tmpdir(), 'nst-bmv2-pcap-'));
    const [sw, ...hosts] = ns.names as [string, string, string, string];
    hosts.forEach((h, i) => {
      ip(sw, 'link', 'add', `p${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h);
      ip(sw, 'link', 'set', `p${i + 1}`, 'up');
      ip(h, 'link', 'set', 'eth0', 'up');
      ip(h, 'addr', 'add', `10.0.0.${i + 1}/24`, 'dev', 'eth0');
      ip(h, 'addr', 'add', `2001:db8::${i + 1}/64`, 'dev', 'eth0', 'nodad');
    });
  });

  const ARGS = ['-i', '1@p1', '-i', '2@p2', '-i', '3@p3', '--no-p4', '--thrift-port', '9090'];
  const frames = (name: string) => pcapFrames(join(pcapDir, `${name}.pcap`));

  it.each([
    ['learn', true, false],
    ['hub', true, true],
    ['drop', false, false],
  ] as const)('BMV2_STANDIN_FORWARD=%s: h1 and h2 ping through it: %s; echoes reach h3: %s', async (mode, passes, third) => {
    const [sw, h1, h2] = ns.names as [string, string, string, string];
    const s = startSwitch(sw, [...ARGS, '--pcap', pcapDir], { BMV2_STANDIN_FORWARD: mode });
    await untilListening(s, [9559, 9090]);
    const timeout = passes ? 3000 : 600;
    const pings = Promise.all([echo(h1, '10.0.0.2', { timeout }), echo(h2, '2001:db8::1', { timeout })]);
    if (passes) await pings;
    else await expect(pings).rejects.toThrow(/did not answer/);
    s.child.kill('SIGTERM');
    await s.exit;
    // What h1 sent reached the switch (ARP, neighbour solicitations, and echoes once those were answered).
    expect(frames('p1_in').length).toBeGreaterThan(0);
    expect(frames('p1_in').filter(isEcho).length > 0).toBe(passes);
    expect(frames('p2_out').filter(isEcho).length > 0).toBe(passes);
    expect(frames('p3_out').filter(isEcho).length > 0).toBe(third);
    // p3 did get what is flooded (ARP and neighbour solicitations) unless nothing is sent at all.
    expect(frames('p3_out').length > 0).toBe(mode !== 'drop');
  });

  it("frames the switch namespace's own stack sends out of a port are not taken as input (PACKET_OUTGOING)", async () => {
    const [sw, h1] = ns.names as [string, string, string, string];
    const s = startSwitch(sw, [...ARGS, '--pcap', pcapDir]);
    await untilListening(s, [9559, 9090]);
    const mac = Buffer.from(
      (ipJson<{ address: string }[]>(sw, 'link', 'show', 'p1')[0]?.address ?? '').replaceAll(':', ''),
      'hex',
    );
    ip(sw, 'addr', 'add', '10.0.0.100/24', 'dev', 'p1');
    await echo(sw, '10.0.0.1', { timeout: 3000 }); // ARP and echo leave p1 from the stack, seen by the switch's socket
    // h1's echo goes through the switch after those copies in p1's socket queue: once it is answered, they were read.
    await echo(h1, '10.0.0.2', { timeout: 3000 });
    s.child.kill('SIGTERM');
    await s.exit;
    const fromStack = (f: Buffer) => f.subarray(6, 12).equals(mac);
    expect(frames('p1_in').filter(fromStack)).toEqual([]);
    expect(frames('p2_out').filter(fromStack)).toEqual([]);
    expect(frames('p3_out').filter(fromStack)).toEqual([]);
  });

  it('idle, it spends no CPU (the ports are waited on, not polled)', async () => {
    const s = startSwitch(ns.names[0] as string, ARGS);
    await untilListening(s, [9559, 9090]);
    const ticks = () => {
      const f = readFileSync(`/proc/${s.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return Number(f[11]) + Number(f[12]); // utime + stime, fields 14 and 15
    };
    const before = ticks();
    await new Promise((r) => setTimeout(r, 500)); // measuring idleness needs the time to pass
    expect(ticks() - before).toBeLessThanOrEqual(3);
  });
});
