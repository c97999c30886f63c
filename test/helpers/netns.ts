/**
 * A fresh namespace per test: `const ns = useNetns()` creates `nst-<run>-<pid>-<n>`
 * before each test and removes it after, pass or fail. Nothing a test does
 * can reach the root namespace of the machine.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach } from 'vitest';

let counter = 0;

export function freshName(tag = 't'): string {
  return `nst-${process.env.NST_RUN ?? 'x'}-${process.pid}-${tag}${counter++}`;
}

export function addNetns(name: string): void {
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/**
 * Turns off duplicate address detection in a namespace (for links made
 * after): an IPv6 address is then final at once, rather than tentative for
 * a second, and a test comparing two moments compares state, not timing.
 */
export function noDad(name: string): void {
  execFileSync('ip', [
    'netns',
    'exec',
    name,
    'sysctl',
    '-qw',
    'net.ipv6.conf.all.accept_dad=0',
    'net.ipv6.conf.default.accept_dad=0',
  ]);
}

export function delNetns(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {}
}

/** One or more namespaces that live for the duration of each test. */
export function useNetns(count = 1): { names: string[]; readonly name: string } {
  const handle = {
    names: [] as string[],
    get name(): string {
      return this.names[0] as string;
    },
  };
  beforeEach(() => {
    handle.names = Array.from({ length: count }, () => freshName());
    for (const n of handle.names) addNetns(n);
  });
  afterEach(() => {
    for (const n of handle.names) delNetns(n);
  });
  return handle;
}

/** Runs `ip -n NS args...` (an outside change, or a command to check against). */
export function ip(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
}

/** Runs `ip -n NS -j args...` and parses iproute2's JSON. */
export function ipJson<T = Record<string, unknown>[]>(ns: string, ...args: string[]): T {
  const out = execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8', maxBuffer: 1 << 30 }).trim();
  return (out ? JSON.parse(out) : []) as T;
}

/** `tc -j ...` inside the namespace. */
export function tcJson(ns: string, ...args: string[]): Record<string, unknown>[] {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'tc', '-j', ...args], { encoding: 'utf8' }).trim();
  return out ? JSON.parse(out) : [];
}
