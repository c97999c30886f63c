import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SwitchRecord } from '../../../src/db/switches.js';
import {
  Bmv2NotFoundError,
  Bmv2StartupError,
  cgroupList,
  NetState,
  type StoreEvent,
  TransactionError,
  ValidationError,
} from '../../../src/index.js';
import type { Transaction } from '../../../src/transactions/transaction.js';
import { listeners, STANDIN } from '../../helpers/bmv2-standin.js';
import { ip, ipJson, useNetns } from '../../helpers/netns.js';
import { netnsPids } from '../../helpers/proc.js';
import { ownCgroup, useRuntimeCleanup } from '../../helpers/runtime.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nst-sw-tx-'));
  writeFileSync(join(dir, 'bad.json'), '{"tables": [');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ourCgroups(): string[] {
  return cgroupList()
    .map((c) => c.name)
    .filter((n) => ownCgroup(n) && n.includes('-sw-'));
}

function links(ns: string): string[] {
  return ipJson<{ ifname: string }[]>(ns, 'link')
    .map((l) => l.ifname)
    .sort();
}

/** A ValidationError naming `field`, with a message matching `message`, from staging. */
function expectRefused(stage: () => unknown, field: string, message: RegExp): void {
  let e: unknown;
  try {
    stage();
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(ValidationError);
  expect((e as ValidationError).field).toBe(field);
  expect((e as ValidationError).message).toMatch(message);
}

describe('switches in transactions', () => {
  const ns = useNetns();
  let db: NetState;
  let events: StoreEvent[];
  beforeEach(async () => {
    db = await NetState.open({ netns: ns.name, journal: false });
    events = [];
    db.events$.subscribe((e) => {
      if (e.kind === 'switch') events.push(e);
    });
  });
  afterEach(async () => {
    await db.close();
  });
  useRuntimeCleanup(() => ns.names);

  /** Two veths p1/q1, p2/q2, made up in the transaction; a switch on each pN. */
  function stagePorts(tx: Transaction, n = 2): void {
    for (let i = 1; i <= n; i++) tx.create({ kind: 'veth', ifname: `p${i}`, peer: { ifname: `q${i}` } }).up();
    for (let i = 1; i <= n; i++) tx.interface(`q${i}`).up();
  }

  const sw = (name: string, i: number, more: Record<string, unknown> = {}) => ({
    name,
    binary: STANDIN,
    noP4: true,
    ports: { 1: `p${i}` },
    deviceId: i,
    thriftPort: 9300 + i,
    grpcPort: 50300 + i,
    ...more,
  });

  it('two switches start in one commit, at once, and are records; a removal stops one', async () => {
    const tx = db.begin();
    stagePorts(tx);
    const slow = { env: { BMV2_STANDIN_START_DELAY_MS: '700' } };
    tx.addSwitch(sw('s1', 1, slow));
    tx.addSwitch(sw('s2', 2, slow));
    expect(tx.review().switches).toEqual({
      s1: {
        start: true,
        netns: ns.name,
        ports: { 1: 'p1' },
        deviceId: 1,
        grpcAddress: '0.0.0.0:50301',
        thriftPort: 9301,
        noP4: true,
        restart: 'no',
      },
      s2: expect.objectContaining({ start: true, ports: { 1: 'p2' }, deviceId: 2 }),
    });
    const t0 = performance.now();
    const report = await tx.commit();
    const took = performance.now() - t0;
    // One after the other would take two start delays; at once, one (and a bit).
    expect(took).toBeLessThan(1350);
    expect(report.applied.filter((a) => a.startsWith('switch'))).toEqual([
      `switch s1 in ${ns.name}: start (ports 1@p1)`,
      `switch s2 in ${ns.name}: start (ports 1@p2)`,
    ]);
    const records = db.switches.list();
    expect(records.map((r) => [r.name, r.state, r.ports, r.deviceId, r.thriftPort, r.grpcPort])).toEqual([
      ['s1', 'running', { 1: 'p1' }, 1, 9301, 50301],
      ['s2', 'running', { 1: 'p2' }, 2, 9302, 50302],
    ]);
    for (const r of records) {
      const pid = r.pid as number;
      expect(netnsPids(ns.name)).toContain(pid);
      expect(
        listeners(pid)
          .map((l) => l.port)
          .sort(),
      ).toEqual([r.thriftPort, r.grpcPort].sort());
      expect(r.bootTimestampUs).toBeGreaterThan(0);
    }
    expect(db.switches.count({ state: 'running' })).toBe(2);
    expect(db.switches.get({ deviceId: 2 })?.name).toBe('s2');
    expect(events.map((e) => `${e.action} ${(e.after ?? e.before)?.name} ${(e.after ?? e.before)?.state}`)).toEqual([
      'add s1 starting',
      'add s2 starting',
      expect.stringMatching(/^change s[12] running$/),
      expect.stringMatching(/^change s[12] running$/),
    ]);
    // The kernel's view of the ports: opened by the switch as libpcap does (promiscuous by membership).
    expect(ipJson<{ promiscuity: number }[]>(ns.name, '-d', 'link', 'show', 'p1')[0]?.promiscuity).toBe(1);

    const pid1 = records[0]?.pid as number;
    const rm = db.begin();
    rm.switch('s1').remove();
    expect(rm.review().switches).toEqual({ s1: { stop: true, netns: ns.name } });
    await rm.commit();
    expect(existsSync(`/proc/${pid1}`)).toBe(false);
    expect(db.switches.list().map((r) => r.name)).toEqual(['s2']);
    expect(ourCgroups()).toHaveLength(1);
    expect(events.slice(-2).map((e) => `${e.action} ${(e.after ?? e.before)?.state}`)).toEqual([
      'change stopped',
      'remove stopped',
    ]);
  });

  it('three switches that each take 1 s to listen start in one commit in about 1 s, not 3', async () => {
    const DELAY = 1000;
    const tx = db.begin();
    stagePorts(tx, 3);
    for (const i of [1, 2, 3]) tx.addSwitch(sw(`s${i}`, i, { env: { BMV2_STANDIN_START_DELAY_MS: String(DELAY) } }));
    const t0 = performance.now();
    await tx.commit();
    const took = performance.now() - t0;
    const boots = db.switches.list().map((r) => (r.bootTimestampUs as number) / 1000);
    const spread = Math.max(...boots) - Math.min(...boots);
    console.log(
      `3 switches, ${DELAY} ms start delay each: commit ${took.toFixed(0)} ms, starts spread over ${spread.toFixed(0)} ms`,
    );
    expect(db.switches.count({ state: 'running' })).toBe(3);
    // One after another: 3 delays and 3 starts (a start is ~0.3 s: node, then 100 ms settling). At
    // once: one delay, the three starts sharing the 2 cores, and the commit's own work (~1.8 s here).
    expect(took).toBeGreaterThanOrEqual(DELAY);
    expect(took).toBeLessThan(3 * DELAY);
    // The processes were started together, not each once the one before was ready.
    expect(spread).toBeLessThan(DELAY / 2);
  });

  it('one of two switches fails to start: the whole commit is rolled back, nothing left behind', async () => {
    const before = links(ns.name);
    const tx = db.begin();
    stagePorts(tx);
    tx.addSwitch(sw('good', 1, { env: { BMV2_STANDIN_START_DELAY_MS: '400' } }));
    tx.addSwitch(sw('bad', 2, { noP4: undefined, program: join(dir, 'bad.json') }));
    const e = (await tx.commit().catch((x) => x)) as TransactionError;
    expect(e).toBeInstanceOf(TransactionError);
    expect(e.step).toBe(`switch bad in ${ns.name}: start (ports 1@p2)`);
    expect(e.cause).toBeInstanceOf(Bmv2StartupError);
    expect((e.cause as Bmv2StartupError).signal).toBe('SIGABRT');
    expect((e.cause as Bmv2StartupError).lines.join('\n')).toMatch(/terminate called after throwing/);
    expect(e.rolledBack).toContain(`switch good in ${ns.name}: start (ports 1@p1)`);
    expect(e.notRolledBack).toEqual([]);
    // Nothing left: no process in the namespace (iproute2's view and /proc), no cgroup, no record, no link.
    const pids = events.map((x) => (x.after ?? x.before)?.pid as number | null).filter((p): p is number => !!p);
    expect(new Set(pids).size).toBe(2);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`), `pid ${pid}`).toBe(false);
    expect(netnsPids(ns.name)).toEqual([]);
    expect(ourCgroups()).toEqual([]);
    expect(db.switches.list()).toEqual([]);
    expect(links(ns.name)).toEqual(before);
    const seen = events.map((x) => `${x.action} ${(x.after ?? x.before)?.name}`);
    expect(seen).toContain('remove good');
    expect(seen).toContain('remove bad');
  });

  it('a removal rolled back starts the switch again, with the spec it had', async () => {
    const tx = db.begin();
    stagePorts(tx, 1);
    tx.addSwitch(sw('s1', 1));
    await tx.commit();
    const first = db.switches.get('s1') as SwitchRecord;
    const rm = db.begin();
    rm.switch('s1').remove();
    rm.check(async () => false);
    await expect(rm.commit()).rejects.toThrow(TransactionError);
    const again = db.switches.get('s1') as SwitchRecord;
    expect(again.state).toBe('running');
    expect(again.pid).not.toBe(first.pid);
    expect(existsSync(`/proc/${first.pid}`)).toBe(false);
    expect({ ...again, pid: 0, bootTimestampUs: 0, cgroup: '' }).toEqual({ ...first, pid: 0, bootTimestampUs: 0, cgroup: '' });
    expect(netnsPids(ns.name)).toEqual([again.pid]);
  });

  it('a switch that ends on its own is a record in state exited, with its exit code, seen at once', async () => {
    const tx = db.begin();
    stagePorts(tx, 1);
    tx.addSwitch(sw('s1', 1, { env: { BMV2_STANDIN_EXIT_AFTER_MS: '300', BMV2_STANDIN_EXIT_CODE: '4' } }));
    await tx.commit();
    const rec = (await db.waitFor('switch', { name: 's1', state: 'exited' })) as unknown as SwitchRecord;
    expect([rec.exitCode, rec.signal, rec.restart, rec.restarts]).toEqual([4, null, 'no', 0]);
    // Removing an exited switch is its record and cgroup going.
    const rm = db.begin();
    rm.switch('s1').remove();
    await rm.commit();
    expect(db.switches.list()).toEqual([]);
    expect(ourCgroups()).toEqual([]);
  });

  describe('refused at staging', () => {
    beforeEach(async () => {
      ip(ns.name, 'link', 'add', 'p1', 'type', 'veth', 'peer', 'name', 'q1');
      ip(ns.name, 'link', 'add', 'p2', 'type', 'veth', 'peer', 'name', 'q2');
      ip(ns.name, 'link', 'set', 'p1', 'up');
      ip(ns.name, 'link', 'set', 'p2', 'up');
      await db.sync();
    });

    it.each([
      ['the gRPC port of a running switch', { grpcPort: 50301 }, 'grpcPort', /uses TCP port 50301 already/],
      ['its Thrift port as gRPC port', { grpcPort: 9301 }, 'grpcPort', /uses TCP port 9301 already/],
      ['the Thrift port of a running switch', { thriftPort: 9301 }, 'thriftPort', /uses TCP port 9301 already/],
      ['its device id', { deviceId: 1 }, 'deviceId', /has device id 1 already/],
      ['its interface', { ports: { 1: 'p1' } }, 'ports', /interface p1 is a port of switch s1 already/],
      ['its name', { name: 's1' }, 'name', /a switch named s1 exists already/],
      ['an interface that is not there', { ports: { 3: 'nope0' } }, 'ports.3', /no interface nope0 in .*none staged/],
      ['a port that is down', { ports: { 1: 'q2' } }, 'ports.1', /interface q2 in .* is down: stage \.up\(\)/],
      ['a bad option', { cpuPort: 1 }, 'cpuPort', /is a data port/],
      ['an existing cgroup (not plain data)', { cgroup: { name: 'x', dirs: [] } }, 'cgroup', /unknown field "cgroup"/],
    ])('%s', async (_n, change, field, message) => {
      const tx = db.begin();
      tx.addSwitch(sw('s1', 1));
      await tx.commit();
      const next = db.begin();
      expectRefused(() => next.addSwitch(sw('s2', 2, change)), field, message);
      expect(next.review().switches).toBeUndefined();
      // Nothing ran: s1 alone in the namespace.
      expect(netnsPids(ns.name)).toEqual([db.switches.get('s1')?.pid]);
    });

    it.each([
      ['a gRPC port', { grpcPort: 50301 }, 'grpcPort', /switch s1 .* uses TCP port 50301 already/],
      ['a Thrift port', { thriftPort: 9301 }, 'thriftPort', /switch s1 .* uses TCP port 9301 already/],
      ['a Thrift port as gRPC port', { grpcPort: 9301 }, 'grpcPort', /uses TCP port 9301 already/],
      ['a device id', { deviceId: 1 }, 'deviceId', /switch s1 .* has device id 1 already/],
    ])(
      '%s of a switch staged in the same transaction; the commit then starts only the first',
      async (_n, change, field, message) => {
        const tx = db.begin();
        tx.addSwitch(sw('s1', 1));
        expectRefused(() => tx.addSwitch(sw('s2', 2, change)), field, message);
        expect(Object.keys(tx.review().switches ?? {})).toEqual(['s1']);
        expect(netnsPids(ns.name)).toEqual([]);
        await tx.commit();
        expect(db.switches.list().map((r) => r.name)).toEqual(['s1']);
      },
    );

    it('against switches staged in the same transaction too; a removed one frees its numbers', async () => {
      const tx = db.begin();
      tx.addSwitch(sw('s1', 1));
      expect(() => tx.addSwitch(sw('s2', 2, { deviceId: 1 }))).toThrow(/switch s1 .* has device id 1 already/);
      await tx.commit();
      const swap = db.begin();
      swap.switch('s1').remove();
      swap.addSwitch(sw('s2', 2, { deviceId: 1, thriftPort: 9301, ports: { 1: 'p1' } }));
      expect(swap.review().switches).toEqual({
        s1: { stop: true, netns: ns.name },
        s2: expect.objectContaining({ start: true, deviceId: 1, thriftPort: 9301 }),
      });
      await swap.commit();
      expect(db.switches.list().map((r) => [r.name, r.deviceId, r.state])).toEqual([['s2', 1, 'running']]);
    });

    it('no binary: Bmv2NotFoundError; an unknown switch to remove: ValidationError', () => {
      const tx = db.begin();
      expect(() => tx.addSwitch(sw('s1', 1, { binary: 'simple_switch_grpc' }))).toThrow(Bmv2NotFoundError);
      expect(() => tx.switch('nope')).toThrow(ValidationError);
    });
  });
});
