/**
 * shape() and clearShape() against the kernel, read back through `tc -j`:
 * tbf for a rate (this kernel has no netem), a TcError naming netem for
 * delay/jitter/loss with nothing changed, clearShape idempotent, rollbacks
 * that put back the root that was there (under its handle), the default
 * restored by deleting ours.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NetState, TcError, TransactionError, ValidationError } from '../../../src/index.js';
import { vethUp } from '../../helpers/lab.js';
import { ip, ipJson, tcJson, useNetns } from '../../helpers/netns.js';
import { qdiscsFromStore, qdiscsFromTc, rootFromTc, tc } from './tc-view.js';

const ns = useNetns();
let db: NetState;

beforeEach(async () => {
  vethUp(ns.name);
  db = await NetState.open({ netns: ns.name });
});

afterEach(async () => {
  await db?.close();
});

/** Everything a refused commit must leave as it was. */
function kernel(): unknown {
  return {
    qdiscs: tcJson(ns.name, 'qdisc', 'show'),
    links: ipJson(ns.name, 'link', 'show'),
    addrs: ipJson(ns.name, 'addr', 'show'),
  };
}

describe('shape', () => {
  it('rate alone is a tbf at that rate, shown in the store and by tc', async () => {
    const tx = db.begin();
    tx.interface('v0').shape({ rate: '10mbit' });
    expect(tx.review().interfaces.v0).toEqual({ qdisc: { from: 'default', to: { shape: { rate: 10_000_000 } } } });
    await tx.commit();
    const root = rootFromTc(ns.name, 'v0');
    expect(root).toMatchObject({ kind: 'tbf', options: { rate: 1_250_000 } });
    // 10 ms of traffic at 10 Mbit/s; tc reads the bucket back from the kernel's ticks, a byte short.
    expect((root?.options as { burst?: number } | undefined)?.burst).toBeGreaterThanOrEqual(12_499);
    expect(db.qdiscs.get({ ifname: 'v0', parent: 'root' })).toMatchObject({
      kind: 'tbf',
      rate: 10_000_000,
      handle: root?.handle,
    });
    expect(qdiscsFromStore(db, ns.name)).toEqual(qdiscsFromTc(ns.name));
  });

  it.each([
    // tc prints a tbf's queue as the latency it makes; the store keeps the kernel's limit in bytes.
    [
      'rate and limit: tbf with room for `limit` full frames',
      { rate: 8_000_000, limit: 100 },
      'tbf',
      { rate: 1_000_000 },
      151_400,
    ],
    ['limit alone: a pfifo of that many packets', { limit: 50 }, 'pfifo', { limit: 50 }, undefined],
    ['a rate in bits per second, a number', { rate: 1e6 }, 'tbf', { rate: 125_000 }, 125_000 * 0.05 + 3028],
  ])('%s', async (_t, spec, kind, options, limit) => {
    await db.interfaces.edit('v0', (i) => i.shape(spec));
    expect(rootFromTc(ns.name, 'v0')).toMatchObject({ kind, options });
    if (limit !== undefined) expect(db.qdiscs.get('v0')?.limit).toBe(limit);
  });

  it('shaping again changes the tbf in place (same handle)', async () => {
    await db.interfaces.edit('v0', (i) => i.shape({ rate: '10mbit' }));
    const first = rootFromTc(ns.name, 'v0')?.handle;
    await db.interfaces.edit('v0', (i) => i.shape({ rate: '20mbit' }));
    expect(rootFromTc(ns.name, 'v0')).toMatchObject({ kind: 'tbf', handle: first, options: { rate: 2_500_000 } });
  });

  it.each([
    ['delay', { delay: '10ms' }],
    ['jitter (with delay)', { delay: 10, jitter: 2 }],
    ['loss', { loss: '1%', rate: '10mbit' }],
  ])('%s is a TcError naming netem, and nothing of the commit is applied', async (_t, spec) => {
    tc(
      ns.name,
      'qdisc',
      'replace',
      'dev',
      'v1',
      'root',
      'handle',
      '5:',
      'tbf',
      'rate',
      '1mbit',
      'burst',
      '10kb',
      'latency',
      '50ms',
    );
    await db.sync();
    const before = kernel();
    const tx = db.begin();
    tx.interface('v0').set({ mtu: 1400 }).addIp('10.0.0.1/24');
    tx.interface('v1').clearShape();
    tx.interface('v0').shape(spec);
    const err = await tx.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TcError);
    expect((err as Error).message).toMatch(/netem/);
    expect(kernel()).toEqual(before);
  });

  it('clearShape on a link with its default root does nothing, and no error', async () => {
    const before = kernel();
    const tx = db.begin();
    tx.interface('v0').clearShape();
    expect(tx.review().interfaces).toEqual({});
    expect((await tx.commit()).applied).toEqual([]);
    expect(kernel()).toEqual(before);
  });

  it('clearShape deletes our root: the kernel attaches its default again, and the store shows it', async () => {
    await db.interfaces.edit('v0', (i) => i.shape({ rate: '10mbit' }));
    const tx = db.begin();
    tx.interface('v0').clearShape();
    expect(tx.review().interfaces.v0?.qdisc).toMatchObject({ from: { kind: 'tbf' }, to: 'default' });
    await tx.commit();
    expect(rootFromTc(ns.name, 'v0')).toMatchObject({ kind: 'noqueue', handle: '0:' });
    await db.sync();
    expect(db.qdiscs.get({ ifname: 'v0', parent: 'root' })).toMatchObject({ kind: 'noqueue', default: true });
    expect(qdiscsFromStore(db, ns.name)).toEqual(qdiscsFromTc(ns.name));
  });

  it('a link made in the same transaction is shaped once it exists', async () => {
    const tx = db.begin();
    tx.create({ kind: 'veth', ifname: 'w0', peer: 'w1' }).up().shape({ rate: '5mbit' });
    await tx.commit();
    expect(rootFromTc(ns.name, 'w0')).toMatchObject({ kind: 'tbf', options: { rate: 625_000 } });
  });
});

describe('whether the kernel has netem', () => {
  it.each([
    ['lo up (its default noqueue root)', true],
    ['lo down (the built-in noop)', false],
  ])('is asked with a creation on lo it must refuse, which changes nothing: %s', async (_t, up) => {
    if (!up) ip(ns.name, 'link', 'set', 'lo', 'down');
    // A fresh copy of the module: its answers are kept for the life of the process.
    vi.resetModules();
    const { qdiscKindKnown } = await import('../../../src/backends/netlink/tc-probe.js');
    const before = tcJson(ns.name, 'qdisc', 'show');
    expect(await qdiscKindKnown('netem', ns.name)).toBe(false);
    expect(await qdiscKindKnown('tbf', ns.name)).toBe(true);
    expect(tcJson(ns.name, 'qdisc', 'show')).toEqual(before);
  });
});

describe('bad shapes are refused while staging, naming the field, and nothing is staged', () => {
  it.each([
    ['nothing to shape', {}, 'shape'],
    ['jitter without delay', { jitter: '2ms', rate: '1mbit' }, 'jitter'],
    ['a rate with a typo', { rate: '10mbits' }, 'rate'],
    ['a loss over 100%', { delay: '1ms', loss: '150%' }, 'loss'],
    ['an unknown field', { latency: '10ms' }, 'latency'],
  ])('%s', (_t, spec, field) => {
    const tx = db.begin();
    tx.interface('v1').set({ mtu: 1400 });
    let err: unknown;
    try {
      tx.interface('v0').shape(spec as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    // What was staged before stays; the refused call left nothing behind.
    expect(tx.review().interfaces).toEqual({ v1: { mtu: 1400 } });
    tx.drop();
  });
});

describe('a failed commit puts the previous root back', () => {
  /** A later step the kernel refuses: a route through a gateway no link reaches. */
  const failing = { dst: '10.9.0.0/16', gateway: '10.99.0.1' };

  it.each([
    ['a tbf (changed in place, then back)', ['tbf', 'rate', '10mbit', 'burst', '32kb', 'latency', '50ms']],
    ['a pfifo of another kind (replaced, then made again under its handle)', ['pfifo', 'limit', '100']],
    ['a bfifo', ['bfifo', 'limit', '10000']],
  ])('%s', async (_t, qdisc) => {
    tc(ns.name, 'qdisc', 'replace', 'dev', 'v0', 'root', 'handle', '5:', ...qdisc);
    await db.sync();
    const before = tcJson(ns.name, 'qdisc', 'show');
    const tx = db.begin();
    tx.interface('v0').shape({ rate: '20mbit' });
    tx.addRoute(failing);
    const err = await tx.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionError);
    expect((err as TransactionError).notRolledBack).toEqual([]);
    expect(tcJson(ns.name, 'qdisc', 'show')).toEqual(before);
    expect(rootFromTc(ns.name, 'v0')?.handle).toBe('5:');
    expect(qdiscsFromStore(db, ns.name)).toEqual(qdiscsFromTc(ns.name));
  });

  it('the default, by deleting ours', async () => {
    const before = tcJson(ns.name, 'qdisc', 'show');
    const tx = db.begin();
    tx.interface('v0').shape({ rate: '20mbit' });
    tx.addRoute(failing);
    await expect(tx.commit()).rejects.toBeInstanceOf(TransactionError);
    expect(tcJson(ns.name, 'qdisc', 'show')).toEqual(before);
  });

  it('the tbf a clearShape deleted', async () => {
    tc(
      ns.name,
      'qdisc',
      'replace',
      'dev',
      'v0',
      'root',
      'handle',
      '7:',
      'tbf',
      'rate',
      '3mbit',
      'burst',
      '10kb',
      'limit',
      '30000',
    );
    await db.sync();
    const before = tcJson(ns.name, 'qdisc', 'show');
    const tx = db.begin();
    tx.interface('v0').clearShape();
    tx.addRoute(failing);
    await expect(tx.commit()).rejects.toBeInstanceOf(TransactionError);
    expect(tcJson(ns.name, 'qdisc', 'show')).toEqual(before);
  });
});

describe('roots netstate cannot put back are refused before staging', () => {
  it('an htb with a class', () => {
    tc(ns.name, 'qdisc', 'replace', 'dev', 'v0', 'root', 'handle', '1:', 'htb', 'default', '10');
    tc(ns.name, 'class', 'add', 'dev', 'v0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '1mbit');
    return db.sync().then(() => {
      const tx = db.begin();
      expect(() => tx.interface('v0').shape({ rate: '1mbit' })).toThrow(TcError);
      expect(() => tx.interface('v0').clearShape()).toThrow(/htb/);
      expect(tx.review().interfaces).toEqual({});
    });
  });
});
