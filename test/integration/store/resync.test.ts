/** Lost events, interrupted dumps, namespaces that move links or disappear. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { NetState, Rtnl, type StoreEvent } from '../../../src/index.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { basicLab } from '../../helpers/lab.js';
import { delNetns, ip, useNetns } from '../../helpers/netns.js';

const ns = useNetns(2);
let db: NetState | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

/** An `ip -batch` file of `count` route commands. */
function batchFile(lines: string[]): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nst-batch-'));
  const path = join(dir, 'b');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return { path, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function routeLines(cmd: string, count: number, table = 100): string[] {
  return Array.from(
    { length: count },
    (_, i) => `route ${cmd} 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 via 10.0.0.2 table ${table}`,
  );
}

describe('resync', () => {
  it('recovers from an overrun (ENOBUFS): a resync event, then the store equals the kernel', async () => {
    basicLab(ns.name);
    // A receive buffer this small cannot hold the notifications of the storm below.
    db = await NetState.open({ netns: ns.name, eventBuffer: 4096 });
    const resynced = firstValueFrom(
      db.events$.pipe(
        filter((e: StoreEvent) => e.kind === 'netns' && e.action === 'resync'),
        timeout(20_000),
      ),
    );
    const add = batchFile(routeLines('add', 20_000));
    const del = batchFile(routeLines('del', 5_000));
    try {
      execFileSync('ip', ['-n', ns.name, '-batch', add.path]);
      execFileSync('ip', ['-n', ns.name, '-batch', del.path]);
    } finally {
      add.done();
      del.done();
    }
    await resynced;
    await db.waitFor('route', { dst: '10.100.78.31/32', table: 100 }); // the last one added
    expect(db.resyncCount(ns.name)).toBeGreaterThan(0);
    await expectStoreMatchesKernel(db, ns.name, 10_000);
    expect(db.routes.count({ table: 100 })).toBe(15_001); // and the lab's own 10.8.0.0/16
  });

  it('db.sync() after lost events resolves only once the resync has brought the store level', async () => {
    basicLab(ns.name);
    db = await NetState.open({ netns: ns.name, eventBuffer: 4096 });
    const add = batchFile(routeLines('add', 20_000));
    try {
      execFileSync('ip', ['-n', ns.name, '-batch', add.path]);
    } finally {
      add.done();
    }
    // No waitFor: the barrier alone must leave every route in the store.
    await db.sync();
    expect(db.resyncCount(ns.name)).toBeGreaterThan(0);
    expect(db.routes.count({ table: 100 })).toBe(20_001); // and the lab's own 10.8.0.0/16
    await expectStoreMatchesKernel(db, ns.name, 10_000);
  });

  it('a notification longer than any dump part (a route of 2100 nexthops, 34 KB) reaches the store, no resync', async () => {
    // Notifications are read many per call into fixed slots: a slot must hold what a single
    // recv did. (The kernel cannot dump this route at all: ip route show fails with EMSGSIZE.)
    ip(ns.name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip(ns.name, 'link', 'set', 'v0', 'up');
    ip(ns.name, 'addr', 'add', '10.0.0.1/16', 'dev', 'v0');
    db = await NetState.open({ netns: ns.name });
    const multipath = Array.from({ length: 2100 }, (_, i) => ({ gateway: `10.0.${(i >> 8) + 1}.${i & 255}`, dev: 'v0' }));
    const nl = await Rtnl.open({ netns: ns.name });
    try {
      await nl.route('add', { dst: '10.99.0.0/16', multipath });
    } finally {
      nl.close();
    }
    await db.sync();
    expect(db.resyncCount(ns.name)).toBe(0);
    const route = db.routes.get({ dst: '10.99.0.0/16' });
    expect(route?.multipath).toHaveLength(2100);
  });

  it('an explicit resync finds nothing to change when nothing was lost', async () => {
    basicLab(ns.name);
    db = await NetState.open({ netns: ns.name });
    const seen: StoreEvent[] = [];
    db.events$.subscribe((e) => seen.push(e));
    await db.resync(ns.name);
    expect(seen.filter((e) => e.kind !== 'netns' && e.kind !== 'neighbour')).toEqual([]);
    expect(seen.at(-1)).toEqual({ kind: 'netns', action: 'resync', netns: ns.name });
    await expectStoreMatchesKernel(db, ns.name);
  });

  it('loads correctly while another process changes the tables (interrupted dumps are retried)', async () => {
    basicLab(ns.name);
    // Address dumps check consistency: many addresses (a dump of several datagrams) and a
    // storm of changes during the load make the kernel mark them NLM_F_DUMP_INTR.
    const existing = batchFile(Array.from({ length: 5_000 }, (_, i) => `addr add 10.200.${i >> 8}.${i & 255}/32 dev v1`));
    const storm = batchFile(Array.from({ length: 10_000 }, (_, i) => `addr add 10.201.${i >> 8}.${i & 255}/32 dev v1`));
    const watcher = await Rtnl.open({ netns: ns.name });
    try {
      execFileSync('ip', ['-n', ns.name, '-batch', existing.path]);
      const started = firstValueFrom(
        watcher.events$.pipe(
          filter((e) => e.object === 'address'),
          timeout(5000),
        ),
      );
      const running = execFileAsync('ip', ['-n', ns.name, '-batch', storm.path]);
      await started;
      db = await NetState.open({ netns: ns.name });
      await running;
    } finally {
      watcher.close();
      existing.done();
      storm.done();
    }
    expect(db.stats()[0]?.interruptedDumps).toBeGreaterThan(0);
    await expectStoreMatchesKernel(db, ns.name, 20_000);
    expect(db.addresses.count({ ifname: 'v1', family: 'inet' })).toBe(15_000);
  });
});

describe('namespaces', () => {
  it('a link moved between two followed namespaces leaves one and appears in the other, with a new index', async () => {
    const [a, b] = ns.names as [string, string];
    basicLab(a);
    ip(b, 'link', 'add', 'pad0', 'type', 'veth', 'peer', 'name', 'pad1'); // so v0 cannot keep its index there
    db = await NetState.open({ netns: [a, b] });
    ip(a, 'link', 'set', 'v0', 'netns', b);
    const moved = await db.waitFor('interface', { ifname: 'v0', netns: b });
    expect(db.interfaces.get({ ifname: 'v0', netns: a })).toBeUndefined();
    expect(moved?.index).toBeGreaterThan(0);
    expect(db.routes.list({ netns: a, gateway: '10.0.0.2' })).toEqual([]);
    await expectStoreMatchesKernel(db, a);
    await expectStoreMatchesKernel(db, b);
  });

  it('a namespace that disappears is dropped from the store, with an event', async () => {
    const [a, b] = ns.names as [string, string];
    basicLab(a);
    db = await NetState.open({ netns: [a, b] });
    const gone = firstValueFrom(
      db.events$.pipe(
        filter((e) => e.kind === 'netns' && e.action === 'remove'),
        timeout(5000),
      ),
    );
    delNetns(b);
    expect(await gone).toEqual({ kind: 'netns', action: 'remove', netns: b });
    expect(db.followed).toEqual([a]);
    expect(db.interfaces.list({ netns: b })).toEqual([]);
    await expectStoreMatchesKernel(db, a);
  });
});

function execFileAsync(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    import('node:child_process').then(({ execFile }) => execFile(cmd, args, (err) => (err ? reject(err) : resolve())));
  });
}
