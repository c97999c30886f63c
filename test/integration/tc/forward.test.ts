/**
 * forwardTo() and clearForward() against the kernel (DummyNet's forward: an
 * ingress qdisc, a u32 match-all filter, a mirred egress redirect).
 *
 * Topology: two hosts, each in a namespace of its own, wired to a middle
 * namespace the store follows (h1:p0 <-> mid:a1, h2:p0 <-> mid:b1). The middle
 * namespace has no bridge and no addresses: traffic between the hosts gets
 * through only because whatever arrives on a1 leaves through b1 and back.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { echo } from '../../../src/backends/icmp.js';
import { NetState, TcError, TimeoutError, TransactionError } from '../../../src/index.js';
import { ip, ipJson, tcJson, useNetns } from '../../helpers/netns.js';
import { filtersFromStore, filtersFromTc, qdiscsFromStore, qdiscsFromTc, tc } from './tc-view.js';

const ns = useNetns(3);
let db: NetState;
const mid = () => ns.names[0] as string;
const h1 = () => ns.names[1] as string;
const h2 = () => ns.names[2] as string;

beforeEach(async () => {
  // No IPv6: links send nothing of their own (DAD, router solicitations, MLD), so counters count only what a test sends.
  for (const n of ns.names) {
    execFileSync('ip', [
      'netns',
      'exec',
      n,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    ]);
  }
  ip(mid(), 'link', 'add', 'a1', 'type', 'veth', 'peer', 'name', 'p0', 'netns', h1());
  ip(mid(), 'link', 'add', 'b1', 'type', 'veth', 'peer', 'name', 'p0', 'netns', h2());
  ip(mid(), 'link', 'add', 'c1', 'type', 'veth', 'peer', 'name', 'c2');
  for (const dev of ['a1', 'b1', 'c1', 'c2']) ip(mid(), 'link', 'set', dev, 'up');
  ip(h1(), 'addr', 'add', '10.0.0.1/24', 'dev', 'p0');
  ip(h2(), 'addr', 'add', '10.0.0.2/24', 'dev', 'p0');
  ip(h1(), 'link', 'set', 'p0', 'up');
  ip(h2(), 'link', 'set', 'p0', 'up');
  db = await NetState.open({ netns: mid() });
});

afterEach(async () => {
  await db?.close();
});

/** Packets the forward filter of `dev` redirected, per `tc -s -j filter`. */
function redirected(dev: string): number {
  const f = tcJson(mid(), '-s', 'filter', 'show', 'dev', dev, 'ingress').find((x) =>
    (x as { options?: { fh?: string } }).options?.fh?.includes('::'),
  ) as { options: { actions: { stats: { packets: number } }[] } } | undefined;
  return f?.options.actions[0]?.stats.packets ?? 0;
}

function storeMatchesTc(): void {
  expect(qdiscsFromStore(db, mid())).toEqual(qdiscsFromTc(mid()));
  expect(filtersFromStore(db, mid())).toEqual(filtersFromTc(mid(), ['a1', 'b1', 'c1', 'c2']));
}

describe('forward', () => {
  it('a ping from one host reaches the other through two forwards, and stops when they go', async () => {
    await expect(echo(h1(), '10.0.0.2', { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
    const tx = db.begin();
    tx.interface('a1').forwardTo('b1');
    tx.interface('b1').forwardTo('a1');
    expect(tx.review().interfaces).toEqual({
      a1: { forward: { from: null, to: 'b1' } },
      b1: { forward: { from: null, to: 'a1' } },
    });
    await tx.commit();

    expect(await echo(h1(), '10.0.0.2', { timeout: 2000 })).toBeGreaterThanOrEqual(0);
    expect(redirected('a1')).toBeGreaterThan(0);
    expect(redirected('b1')).toBeGreaterThan(0);
    expect(db.qdiscs.get({ ifname: 'a1', parent: 'ingress' })).toMatchObject({ kind: 'ingress', forward: 'b1' });
    expect(db.filters.get('a1')).toMatchObject({ kind: 'u32', priority: 49152, protocol: 'all', forward: 'b1' });
    storeMatchesTc();

    const off = db.begin();
    off.interface('a1').clearForward();
    off.interface('b1').clearForward();
    await off.commit();
    expect(tcJson(mid(), 'qdisc', 'show', 'dev', 'a1', 'ingress')).toEqual([]);
    ip(h1(), 'neigh', 'flush', 'dev', 'p0');
    await expect(echo(h1(), '10.0.0.2', { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
    storeMatchesTc();
  });

  it('pointed elsewhere, the filter is replaced in place; a failed commit points it back', async () => {
    await db.interfaces.edit('a1', (i) => i.forwardTo('b1'));
    const before = filtersFromTc(mid(), ['a1']);
    const tx = db.begin();
    tx.interface('a1').forwardTo('c1');
    tx.addRoute({ dst: '10.9.0.0/16', gateway: '10.99.0.1' });
    const err = (await tx.commit().catch((e: unknown) => e)) as TransactionError;
    expect(err).toBeInstanceOf(TransactionError);
    // The kernel announces a replaced u32 filter with its old content: the store must have asked again.
    expect(err.notRolledBack).toEqual([]);
    expect(filtersFromTc(mid(), ['a1'])).toEqual(before);
    storeMatchesTc();

    await db.interfaces.edit('a1', (i) => i.forwardTo('c1'));
    expect(filtersFromTc(mid(), ['a1'])).toEqual([before[0]?.replace('-> b1', '-> c1')]);
    storeMatchesTc();
  });

  it('a failed commit removes the ingress qdisc it added', async () => {
    const before = tcJson(mid(), 'qdisc', 'show');
    const tx = db.begin();
    tx.interface('a1').forwardTo('b1').shape({ rate: '10mbit' });
    tx.addRoute({ dst: '10.9.0.0/16', gateway: '10.99.0.1' });
    const err = (await tx.commit().catch((e: unknown) => e)) as TransactionError;
    expect(err).toBeInstanceOf(TransactionError);
    expect(err.notRolledBack).toEqual([]);
    expect(tcJson(mid(), 'qdisc', 'show')).toEqual(before);
    storeMatchesTc();
  });

  it('a failed commit puts back the forward a clearForward removed', async () => {
    await db.interfaces.edit('a1', (i) => i.forwardTo('b1'));
    const before = { q: tcJson(mid(), 'qdisc', 'show'), f: filtersFromTc(mid(), ['a1']) };
    const tx = db.begin();
    tx.interface('a1').clearForward();
    tx.addRoute({ dst: '10.9.0.0/16', gateway: '10.99.0.1' });
    await expect(tx.commit()).rejects.toBeInstanceOf(TransactionError);
    expect({ q: tcJson(mid(), 'qdisc', 'show'), f: filtersFromTc(mid(), ['a1']) }).toEqual(before);
  });

  it('clearForward where there is none does nothing', async () => {
    tc(mid(), 'qdisc', 'add', 'dev', 'c1', 'ingress'); // an empty ingress qdisc of someone else's stays
    await db.sync();
    const tx = db.begin();
    tx.interface('a1').clearForward();
    tx.interface('c1').clearForward();
    expect(tx.review().interfaces).toEqual({});
    expect((await tx.commit()).applied).toEqual([]);
    expect(db.qdiscs.get({ ifname: 'c1', parent: 'ingress' })).toBeDefined();
  });

  it('an ingress netstate did not make is refused: clsact, or filters of others', async () => {
    tc(mid(), 'qdisc', 'add', 'dev', 'c1', 'clsact');
    tc(mid(), 'qdisc', 'add', 'dev', 'c2', 'ingress');
    tc(
      mid(),
      ...'filter add dev c2 parent ffff: protocol ip prio 3 u32 match u32 0x0a000001 0xffffffff at 16 action mirred egress redirect dev a1'.split(
        ' ',
      ),
    );
    await db.sync();
    const tx = db.begin();
    expect(() => tx.interface('c1').forwardTo('b1')).toThrow(TcError);
    expect(() => tx.interface('c2').forwardTo('b1')).toThrow(/filter/);
    expect(() => tx.interface('c2').clearForward()).toThrow(TcError);
  });
});

/** Packets a link sent or received, per `ip -s -j link`. */
function packets(where: string, dev: string, dir: 'tx' | 'rx'): number {
  const [link] = ipJson<{ stats64: Record<'tx' | 'rx', { packets: number }> }[]>(where, '-s', 'link', 'show', 'dev', dev);
  return link?.stats64[dir].packets ?? 0;
}

const SENT = 20;

/** SENT UDP datagrams from h1 to h2's address (its MAC known statically: no ARP), from a process inside h1. */
function sendFromH1(): void {
  const js = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>s.send(Buffer.alloc(32),9,'10.0.0.2',()=>++n<${SENT}?go():s.close());go();`;
  execFileSync('ip', ['netns', 'exec', h1(), process.execPath, '-e', js]);
}

/** What each link of the middle namespace (and h2) counted while SENT datagrams went into a1. */
async function counted(): Promise<Record<string, number>> {
  const read = () => ({
    a1: packets(mid(), 'a1', 'rx'),
    b1: packets(mid(), 'b1', 'tx'),
    c1: packets(mid(), 'c1', 'tx'),
    h2: packets(h2(), 'p0', 'rx'),
  });
  const before = read();
  sendFromH1();
  // Counters have no event: read until a1 has them all (the datagrams are on their way once the sender exits).
  const deadline = Date.now() + 2000;
  let after = read();
  while (after.a1 - before.a1 < SENT && Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
    after = read();
  }
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
}

describe('forward, counted: datagrams sent into a1 leave through the forward target', () => {
  beforeEach(() => {
    const mac = ipJson<{ address: string }[]>(h2(), 'link', 'show', 'p0')[0]?.address as string;
    ip(h1(), 'neigh', 'replace', '10.0.0.2', 'lladdr', mac, 'dev', 'p0', 'nud', 'permanent');
  });

  const failing = { dst: '10.9.0.0/16', gateway: '10.99.0.1' };
  it.each([
    ['no forward: they stop at a1', async () => undefined, { b1: 0, c1: 0, h2: 0 }],
    [
      'a1 forwards to b1: all of them leave b1 and reach h2',
      () => db.interfaces.edit('a1', (i) => i.forwardTo('b1')),
      { b1: SENT, c1: 0, h2: SENT },
    ],
    [
      'pointed at c1 instead: c1 carries them, b1 none',
      async () => {
        await db.interfaces.edit('a1', (i) => i.forwardTo('b1'));
        await db.interfaces.edit('a1', (i) => i.forwardTo('c1'));
      },
      { b1: 0, c1: SENT, h2: 0 },
    ],
    [
      'cleared again: they stop at a1',
      async () => {
        await db.interfaces.edit('a1', (i) => i.forwardTo('b1'));
        await db.interfaces.edit('a1', (i) => i.clearForward());
      },
      { b1: 0, c1: 0, h2: 0 },
    ],
    [
      'a failed commit that added it: rolled back, they stop at a1',
      async () => {
        const tx = db.begin();
        tx.interface('a1').forwardTo('b1');
        tx.addRoute(failing);
        await expect(tx.commit()).rejects.toBeInstanceOf(TransactionError);
      },
      { b1: 0, c1: 0, h2: 0 },
    ],
    [
      'a failed commit that pointed it elsewhere: back to b1',
      async () => {
        await db.interfaces.edit('a1', (i) => i.forwardTo('b1'));
        const tx = db.begin();
        tx.interface('a1').forwardTo('c1');
        tx.addRoute(failing);
        await expect(tx.commit()).rejects.toBeInstanceOf(TransactionError);
      },
      { b1: SENT, c1: 0, h2: SENT },
    ],
  ])('%s', async (_t, stage, expected) => {
    await stage();
    expect(await counted()).toEqual({ a1: SENT, ...expected });
    if (expected.b1 || expected.c1) expect(redirected('a1')).toBe(SENT);
    storeMatchesTc();
  });
});
