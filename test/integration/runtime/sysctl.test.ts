/**
 * Sysctls read and written through /proc/sys inside a namespace (setns on
 * the main thread), checked with `ip netns exec NS sysctl -n` and `cat`,
 * which enter the namespace on their own.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { disableIpv6, enableIpv6 } from '../../../src/backends/sysctl.js';
import {
  NamespaceError,
  readSysctl,
  revertSysctls,
  SysctlError,
  sysctlKey,
  sysctlPath,
  ValidationError,
  writeSysctl,
  writeSysctls,
} from '../../../src/index.js';
import { vethUp } from '../../helpers/lab.js';
import { ip, ipJson, useNetns } from '../../helpers/netns.js';

const ns = useNetns(2);

/** The independent reader: procps' sysctl run by iproute2 inside the namespace. */
function sysctlN(netns: string, key: string): string {
  return execFileSync('ip', ['netns', 'exec', netns, 'sysctl', '-n', key], { encoding: 'utf8' }).replace(/\n$/, '');
}

function cat(netns: string, path: string): string {
  return execFileSync('ip', ['netns', 'exec', netns, 'cat', path], { encoding: 'utf8' }).trim();
}

describe('readSysctl', () => {
  it.each([
    'net.ipv4.ip_forward',
    'net.ipv6.conf.lo.disable_ipv6',
    'net.ipv4.tcp_rmem', // three numbers, tab-separated
    'net.core.somaxconn',
    'net/ipv4/conf/lo/forwarding',
  ])('%s reads what sysctl -n reads in the namespace', (key) => {
    ip(ns.name, 'link', 'set', 'lo', 'up');
    expect(readSysctl(key, { netns: ns.name })).toBe(sysctlN(ns.name, key));
  });

  it('reads the namespace, not ours: a value changed there only shows there', () => {
    execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    expect(readSysctl('net.ipv4.ip_forward', { netns: ns.name })).toBe('1');
    expect(readSysctl('net.ipv4.ip_forward', { netns: ns.names[1] })).toBe('0');
    expect(readSysctl('net.ipv4.ip_forward')).toBe(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim());
  });
});

describe('writeSysctl', () => {
  it('writes inside the namespace only and returns the value before', () => {
    const host = readFileSync('/proc/sys/net/ipv4/conf/all/forwarding', 'utf8');
    expect(writeSysctl('net.ipv4.conf.all.forwarding', 1, { netns: ns.name })).toBe('0');
    expect(sysctlN(ns.name, 'net.ipv4.conf.all.forwarding')).toBe('1');
    expect(sysctlN(ns.names[1] as string, 'net.ipv4.conf.all.forwarding')).toBe('0');
    expect(readFileSync('/proc/sys/net/ipv4/conf/all/forwarding', 'utf8')).toBe(host);
    expect(writeSysctl('net.ipv4.conf.all.forwarding', '0', { netns: ns.name })).toBe('1');
    expect(sysctlN(ns.name, 'net.ipv4.conf.all.forwarding')).toBe('0');
  });

  it('a multi-value key takes a string', () => {
    const before = sysctlN(ns.name, 'net.ipv4.tcp_rmem');
    expect(writeSysctl('net.ipv4.tcp_rmem', '4096 65536 1048576', { netns: ns.name })).toBe(before);
    expect(sysctlN(ns.name, 'net.ipv4.tcp_rmem')).toBe('4096\t65536\t1048576');
  });

  it("an interface with dots: dotted form with '/' for '.', slash form as is (procps' convention)", () => {
    ip(ns.name, 'link', 'add', 'v0.1', 'type', 'veth', 'peer', 'name', 'v1');
    const dotted = sysctlKey('net', 'ipv6', 'conf', 'v0.1', 'disable_ipv6');
    expect(dotted).toBe('net.ipv6.conf.v0/1.disable_ipv6');
    expect(sysctlPath(dotted)).toBe('/proc/sys/net/ipv6/conf/v0.1/disable_ipv6');
    // procps prints the key of this interface the same way.
    const all = execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-a'], { encoding: 'utf8' });
    expect(all).toContain(`${dotted} = 0`);

    expect(writeSysctl(dotted, 1, { netns: ns.name })).toBe('0');
    expect(cat(ns.name, '/proc/sys/net/ipv6/conf/v0.1/disable_ipv6')).toBe('1');
    expect(readSysctl('net/ipv6/conf/v0.1/disable_ipv6', { netns: ns.name })).toBe('1');
    // v1's value was not touched.
    expect(cat(ns.name, '/proc/sys/net/ipv6/conf/v1/disable_ipv6')).toBe('0');
  });

  it('a missing key is a SysctlError (ENOENT) naming key and namespace', () => {
    const key = 'net.ipv6.conf.nosuch0.disable_ipv6';
    for (const call of [() => readSysctl(key, { netns: ns.name }), () => writeSysctl(key, 1, { netns: ns.name })]) {
      const e = catchError(call);
      expect(e).toBeInstanceOf(SysctlError);
      expect(e).toMatchObject({ key, netns: ns.name, code: 'ENOENT' });
      expect(e.message).toContain(ns.name);
    }
    expect(catchError(() => readSysctl('net.ipv4', { netns: ns.name }))).toMatchObject({ code: 'EISDIR' });
  });

  it('a value the kernel refuses is a SysctlError (EINVAL) and changes nothing', () => {
    const e = catchError(() => writeSysctl('net.ipv6.conf.lo.disable_ipv6', 'abc', { netns: ns.name }));
    expect(e).toBeInstanceOf(SysctlError);
    expect(e).toMatchObject({ code: 'EINVAL', key: 'net.ipv6.conf.lo.disable_ipv6' });
    expect(sysctlN(ns.name, 'net.ipv6.conf.lo.disable_ipv6')).toBe('0');
  });

  it('writeSysctls is all or nothing: a refusal puts back the keys already written', () => {
    const e = catchError(() =>
      writeSysctls(
        [
          ['net.ipv4.ip_forward', 1],
          ['net.ipv4.conf.all.forwarding', 1],
          ['net.ipv6.conf.nosuch0.forwarding', 1],
        ],
        { netns: ns.name },
      ),
    );
    expect(e).toMatchObject({ code: 'ENOENT', key: 'net.ipv6.conf.nosuch0.forwarding' });
    expect(sysctlN(ns.name, 'net.ipv4.ip_forward')).toBe('0');
    expect(sysctlN(ns.name, 'net.ipv4.conf.all.forwarding')).toBe('0');
  });

  // [title, call, error class, field]
  const BAD: [string, () => unknown, Function, string | undefined][] = [
    ['empty key', () => writeSysctl('', 1, { netns: 'x' }), ValidationError, 'key'],
    ['absolute path', () => writeSysctl('/proc/sys/net/ipv4/ip_forward', 1), ValidationError, 'key'],
    ['.. in slash form', () => writeSysctl('net/../kernel/hostname', 'x'), ValidationError, 'key'],
    ['.. in dotted form', () => writeSysctl('net.ipv4.conf.//.forwarding', 1), ValidationError, 'key'],
    ['empty component', () => writeSysctl('net..ipv4.ip_forward', 1), ValidationError, 'key'],
    ['whitespace', () => writeSysctl('net.ipv4.conf.a b.forwarding', 1), ValidationError, 'key'],
    ['one component', () => readSysctl('net'), ValidationError, 'key'],
    ['key not a string', () => writeSysctl(42 as unknown as string, 1), ValidationError, 'key'],
    ['not a net.* key (host-wide)', () => writeSysctl('kernel.hostname', 'pwned'), ValidationError, 'key'],
    ['fractional value', () => writeSysctl('net.ipv4.ip_forward', 1.5), ValidationError, 'value'],
    ['NaN', () => writeSysctl('net.ipv4.ip_forward', Number.NaN), ValidationError, 'value'],
    ['empty string', () => writeSysctl('net.ipv4.ip_forward', ''), ValidationError, 'value'],
    ['line break', () => writeSysctl('net.ipv4.ip_forward', '1\n0'), ValidationError, 'value'],
    ['boolean', () => writeSysctl('net.ipv4.ip_forward', true as unknown as number), ValidationError, 'value'],
    ['bad namespace name', () => writeSysctl('net.ipv4.ip_forward', 1, { netns: 'a/b' }), NamespaceError, undefined],
    ['missing namespace', () => writeSysctl('net.ipv4.ip_forward', 1, { netns: 'nst-no-such-ns' }), NamespaceError, undefined],
    ['bad ifname', () => enableIpv6('x', 'a-name-far-too-long'), ValidationError, 'ifname'],
    ['bad option', () => enableIpv6('x', 'v0', { acceptRa: 1 as unknown as boolean }), ValidationError, 'acceptRa'],
    ['unknown option', () => enableIpv6('x', 'v0', { accept_ra: true } as never), ValidationError, 'accept_ra'],
    [
      'a bad entry among good ones',
      () =>
        writeSysctls([
          ['net.ipv4.ip_forward', 1],
          ['net.ipv4.x', {} as never],
        ]),
      ValidationError,
      'value',
    ],
  ];
  it.each(BAD)('refused before anything is touched: %s', (_title, call, kind, field) => {
    const hostname = readFileSync('/proc/sys/kernel/hostname', 'utf8');
    const forward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const e = catchError(call);
    expect(e).toBeInstanceOf(kind);
    if (field) expect((e as ValidationError).field).toBe(field);
    expect(readFileSync('/proc/sys/kernel/hostname', 'utf8')).toBe(hostname);
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(forward);
  });
});

describe('enableIpv6 / disableIpv6 (p4net)', () => {
  it('disable, enable without RA/SLAAC, enable again (nothing to do), revert: each step seen by sysctl -n and ip -j addr', () => {
    vethUp(ns.name);
    const key = (leaf: string) => `net.ipv6.conf.v0.${leaf}`;
    const inet6 = () =>
      ((ipJson(ns.name, 'addr', 'show', 'dev', 'v0')[0]?.addr_info ?? []) as { family: string; local: string }[])
        .filter((a) => a.family === 'inet6')
        .map((a) => a.local.slice(0, 5));
    expect(inet6()).toEqual(['fe80:']);

    expect(disableIpv6(ns.name, 'v0')).toEqual([{ key: key('disable_ipv6'), before: '0', after: '1' }]);
    expect(sysctlN(ns.name, key('disable_ipv6'))).toBe('1');
    expect(inet6()).toEqual([]);
    expect(disableIpv6(ns.name, 'v0')).toEqual([]);

    const changes = enableIpv6(ns.name, 'v0');
    expect(changes).toEqual([
      { key: key('accept_ra'), before: '1', after: '0' },
      { key: key('autoconf'), before: '1', after: '0' },
      { key: key('disable_ipv6'), before: '1', after: '0' },
    ]);
    for (const leaf of ['accept_ra', 'autoconf', 'disable_ipv6']) expect(sysctlN(ns.name, key(leaf))).toBe('0');
    expect(inet6()).toEqual(['fe80:']); // the kernel makes the link-local address again at once
    expect(enableIpv6(ns.name, 'v0')).toEqual([]);

    expect(enableIpv6(ns.name, 'v0', { acceptRa: true })).toEqual([{ key: key('accept_ra'), before: '0', after: '1' }]);
    revertSysctls(changes, { netns: ns.name });
    expect(sysctlN(ns.name, key('disable_ipv6'))).toBe('1');
    expect(sysctlN(ns.name, key('autoconf'))).toBe('1');
  });

  it('an interface with an MTU below 1280 has no net.ipv6.conf.IF: a SysctlError, nothing written', () => {
    ip(ns.name, 'link', 'add', 'v0', 'mtu', '1200', 'type', 'veth', 'peer', 'name', 'v1');
    const e = catchError(() => enableIpv6(ns.name, 'v0'));
    expect(e).toBeInstanceOf(SysctlError);
    expect(e).toMatchObject({ code: 'ENOENT', key: 'net.ipv6.conf.v0.accept_ra' });
    expect(execFileSync('ip', ['netns', 'exec', ns.name, 'ls', '/proc/sys/net/ipv6/conf'], { encoding: 'utf8' })).not.toContain(
      'v0',
    );
  });
});

function catchError(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected an error');
}
