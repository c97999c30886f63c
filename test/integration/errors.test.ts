/** Bad input is refused before the kernel is touched, with a typed error; nothing changes. */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LinkError, NamespaceError, Rtnl, ValidationError } from '../../src/index.js';
import { viewFromIproute2 } from '../helpers/kernel-view.js';
import { ipJson, useNetns } from '../helpers/netns.js';

const ns = useNetns();
let nl: Rtnl;
beforeEach(async () => {
  nl = await Rtnl.open({ netns: ns.name });
  await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
});
afterEach(() => nl.close());

const bad: [string, () => Promise<unknown>, string][] = [
  ['name over 15 bytes', () => nl.link('add', { ifname: 'a-very-long-name0', kind: 'bridge' }), 'longer than 15 bytes'],
  ['name with a slash', () => nl.link('add', { ifname: 'a/b', kind: 'bridge' }), 'not a valid interface name'],
  ['name with whitespace', () => nl.link('add', { ifname: 'a b', kind: 'bridge' }), 'not a valid interface name'],
  // @ts-expect-error: the spec types refuse it at compile time too
  ['unknown kind', () => nl.link('add', { ifname: 'x0', kind: 'wormhole' }), 'unknown link kind'],
  ['bad MTU', () => nl.link('set', { ifname: 'v0', mtu: 10 }), 'mtu'],
  ['MTU not an integer', () => nl.link('set', { ifname: 'v0', mtu: 1500.5 }), 'mtu'],
  ['bad MAC', () => nl.link('set', { ifname: 'v0', address: '02:00:00:00:00' }), 'not a MAC address'],
  ['bad CIDR', () => nl.addr('add', { ifname: 'v0', address: '10.0.0.300/24' }), 'not an address or a prefix'],
  ['prefix too long', () => nl.addr('add', { ifname: 'v0', address: '10.0.0.1/33' }), 'not an address or a prefix'],
  [
    'gateway of the wrong family',
    () => nl.route('add', { dst: '10.0.0.0/8', gateway: '2001:db8::1' }),
    'IPv6 but the route is IPv4',
  ],
  ['table out of range', () => nl.route('add', { dst: '10.0.0.0/8', oif: 'v0', table: -1 }), 'routing table'],
  // @ts-expect-error: the spec types refuse it at compile time too
  ['unknown field (a typo)', () => nl.route('add', { dst: '10.0.0.0/8', gatway: '10.0.0.1' }), 'unknown field "gatway"'],
  // @ts-expect-error: the spec types refuse it at compile time too
  ['unknown bridge option', () => nl.link('add', { ifname: 'br9', kind: 'bridge', data: { stp: 1 } }), 'not an option of bridge'],
  ['bad tc rate', () => nl.qdisc('add', { ifname: 'v0', kind: 'tbf', rate: 'fast', burst: 1, latency: '1ms' }), 'not a rate'],
  ['rule without a family', () => nl.rule('add', { table: 100 }), 'family'],
  ['rules cannot be changed in place', () => nl.rule('set', { src: '10.0.0.0/8', table: 1 }), 'delete it and add'],
];

describe('validation', () => {
  it.each(bad)('%s → ValidationError, kernel untouched', async (_what, call, text) => {
    const before = viewFromIproute2(ns.name);
    const err = (await call().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain(text);
    expect(viewFromIproute2(ns.name)).toEqual(before);
  });

  it('an unknown interface is a LinkError naming it and the namespace', async () => {
    const err = await nl.addr('add', { ifname: 'nope0', address: '10.0.0.1/24' }).catch((e) => e);
    expect(err).toBeInstanceOf(LinkError);
    expect(err.message).toContain('"nope0"');
    expect(err.message).toContain(ns.name);
  });

  it('namespace names that escape /run/netns, or do not exist, are NamespaceErrors', async () => {
    await expect(Rtnl.open({ netns: '../etc' })).rejects.toBeInstanceOf(NamespaceError);
    await expect(Rtnl.open({ netns: 'nst-does-not-exist' })).rejects.toThrow(/no network namespace named "nst-does-not-exist"/);
  });
});

describe('batch', () => {
  it('answers each entry on its own: bad entries get their error, the others still go out', async () => {
    await nl.link('set', { ifname: 'v0', state: 'up' });
    await nl.addr('add', { ifname: 'v0', address: '10.0.0.1/24' });
    const entries: unknown[] = [
      { op: 'route', cmd: 'add', spec: { dst: '10.5.0.0/16', gateway: '10.0.0.2' } },
      { op: 'route', cmd: 'add', spec: { dst: '10.6.0.0/16', gateway: '10.0.0.2', table: 10n } },
      { op: 'route', cmd: 'add', spec: { dst: '10.7.0.0/16', dev: 'nope0' } },
      null,
      { op: 'route', cmd: 'dump', spec: {} },
      { op: 'wormhole', cmd: 'add', spec: {} },
      { op: 'route', cmd: 'add', spec: { dst: '10.8.0.0/16', gateway: '10.0.0.2', gatway: '10.0.0.3' } },
      { op: 'route', cmd: 'add', spec: { dst: '10.9.0.0/16', gateway: '10.0.0.2' } },
      { op: 'route', cmd: 'add', spec: { dst: '10.9.0.0/16', gateway: '10.0.0.2' } },
    ];
    const results = await nl.batch(entries as never);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.name))).toEqual([
      'ok',
      'ValidationError',
      'LinkError',
      'ValidationError',
      'ValidationError',
      'ValidationError',
      'ValidationError',
      'ok',
      'NetlinkError',
    ]);
    const routes = ipJson(ns.name, 'route', 'show').map((r) => r.dst);
    expect(routes).toEqual(expect.arrayContaining(['10.5.0.0/16', '10.9.0.0/16']));
    for (const dst of ['10.6.0.0/16', '10.7.0.0/16', '10.8.0.0/16']) expect(routes).not.toContain(dst);
  });

  it('rejects as a whole only what is not a list of entries', async () => {
    await expect(nl.batch(null as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(nl.batch({ length: 1 } as never)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('privileges', () => {
  // Runs the built package (npm test builds first) as user nobody.
  it('without root, entering a namespace is a PrivilegeError with a sentence saying so', () => {
    const script = `
      import { Rtnl } from '${new URL('../../dist/src/index.js', import.meta.url).pathname}';
      try { await Rtnl.open({ netns: '${ns.name}' }); console.log('opened'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`;
    const out = execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', '--input-type=module', '-e', script],
      { encoding: 'utf8', env: { ...process.env, HOME: '/tmp' } },
    );
    expect(out.trim()).toMatch(/^PrivilegeError: .*run as root|^PrivilegeError: .*needs root/);
  });
});
