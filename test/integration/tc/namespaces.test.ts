/**
 * Traffic control and namespaces: a link shaped and forwarding in a
 * namespace made by the same commit (the first shape of this file's process:
 * the netem question is asked before that namespace exists), and namespaces
 * that go away with shaped and forwarding links, leaving no qdisc or filter
 * record behind, whether netstate removes them or someone else does.
 */
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listNetns, NetState } from '../../../src/index.js';
import { addNetns, delNetns, freshName, ip, useNetns } from '../../helpers/netns.js';
import { filtersFromStore, filtersFromTc, qdiscsFromStore, qdiscsFromTc, rootFromTc } from './tc-view.js';

/** [followed, a host namespace holding a peer]. */
const ns = useNetns(2);
const made: string[] = [];
let db: NetState;

beforeEach(async () => {
  db = await NetState.open({ netns: ns.name, journal: false });
});

afterEach(async () => {
  await db?.close();
  for (const n of made.splice(0)) delNetns(n);
});

describe('a namespace made in the same commit', () => {
  it('has its links shaped and forwarding once they exist', async () => {
    const x = freshName('x');
    made.push(x);
    const tx = db.begin();
    tx.addNamespace(x);
    tx.create({ kind: 'veth', ifname: 'a0', netns: x, peer: { ifname: 'a1', netns: x } })
      .up()
      .shape({ rate: '5mbit' })
      .forwardTo('a1');
    tx.interface('a1', { netns: x }).up();
    await tx.commit();
    expect(rootFromTc(x, 'a0')).toMatchObject({ kind: 'tbf', options: { rate: 625_000 } });
    expect(filtersFromTc(x, ['a0'])).toEqual(['a0 ingress all 49152 800::800 -> a1']);
    await db.sync();
    expect(qdiscsFromStore(db, x)).toEqual(qdiscsFromTc(x));
    expect(filtersFromStore(db, x)).toEqual(filtersFromTc(x, ['a0', 'a1']));
  });
});

/** A followed namespace with a shaped link forwarding to another, and the other forwarding back. */
async function shapedAndForwarding(where: string): Promise<void> {
  ip(where, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'a1');
  await db.sync();
  const tx = db.begin();
  tx.interface('a0', { netns: where }).up().shape({ rate: '10mbit' }).forwardTo('a1');
  tx.interface('a1', { netns: where }).up().shape({ limit: 30 }).forwardTo('a0');
  await tx.commit();
  expect(db.qdiscs.list({ netns: where })).toHaveLength(4 + 1); // two roots, two ingress, lo's default
  expect(db.filters.list({ netns: where })).toHaveLength(2);
}

describe('a namespace removed with its links leaves no qdisc or filter record', () => {
  it.each([
    ['removed by a commit (tx.removeNamespace)', 'commit'],
    ['removed by someone else (ip netns del)', 'outside'],
  ])('%s', async (_t, how) => {
    const y = freshName('y');
    made.push(y);
    addNetns(y);
    await db.follow(y);
    await shapedAndForwarding(y);
    if (how === 'commit') {
      await db.begin().removeNamespace(y).commit();
    } else {
      const gone = firstValueFrom(
        db.events$.pipe(
          filter((e) => e.kind === 'netns' && e.action === 'remove' && e.netns === y),
          timeout(5000),
        ),
      );
      delNetns(y);
      await gone;
    }
    expect(listNetns()).not.toContain(y);
    expect(db.qdiscs.list({ netns: y })).toEqual([]);
    expect(db.filters.list({ netns: y })).toEqual([]);
    expect(db.qdiscs.list().filter((q) => q.netns === y)).toEqual([]);
    expect(db.filters.list().filter((f) => f.netns === y)).toEqual([]);
    // The followed namespace is untouched, and still agrees with tc.
    expect(qdiscsFromStore(db, ns.name)).toEqual(qdiscsFromTc(ns.name));
  });

  it('a peer namespace removed takes the shaped end with it; a forward aimed at it points nowhere', async () => {
    const [mid, host] = ns.names as [string, string];
    ip(mid, 'link', 'add', 'a1', 'type', 'veth', 'peer', 'name', 'p0', 'netns', host);
    ip(mid, 'link', 'add', 'b1', 'type', 'veth', 'peer', 'name', 'b2');
    await db.sync();
    const tx = db.begin();
    tx.interface('a1').up().shape({ rate: '10mbit' }).forwardTo('b1');
    tx.interface('b1').up().forwardTo('a1');
    tx.interface('b2').up();
    await tx.commit();
    const a1 = db.interfaces.get('a1')?.index;
    delNetns(host);
    await db.waitFor('interface', { ifname: 'a1' }, { absent: true, timeout: 5000 });
    await db.sync();
    expect(db.qdiscs.list({ index: a1 })).toEqual([]);
    expect(db.filters.list({ index: a1 })).toEqual([]);
    expect(qdiscsFromStore(db, mid)).toEqual(qdiscsFromTc(mid));
    expect(filtersFromStore(db, mid)).toEqual(filtersFromTc(mid, ['b1', 'b2']));
    expect(filtersFromTc(mid, ['b1'])).toEqual(['b1 ingress all 49152 800::800 -> *']);
    // The forward to nowhere can still be cleared.
    await db.interfaces.edit('b1', (i) => i.clearForward());
    expect(filtersFromTc(mid, ['b1'])).toEqual([]);
    expect(db.filters.list()).toEqual([]);
  });
});
