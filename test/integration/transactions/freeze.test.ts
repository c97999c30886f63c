/** Freeze: outside changes to a frozen interface are reverted as soon as their events arrive. */
import { execFileSync } from 'node:child_process';
import { filter, firstValueFrom, take, timeout } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { NetStateError } from '../../../src/index.js';
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
});
