import { existsSync, statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SwitchRecord } from '../../../src/db/switches.js';
import { cgroupList, listNetns, NetState, TransactionError } from '../../../src/index.js';
import type { Transaction } from '../../../src/transactions/transaction.js';
import { listeners, STANDIN } from '../../helpers/bmv2-standin.js';
import { delNetns, freshName } from '../../helpers/netns.js';
import { dead, netnsPids } from '../../helpers/proc.js';
import { ownCgroup, useRuntimeCleanup } from '../../helpers/runtime.js';

function ourSwitchCgroups(): string[] {
  return cgroupList()
    .map((c) => c.name)
    .filter((n) => ownCgroup(n) && n.includes('-sw-'));
}

describe('switches in namespaces a commit makes', () => {
  let db: NetState;
  let n: string;
  beforeEach(async () => {
    n = freshName('h');
    // The root namespace's store (nothing there is changed): addNamespace makes the new one followed.
    db = await NetState.open({ journal: false });
  });
  useRuntimeCleanup(() => (listNetns().includes(n) ? [n] : []));
  afterEach(async () => {
    await db.close();
    delNetns(n);
  });

  function stage(tx: Transaction): void {
    tx.addNamespace(n);
    tx.create({ kind: 'veth', ifname: 'p1', netns: n, peer: { ifname: 'q1', netns: n } }).up();
    tx.interface('q1', { netns: n }).up();
    tx.addSwitch({ name: 's1', netns: n, binary: STANDIN, noP4: true, ports: { 1: 'p1' }, thriftPort: 9501, grpcPort: 50501 });
  }

  it('tx.addSwitch in a namespace tx.addNamespace makes: started in it, after it and its ports', async () => {
    const tx = db.begin();
    stage(tx);
    // A switch of another namespace than the store's first is named with its namespace.
    expect(tx.review()).toMatchObject({
      namespaces: { [n]: { add: true } },
      switches: { [`${n}:s1`]: { start: true, netns: n, ports: { 1: 'p1' } } },
    });
    const report = await tx.commit();
    expect(report.applied[0]).toBe(`namespace ${n}: add`);
    expect(report.applied.at(-1)).toBe(`switch s1 in ${n}: start (ports 1@p1)`);
    const rec = db.switches.get({ netns: n, name: 's1' }) as SwitchRecord;
    expect(rec).toMatchObject({ state: 'running', netns: n });
    const pid = rec.pid as number;
    // Inside the new namespace: iproute2 lists it there, and its network namespace is that file's.
    expect(netnsPids(n)).toEqual([pid]);
    expect(statSync(`/proc/${pid}/ns/net`).ino).toBe(statSync(`/run/netns/${n}`).ino);
    expect(
      listeners(pid)
        .map((l) => l.port)
        .sort(),
    ).toEqual([50501, 9501]);
  });

  it('that commit rolled back: the switch killed, its cgroup gone, the namespace removed', async () => {
    const tx = db.begin();
    stage(tx);
    let pid = 0;
    tx.check(async () => {
      pid = db.switches.get({ netns: n, name: 's1' })?.pid as number;
      return false;
    });
    const e = (await tx.commit().catch((x) => x)) as TransactionError;
    expect(e).toBeInstanceOf(TransactionError);
    expect(e.rolledBack).toEqual(expect.arrayContaining([`switch s1 in ${n}: start (ports 1@p1)`, `namespace ${n}: add`]));
    expect(e.notRolledBack).toEqual([]);
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(listNetns()).not.toContain(n);
    expect(ourSwitchCgroups()).toEqual([]);
    expect(db.switches.list()).toEqual([]);
  });

  it('tx.removeNamespace takes its switch with it: killed, record and cgroup gone', async () => {
    const up = db.begin();
    stage(up);
    await up.commit();
    const pid = db.switches.get({ netns: n, name: 's1' })?.pid as number;
    const rm = db.begin();
    rm.removeNamespace(n);
    // The review names what goes with the namespace, the switch's process among them.
    expect(rm.review().namespaces?.[n]).toMatchObject({ remove: true, processes: [`${pid} (simple_switch_g)`] });
    await rm.commit();
    expect(dead(pid)).toBe(true);
    expect(listNetns()).not.toContain(n);
    await db.waitFor('switch', { netns: n, name: 's1' }, { absent: true });
    expect(ourSwitchCgroups()).toEqual([]);
  });
});
