/** Batches, the event stream, overruns, and namespaces. */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BatchRequest,
  createNetns,
  inNetns,
  listNetns,
  NamespaceError,
  NetlinkError,
  NetlinkSocket,
  Rtnl,
  removeNetns,
  SystemError,
  ValidationError,
} from '../../src/index.js';
import { expectSameAsIproute2 } from '../helpers/kernel-view.js';
import { delNetns, freshName, ip, ipJson, useNetns } from '../helpers/netns.js';

const NLMSG_NOOP = 1;

const ns = useNetns();
let nl: Rtnl;
beforeEach(async () => {
  nl = await Rtnl.open({ netns: ns.name });
  await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
  await nl.link('set', { ifname: 'v0', state: 'up' });
  await nl.addr('add', { ifname: 'v0', address: '10.0.0.1/24' });
});
afterEach(() => nl.close());

function routeSpec(i: number) {
  return { dst: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, gateway: '10.0.0.2', table: 100 };
}

describe('batch', () => {
  it('applies thousands of requests in few sends, one result per request, refusals included', async () => {
    const requests: BatchRequest[] = Array.from({ length: 5000 }, (_, i) => ({ op: 'route', cmd: 'add', spec: routeSpec(i) }));
    requests.splice(10, 0, { op: 'route', cmd: 'add', spec: routeSpec(3) }); // duplicate: EEXIST
    requests.splice(20, 0, { op: 'route', cmd: 'add', spec: { dst: 'nonsense', table: 100 } }); // invalid
    requests.push({ op: 'route', cmd: 'add', spec: { dst: '10.99.0.0/16', gateway: '192.0.2.1' } }); // unreachable
    const results = await nl.batch(requests);
    expect(results).toHaveLength(requests.length);
    const failed = results.flatMap((r, i) => (r.ok ? [] : ([[i, r.error]] as const)));
    expect(failed.map(([i]) => i)).toEqual([10, 20, requests.length - 1]);
    expect(failed[0]?.[1]).toBeInstanceOf(NetlinkError);
    expect((failed[0]![1] as NetlinkError).code).toBe('EEXIST');
    expect(failed[1]?.[1]).toBeInstanceOf(ValidationError);
    expect((failed[2]![1] as NetlinkError).extack).toBe('Nexthop has invalid gateway');
    expect(ipJson(ns.name, 'route', 'show', 'table', '100')).toHaveLength(5000);
    expect(await nl.route('dump', { table: 100 })).toHaveLength(5000);
    await expectSameAsIproute2(nl, ns.name);
  });

  it('a send the kernel refuses whole (larger than the socket may send) is a SystemError naming its errno', async () => {
    // Large sends run on a worker thread; the errno must still be the kernel's, not a guess.
    const sock = new NetlinkSocket({ netns: ns.name, sndbuf: 4096 });
    try {
      const seq = sock.nextSeq();
      const bytes = Buffer.alloc(64 << 10);
      bytes.writeUInt32LE(bytes.length, 0);
      bytes.writeUInt16LE(NLMSG_NOOP, 4);
      bytes.writeUInt32LE(seq, 8);
      const error = await sock.exchange(bytes, seq, seq, false).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).code).toBe('EMSGSIZE');
    } finally {
      sock.close();
    }
  });

  it('deletes in a batch too', async () => {
    const specs = Array.from({ length: 300 }, (_, i) => routeSpec(i));
    await nl.batch(specs.map((spec) => ({ op: 'route', cmd: 'add', spec })));
    const results = await nl.batch(specs.map((spec) => ({ op: 'route', cmd: 'del', spec })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(ipJson(ns.name, 'route', 'show', 'table', '100')).toEqual([]);
  });
});

describe('events$', () => {
  it('delivers decoded notifications of changes made by other software', async () => {
    const seen = firstValueFrom(
      nl.events$.pipe(
        filter((e) => e.event === 'RTM_NEWROUTE' && e.record?.dst === '10.7.0.0/16'),
        timeout(5000),
      ),
    );
    ip(ns.name, 'route', 'add', '10.7.0.0/16', 'via', '10.0.0.2');
    const e = await seen;
    expect(e).toMatchObject({ object: 'route', netns: ns.name, record: { gateway: '10.0.0.2', table: 254 } });
  });

  it('reports links, addresses and their removal in order', async () => {
    const events = firstValueFrom(
      nl.events$.pipe(
        filter((e) => e.object === 'link' || e.object === 'address'),
        filter((e) => e.record?.ifname === 'v9' || e.record?.address === '10.9.0.1'),
        take(3),
        toArray(),
        timeout(5000),
      ),
    );
    ip(ns.name, 'link', 'add', 'v9', 'type', 'veth', 'peer', 'name', 'v10');
    ip(ns.name, 'addr', 'add', '10.9.0.1/24', 'dev', 'v9');
    ip(ns.name, 'link', 'del', 'v9');
    expect((await events).map((e) => e.event)).toEqual(['RTM_NEWLINK', 'RTM_NEWADDR', 'RTM_DELADDR']);
  });

  it('an overrun of the event socket is delivered as OVERRUN, never swallowed', async () => {
    const tiny = await Rtnl.open({ netns: ns.name, eventBuffer: 4096 });
    try {
      const overrun = firstValueFrom(
        tiny.events$.pipe(
          filter((e) => e.event === 'OVERRUN'),
          timeout(5000),
        ),
      );
      // ip -batch runs while this thread is blocked, so nothing drains the socket: it must overflow.
      const lines = Array.from({ length: 3000 }, (_, i) => `route add 10.200.${i >> 8}.${i & 255}/32 via 10.0.0.2`).join('\n');
      execFileSync('ip', ['-n', ns.name, '-batch', '-'], { input: lines });
      expect(await overrun).toMatchObject({ event: 'OVERRUN', netns: ns.name });
    } finally {
      tiny.close();
    }
  });
});

describe('namespaces', () => {
  it('creates, lists, enters and removes named namespaces as iproute2 does', () => {
    const name = freshName('own');
    try {
      createNetns(name);
      expect(listNetns()).toContain(name);
      expect(() => createNetns(name)).toThrow(NamespaceError);
      const here = readlinkSync('/proc/thread-self/ns/net');
      const inside = inNetns(name, () => readlinkSync('/proc/thread-self/ns/net'));
      expect(inside).not.toBe(here);
      expect(readlinkSync('/proc/thread-self/ns/net')).toBe(here);
      expect(execFileSync('ip', ['-n', name, '-j', 'link', 'show'], { encoding: 'utf8' })).toContain('"lo"');
      removeNetns(name);
      expect(listNetns()).not.toContain(name);
      expect(() => removeNetns(name)).toThrow(NamespaceError);
    } finally {
      delNetns(name);
    }
  });

  it('comes back to the original namespace when the work inside throws', () => {
    const here = readlinkSync('/proc/thread-self/ns/net');
    expect(() =>
      inNetns(ns.name, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(here);
  });
});
