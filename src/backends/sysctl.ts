/**
 * Sysctls of a network namespace, read and written through /proc/sys from
 * inside it: the calling thread enters the namespace (setns), opens, reads or
 * writes, and comes back, all synchronously (see inNetns). No `ip netns
 * exec`, no `sysctl` binary, no shell. /proc/sys/net is resolved against the
 * netns of the thread that looks it up, so what is reached is the
 * namespace's own table.
 *
 * Keys are written as procps' sysctl writes them:
 * - dotted: `net.ipv6.conf.v0.disable_ipv6`; a '/' inside a component stands
 *   for a '.', so the interface `v0.1` is `net.ipv6.conf.v0/1.disable_ipv6`
 *   (this is also how `sysctl -a` prints such keys);
 * - slashed: `net/ipv6/conf/v0.1/disable_ipv6`, recognised by its first
 *   separator being a '/'; dots are then literal.
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { NetStateError, PrivilegeError, SysctlError, ValidationError } from '../errors.js';
import { inNetns, validateNetnsName } from './netns.js';
import { ifnameProblem, shown } from './schema.js';

export interface SysctlOptions {
  /** The namespace; the caller's own when undefined. */
  netns?: string;
}

/** A value a sysctl takes: an integer, or text (several numbers separated by spaces or tabs, a name...). */
export type SysctlValue = number | string;

/** One key changed: its value before (undefined when it cannot be read back: a write-only key) and after. */
export interface SysctlChange {
  key: string;
  before: string | undefined;
  after: string | undefined;
}

const PROC_SYS = '/proc/sys';

/**
 * The components of a key, in either form, after the checks: at least two,
 * none empty, '.' or '..', no whitespace or NUL. A ValidationError otherwise.
 */
export function sysctlComponents(key: unknown): string[] {
  if (typeof key !== 'string' || key.length === 0) {
    throw new ValidationError(`a sysctl key is a non-empty string like net.ipv6.conf.v0.disable_ipv6, got ${shown(key)}`, 'key');
  }
  if (key.startsWith('/') || key.startsWith('.')) {
    throw new ValidationError(`sysctl key ${shown(key)}: give it relative to /proc/sys (net.ipv4.ip_forward)`, 'key');
  }
  const slashed = key[key.search(/[./]/)] === '/';
  const parts = slashed ? key.split('/') : key.split('.').map((c) => c.replaceAll('/', '.'));
  for (const c of parts) {
    if (c === '' || c === '.' || c === '..' || /[\s\0]/.test(c)) {
      throw new ValidationError(
        `sysctl key ${shown(key)}: component ${shown(c)} is not allowed (empty, '.', '..', whitespace or NUL)`,
        'key',
      );
    }
  }
  if (parts.length < 2) throw new ValidationError(`sysctl key ${shown(key)} has a single component`, 'key');
  return parts;
}

/** The file under /proc/sys that holds `key`. */
export function sysctlPath(key: string): string {
  return `${PROC_SYS}/${sysctlComponents(key).join('/')}`;
}

/** `key` in dotted form, with '.' inside a component written '/' (procps' convention). */
export function sysctlKey(...components: string[]): string {
  return components.map((c) => c.replaceAll('.', '/')).join('.');
}

function checkValue(key: string, value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new ValidationError(`sysctl ${key}: ${shown(value)} is not an integer`, 'value');
    return String(value);
  }
  if (typeof value === 'string') {
    if (value.trim() === '' || /[\n\r\0]/.test(value)) {
      throw new ValidationError(`sysctl ${key}: ${shown(value)} is empty or holds a line break or NUL`, 'value');
    }
    return value;
  }
  throw new ValidationError(`sysctl ${key}: a value is an integer or a string, got ${shown(value)}`, 'value');
}

/** Writes to the per-namespace tables only: anything else would change the whole host from inside a namespace. */
function checkWritable(key: string, parts: string[]): void {
  if (parts[0] !== 'net') {
    throw new ValidationError(
      `sysctl ${key}: only net.* keys are written (other tables are not per network namespace: writing them changes the whole host)`,
      'key',
    );
  }
}

function checkNetns(netns: unknown): void {
  if (netns !== undefined) validateNetnsName(netns);
}

/** The kernel's refusal, as a typed error naming the key and the namespace. */
function sysctlFailure(e: unknown, key: string, netns: string | undefined, doing: 'read' | 'write', value?: string): Error {
  if (e instanceof NetStateError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
  const where = netns === undefined ? 'this namespace' : `namespace "${netns}"`;
  if ((code === 'EACCES' || code === 'EPERM') && process.geteuid?.() !== 0) {
    return new PrivilegeError(`writing sysctl ${key} in ${where} needs root`);
  }
  const why: Record<string, string> = {
    ENOENT: `there is no sysctl ${key} in ${where}`,
    ENOTDIR: `there is no sysctl ${key} in ${where}`,
    EISDIR: `${key} is a group of sysctls in ${where}, not one key`,
    EINVAL: `the kernel refused ${shown(value)} for ${key} in ${where} (EINVAL)`,
    EACCES: `sysctl ${key} in ${where} cannot be ${doing === 'read' ? 'read' : 'written'} (${code})`,
    EPERM: `sysctl ${key} in ${where} cannot be ${doing === 'read' ? 'read' : 'written'} (${code})`,
  };
  return new SysctlError(why[code] ?? `${doing} of sysctl ${key} in ${where} failed: ${code}`, key, netns, code);
}

function readRaw(path: string): string {
  return readFileSync(path, 'utf8').replace(/\n$/, '');
}

/** The value, or undefined for keys the kernel will not show (write-only, or EIO as stable_secret before it is set). */
function readBefore(path: string): string | undefined {
  try {
    return readRaw(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EIO') return undefined;
    throw e;
  }
}

function writeRaw(path: string, value: string): void {
  // O_WRONLY without O_CREAT/O_TRUNC: a missing key is ENOENT, and write-only keys (mode 0200) open too.
  const fd = openSync(path, constants.O_WRONLY);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

/** Values compared the way the kernel prints them: runs of whitespace are one separator. */
function same(a: string | undefined, b: string): boolean {
  return a !== undefined && a.trim().split(/\s+/).join(' ') === b.trim().split(/\s+/).join(' ');
}

/**
 * A sysctl's value in a namespace, as the kernel prints it (several numbers
 * separated by tabs for keys like net.ipv4.tcp_rmem), without the newline.
 * `sysctl -n KEY` under `ip netns exec` in iproute2/procps terms.
 */
export function readSysctl(key: string, { netns }: SysctlOptions = {}): string {
  const path = sysctlPath(key);
  checkNetns(netns);
  try {
    return inNetns(netns, () => readRaw(path));
  } catch (e) {
    throw sysctlFailure(e, key, netns, 'read');
  }
}

/**
 * Writes one sysctl in a namespace and returns its previous value (undefined
 * for a key that cannot be read back). Only net.* keys. `sysctl -w KEY=VALUE`
 * under `ip netns exec`; p4net's runtime/sysctl.py does it that way.
 */
export function writeSysctl(key: string, value: SysctlValue, { netns }: SysctlOptions = {}): string | undefined {
  const [change] = writeSysctlsRaw([[key, value]], netns, true);
  return change?.before;
}

/**
 * Writes several sysctls in a namespace, in order, all or nothing: every
 * key and value is checked before anything is written, keys already at the
 * asked value are left alone, and when the kernel refuses one, those
 * already written get their old values back before the error is thrown.
 * Returns what changed (value before and after, read back), ready to be
 * undone with `revertSysctls`.
 */
export function writeSysctls(
  entries: ReadonlyArray<readonly [string, SysctlValue]>,
  { netns }: SysctlOptions = {},
): SysctlChange[] {
  return writeSysctlsRaw(entries, netns, false);
}

function writeSysctlsRaw(
  entries: ReadonlyArray<readonly [string, SysctlValue]>,
  netns: string | undefined,
  reportUnchanged: boolean,
): SysctlChange[] {
  const plan = entries.map(([key, value]) => {
    const parts = sysctlComponents(key);
    checkWritable(key, parts);
    return { key, path: `${PROC_SYS}/${parts.join('/')}`, value: checkValue(key, value) };
  });
  checkNetns(netns);
  const done: (SysctlChange & { path: string })[] = [];
  const changes: SysctlChange[] = [];
  let current: { key: string; value: string } | undefined;
  try {
    inNetns(netns, () => {
      for (const step of plan) {
        current = step;
        const before = readBefore(step.path);
        if (same(before, step.value)) {
          if (reportUnchanged) changes.push({ key: step.key, before, after: before });
          continue;
        }
        writeRaw(step.path, step.value);
        const after = readBefore(step.path);
        done.push({ key: step.key, path: step.path, before, after });
        if (reportUnchanged || after !== before) changes.push({ key: step.key, before, after });
      }
    });
  } catch (e) {
    const failure = sysctlFailure(e, current?.key ?? '', netns, 'write', current?.value);
    if (done.length) {
      try {
        inNetns(netns, () => {
          for (const d of done.reverse()) if (d.before !== undefined) writeRaw(d.path, d.before);
        });
      } catch {}
    }
    throw failure;
  }
  return changes;
}

/** Puts back what `writeSysctls` (or the IPv6 helpers) changed, last change first. */
export function revertSysctls(changes: readonly SysctlChange[], { netns }: SysctlOptions = {}): SysctlChange[] {
  const back = [...changes]
    .reverse()
    .filter((c): c is SysctlChange & { before: string } => c.before !== undefined)
    .map((c) => [c.key, c.before] as const);
  return writeSysctls(back, { netns });
}

function checkIfname(ifname: unknown): asserts ifname is string {
  const problem = typeof ifname === 'string' ? ifnameProblem(ifname) : `an interface name is a string, not ${shown(ifname)}`;
  if (problem) throw new ValidationError(problem, 'ifname');
}

export interface EnableIpv6Options {
  /** net.ipv6.conf.IF.accept_ra: take router advertisements (default false). */
  acceptRa?: boolean;
  /** net.ipv6.conf.IF.autoconf: make SLAAC addresses from them (default false). */
  autoconf?: boolean;
}

/**
 * Turns IPv6 on for an interface of a namespace, with router advertisements
 * and SLAAC off unless asked: accept_ra and autoconf are written first and
 * disable_ipv6=0 last, so no advertisement is taken in between. Returns the
 * keys that changed (p4net's enable_ipv6(ns, iface, accept_ra=False,
 * autoconf=False), which runs `sysctl -w` under `ip netns exec`).
 *
 * An interface with an MTU below 1280 has no net.ipv6.conf.IF at all (the
 * kernel drops its IPv6 state): that is a SysctlError (ENOENT).
 */
export function enableIpv6(netns: string | undefined, ifname: string, options: EnableIpv6Options = {}): SysctlChange[] {
  checkIfname(ifname);
  const { acceptRa = false, autoconf = false, ...rest } = options;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new ValidationError(`enableIpv6: unknown option "${unknown[0]}"`, unknown[0]);
  for (const [field, v] of [
    ['acceptRa', acceptRa],
    ['autoconf', autoconf],
  ] as const) {
    if (typeof v !== 'boolean') throw new ValidationError(`enableIpv6: ${field} is true or false, got ${shown(v)}`, field);
  }
  return writeSysctls(
    [
      [sysctlKey('net', 'ipv6', 'conf', ifname, 'accept_ra'), acceptRa ? 1 : 0],
      [sysctlKey('net', 'ipv6', 'conf', ifname, 'autoconf'), autoconf ? 1 : 0],
      [sysctlKey('net', 'ipv6', 'conf', ifname, 'disable_ipv6'), 0],
    ],
    { netns },
  );
}

/**
 * Turns IPv6 off for an interface of a namespace (disable_ipv6=1: its IPv6
 * addresses go, link-local included). Returns the keys that changed.
 * p4net's disable_ipv6(ns, iface).
 */
export function disableIpv6(netns: string | undefined, ifname: string): SysctlChange[] {
  checkIfname(ifname);
  return writeSysctls([[sysctlKey('net', 'ipv6', 'conf', ifname, 'disable_ipv6'), 1]], { netns });
}
