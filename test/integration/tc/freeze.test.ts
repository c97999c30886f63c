/**
 * A frozen interface keeps its traffic control: whatever someone else does
 * with `tc` to its root qdisc or its forward is put back as soon as the
 * kernel's event arrives, as `tc -j` shows it before.
 */
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetState } from '../../../src/index.js';
import { ip, tcJson, useNetns } from '../../helpers/netns.js';
import { filtersFromStore, filtersFromTc, qdiscsFromStore, qdiscsFromTc, tc } from './tc-view.js';

const ns = useNetns();
let db: NetState;
const DEVS = ['v0', 'v1', 'c1', 'c2'];

beforeEach(async () => {
  ip(ns.name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
  ip(ns.name, 'link', 'add', 'c1', 'type', 'veth', 'peer', 'name', 'c2');
  for (const d of DEVS) ip(ns.name, 'link', 'set', d, 'up');
  db = await NetState.open({ netns: ns.name });
});

afterEach(async () => {
  await db?.close();
});

/** What a freeze of v0 keeps, as tc shows it: its root (handle, kind, options) and its ingress filters. */
function view(): unknown {
  const root = tcJson(ns.name, 'qdisc', 'show', 'dev', 'v0').filter((q) => q.root || q.parent === 'ffff:fff1');
  return { root: root.map(({ refcnt: _r, ...q }) => q), filters: filtersFromTc(ns.name, ['v0']) };
}

/** Waits (on store events, never a sleep) until tc shows `before` again. */
async function backTo(before: unknown): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (JSON.stringify(view()) === JSON.stringify(before)) return;
    await firstValueFrom(db.events$.pipe(timeout({ first: 200, with: () => [undefined] })), { defaultValue: undefined });
  }
  expect(view()).toEqual(before);
}

const outside =
  (...cmds: string[][]) =>
  () => {
    for (const c of cmds) tc(ns.name, ...c);
  };
const words = (s: string) => s.split(' ');

describe('a frozen interface keeps its traffic control', () => {
  it.each([
    ['its shaping, deleted (tc qdisc del)', 'shape', outside(words('qdisc del dev v0 root'))],
    [
      'its shaping, changed in place (another rate)',
      'shape',
      outside(words('qdisc change dev v0 root tbf rate 1mbit burst 10kb latency 50ms')),
    ],
    ['its shaping, replaced by another kind', 'shape', outside(words('qdisc replace dev v0 root pfifo limit 10'))],
    [
      'its default root, given a tbf by someone',
      'none',
      outside(words('qdisc add dev v0 root tbf rate 1mbit burst 10kb latency 50ms')),
    ],
    ['its forward, its ingress qdisc deleted', 'forward', outside(words('qdisc del dev v0 ingress'))],
    ['its forward, the filter deleted', 'forward', outside(words('filter del dev v0 parent ffff: protocol all prio 49152'))],
    [
      'its forward, pointed elsewhere (announced with the old target)',
      'forward',
      outside(
        words(
          'filter replace dev v0 parent ffff: protocol all prio 49152 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev c2',
        ),
      ),
    ],
    [
      'no forward, given one by someone',
      'none',
      outside(
        words('qdisc add dev v0 ingress'),
        words('filter add dev v0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev c1'),
      ),
    ],
  ])('%s', async (_t, setup, change) => {
    if (setup === 'shape') await db.interfaces.edit('v0', (i) => i.shape({ rate: '10mbit' }));
    if (setup === 'forward') await db.interfaces.edit('v0', (i) => i.forwardTo('c1'));
    const before = view();
    const frozen = db.interfaces.freeze('v0');
    const reverted = firstValueFrom(
      frozen.reverts$.pipe(
        filter((r) => r.applied.length > 0),
        timeout(5000),
      ),
    );
    change();
    const revert = await reverted;
    expect(revert.error).toBeUndefined();
    await backTo(before);
    await db.sync();
    expect(qdiscsFromStore(db, ns.name)).toEqual(qdiscsFromTc(ns.name));
    expect(filtersFromStore(db, ns.name)).toEqual(filtersFromTc(ns.name, DEVS));
    frozen.release();
  });
});
