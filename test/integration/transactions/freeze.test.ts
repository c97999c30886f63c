/** Freeze: outside changes to a frozen interface, route or rule are reverted as soon as their events arrive. */
import { execFileSync } from 'node:child_process';
import { filter, firstValueFrom, take, timeout } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { NetStateError, ValidationError } from '../../../src/index.js';
import { expectStoreMatchesKernel, viewFromIproute2 } from '../../helpers/kernel-view.js';
import { useLabStore } from '../../helpers/lab.js';
import { ip } from '../../helpers/netns.js';

const lab = useLabStore({
  // No DAD: link-local addresses and their routes settle at once, so "before" is stable.
  before: (name) =>
    execFileSync('ip', [
      'netns',
      'exec',
      name,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.accept_dad=0',
    ]),
});
const ns = lab.ns;

/** What a freeze of v0 pins, as iproute2 shows it (neighbours are not pinned). */
function pinnedView(): Omit<ReturnType<typeof viewFromIproute2>, 'neighbours'> {
  const { neighbours: _n, ...rest } = viewFromIproute2(ns.name, false);
  return rest;
}

/** Waits until the kernel is back to `before`, re-checking on each store event. */
async function backTo(before: ReturnType<typeof pinnedView>): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (JSON.stringify(pinnedView()) === JSON.stringify(before)) return;
    await firstValueFrom(lab.db.events$.pipe(timeout({ first: 200, with: () => [undefined] })), { defaultValue: undefined });
  }
  expect(pinnedView()).toEqual(before);
}

describe('freeze', () => {
  it('reverts an added address, a removed one (with its routes), a link set down, and reports each', async () => {
    const frozen = lab.db.interfaces.freeze('v0');
    const before = pinnedView();
    const reverts = frozen.reverts$.pipe(take(1), timeout(5000));

    const first = firstValueFrom(reverts);
    ip(ns.name, 'addr', 'add', '10.0.77.1/24', 'dev', 'v0');
    expect((await first).review.v0).toMatchObject({ '-ipaddr': ['10.0.77.1/24'] });
    await backTo(before);

    ip(ns.name, 'addr', 'del', '10.0.0.1/24', 'dev', 'v0'); // takes 10.9.0.0/16 via 10.0.0.2 with it
    await backTo(before);

    ip(ns.name, 'link', 'set', 'v0', 'down');
    await backTo(before);
    await expectStoreMatchesKernel(lab.db, ns.name);
    frozen.release();
  });

  it('recreates a deleted frozen bridge', async () => {
    await lab.db.create({ kind: 'bridge', ifname: 'brf' }).up().addIp('10.50.0.1/24').commit();
    const frozen = lab.db.interfaces.freeze('brf');
    const before = pinnedView();
    ip(ns.name, 'link', 'del', 'brf');
    const revert = await firstValueFrom(
      frozen.reverts$.pipe(
        filter((r) => r.applied.includes('create bridge brf')),
        timeout(5000),
      ),
    );
    expect(revert.error).toBeUndefined();
    // A new link (new index), with what was pinned.
    expect(lab.db.interfaces.get('brf')).toMatchObject({
      kind: 'bridge',
      state: 'up',
      ipaddr: expect.arrayContaining(['10.50.0.1/24']),
    });
    expect(lab.db.routes.get('10.50.0.0/24')).toBeDefined();
    frozen.release();
    await expectStoreMatchesKernel(lab.db, ns.name);
    void before;
  });

  it('holds under a stream of outside changes', async () => {
    const frozen = lab.db.interfaces.freeze('v0');
    const before = pinnedView();
    const reverts: { error?: Error }[] = [];
    frozen.reverts$.subscribe((r) => reverts.push(r));
    for (let i = 0; i < 20; i++) {
      ip(ns.name, 'addr', 'add', `10.0.${100 + i}.1/24`, 'dev', 'v0');
      if (i % 5 === 0) ip(ns.name, 'link', 'set', 'v0', 'mtu', String(1400 + i));
    }
    await backTo(before);
    await frozen.settled();
    frozen.release();
    expect(reverts.length).toBeGreaterThan(0);
    expect(reverts.every((r) => r.error === undefined)).toBe(true);
    await expectStoreMatchesKernel(lab.db, ns.name);
  });

  it('freezing twice throws; release and unfreeze end it', async () => {
    const frozen = lab.db.interfaces.freeze('v0');
    expect(() => lab.db.interfaces.freeze('v0')).toThrow(NetStateError);
    frozen.release();
    const again = lab.db.interfaces.freeze('v0');
    lab.db.interfaces.unfreeze('v0');
    expect(() => lab.db.interfaces.unfreeze('v0')).toThrow(/not frozen/);
    ip(ns.name, 'link', 'set', 'v0', 'mtu', '1300');
    await lab.db.waitFor('interface', { ifname: 'v0', mtu: 1300 });
    void again;
  });

  it('a frozen route: a changed gateway is put back, a deleted route comes back, an unrelated route is left alone', async () => {
    ip(ns.name, 'route', 'add', '10.0.0.0/8', 'via', '10.0.0.3', 'metric', '50');
    await lab.db.waitFor('route', { dst: '10.0.0.0/8', priority: 50 });
    const frozen = lab.db.routes.freeze({ dst: '10.0.0.0/8', priority: 50 });
    const pinned = () => JSON.parse(ip(ns.name, '-j', 'route', 'show', '10.0.0.0/8', 'metric', '50'));
    const before = pinned();
    expect(before).toMatchObject([{ dst: '10.0.0.0/8', gateway: '10.0.0.3' }]);

    const changed = firstValueFrom(frozen.reverts$.pipe(take(1), timeout(5000)));
    ip(ns.name, 'route', 'replace', '10.0.0.0/8', 'via', '10.0.0.4', 'metric', '50');
    expect((await changed).review['10.0.0.0/8 metric 50']).toEqual({ gateway: '10.0.0.3' });
    await frozen.settled();
    await lab.db.waitFor('route', { dst: '10.0.0.0/8', priority: 50, gateway: '10.0.0.3' });
    expect(pinned()).toEqual(before);

    const deleted = firstValueFrom(frozen.reverts$.pipe(take(1), timeout(5000)));
    ip(ns.name, 'route', 'del', '10.0.0.0/8', 'metric', '50');
    expect((await deleted).applied).toEqual(['add route 10.0.0.0/8']);
    expect(pinned()).toEqual(before);

    // Not pinned: another route may change freely.
    ip(ns.name, 'route', 'del', '10.9.0.0/16');
    await lab.db.waitFor('route', '10.9.0.0/16', { absent: true });
    await frozen.settled();
    expect(lab.db.routes.get('10.9.0.0/16')).toBeUndefined();

    lab.db.routes.unfreeze({ dst: '10.0.0.0/8', priority: 50 });
    expect(() => lab.db.routes.unfreeze('10.0.0.0/8')).toThrow(/no frozen route/);
    await expectStoreMatchesKernel(lab.db, ns.name);
  });

  it('a frozen rule is put back when deleted; freezing it twice throws', async () => {
    ip(ns.name, 'rule', 'add', 'from', '10.7.0.0/16', 'lookup', '100', 'priority', '1000');
    await lab.db.waitFor('rule', { priority: 1000 });
    const frozen = lab.db.rules.freeze(1000);
    expect(() => lab.db.rules.freeze(1000)).toThrow(/frozen already/);
    const before = ip(ns.name, '-j', 'rule', 'show');

    const revert = firstValueFrom(frozen.reverts$.pipe(take(1), timeout(5000)));
    ip(ns.name, 'rule', 'del', 'priority', '1000');
    const r = await revert;
    expect(r.error).toBeUndefined();
    expect(r.applied).toEqual(['add rule 1000']);
    await lab.db.waitFor('rule', { priority: 1000 });
    expect(ip(ns.name, '-j', 'rule', 'show')).toEqual(before);

    lab.db.rules.unfreeze(1000);
    ip(ns.name, 'rule', 'del', 'priority', '1000');
    await lab.db.waitFor('rule', { priority: 1000 }, { absent: true });
    await expectStoreMatchesKernel(lab.db, ns.name);
  });

  it('refuses to freeze what is not there', () => {
    expect(() => lab.db.routes.freeze('10.99.0.0/16')).toThrow(ValidationError);
    expect(() => lab.db.rules.freeze(4242)).toThrow(ValidationError);
    expect(() => lab.db.interfaces.freeze('nope0')).toThrow(ValidationError);
  });
});
