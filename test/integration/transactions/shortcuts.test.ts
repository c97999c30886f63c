/** interfaces.edit, db.create, explicit mode, readonly views. */
import { describe, expect, it } from 'vitest';
import { NetState, NetStateError, ValidationError } from '../../../src/index.js';
import { expectStoreMatchesKernel, viewFromIproute2 } from '../../helpers/kernel-view.js';
import { useLabStore } from '../../helpers/lab.js';
import { ipJson } from '../../helpers/netns.js';

const lab = useLabStore();
const ns = lab.ns;

describe('shortcuts', () => {
  it('interfaces.edit stages and commits in one call', async () => {
    const report = await lab.db.interfaces.edit('v0', (i) => i.addIp('10.0.3.1/24').set({ mtu: 1450 }));
    expect(report.applied).toEqual(expect.arrayContaining(['add 10.0.3.1/24 to v0']));
    expect(ipJson<{ mtu: number }[]>(ns.name, 'link', 'show', 'v0')[0]?.mtu).toBe(1450);
    await expectStoreMatchesKernel(lab.db, ns.name);
  });

  it('interfaces.edit drops everything when the function throws', async () => {
    const before = viewFromIproute2(ns.name, false);
    await expect(
      lab.db.interfaces.edit('v0', (i) => {
        i.set({ mtu: 1300 });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    await expect(lab.db.interfaces.edit('v0', (i) => i.addIp('bad'))).rejects.toThrow(ValidationError);
    expect(viewFromIproute2(ns.name, false)).toEqual(before);
  });

  it('db.create returns a staged interface with commit()', async () => {
    await lab.db.create({ kind: 'bridge', ifname: 'br7' }).up().commit();
    expect(lab.db.interfaces.get('br7')).toMatchObject({ kind: 'bridge', state: 'up' });
    await expectStoreMatchesKernel(lab.db, ns.name);
  });
});

describe('modes and views', () => {
  it('explicit mode refuses a change outside a transaction; begin() still works', async () => {
    const strict = await NetState.open({ netns: ns.name, mode: 'explicit' });
    try {
      expect(() => strict.create({ kind: 'bridge', ifname: 'br8' })).toThrow(/explicit mode/);
      await expect(strict.interfaces.edit('v0', (i) => i.up())).rejects.toThrow(/explicit mode/);
      const tx = strict.begin();
      tx.create({ kind: 'bridge', ifname: 'br8' });
      await tx.commit();
      expect(strict.interfaces.get('br8')).toBeDefined();
    } finally {
      await strict.close();
    }
    await expect(NetState.open({ netns: ns.name, mode: 'lax' as 'explicit' })).rejects.toThrow(ValidationError);
  });

  it('a read-only view reads the same and refuses every change', async () => {
    const ro = lab.db.readonly();
    expect(ro.interfaces.get('v0')).toEqual(lab.db.interfaces.get('v0'));
    expect(ro.routes.count({ table: 100 })).toBe(1);
    expect(() => ro.begin()).toThrow(NetStateError);
    expect(() => ro.create({ kind: 'bridge', ifname: 'x' })).toThrow(/read-only/);
    expect(() => (ro.interfaces as unknown as { edit: () => void }).edit()).toThrow(/read-only/);
    expect(ro.dump()).toEqual(lab.db.dump());
  });
});
