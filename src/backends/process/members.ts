/**
 * The processes of a namespace, found the way `ip netns pids` finds them:
 * every /proc/PID whose ns/net is the namespace's nsfs file (same device and
 * inode). Only thread-group leaders are looked at (a thread that setns'd
 * alone is not seen, as with iproute2).
 *
 * Exited processes are gone: a zombie has already dropped its namespaces
 * (its /proc/PID/ns/net no longer resolves), whoever its parent is and
 * whether or not it has been reaped, so it is neither listed nor waited
 * for, and it does not keep the namespace alive.
 *
 * Signals go through pidfds: a pid is checked to be in the namespace after
 * its pidfd is open, so a pid reused in between is never signalled.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { NamespaceError, TimeoutError, ValidationError } from '../../errors.js';
import { processStartTime } from '../host.js';
import { closePidfd, openPidfd, signalNumber, signalPidfd, waitExited } from '../pidfd.js';
import { shown } from '../schema.js';
import { checkNetns, type NetnsIdentity, netnsIdentity, processNetns, sameNetns } from './command.js';

/** A process of a namespace. */
export interface ProcessInfo {
  pid: number;
  /** /proc/PID/comm: the first 15 bytes of the executable's name. */
  comm: string;
  /** /proc/PID/cmdline, split (empty for a process that cleared it). */
  argv: string[];
  /** Field 22 of /proc/PID/stat (clock ticks since boot): with the pid, names this process across pid reuse. */
  startTime: string;
}

/** A process killProcess or killAll signalled, and the last signal it got. */
export interface KilledProcess extends ProcessInfo {
  signal: NodeJS.Signals;
}

function info(pid: number): ProcessInfo | undefined {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const argv = cmdline === '' ? [] : cmdline.replace(/\0$/, '').split('\0');
    const startTime = processStartTime(pid);
    return startTime === undefined ? undefined : { pid, comm, argv, startTime };
  } catch {
    return undefined; // it ended while we read it
  }
}

function scan(id: NetnsIdentity): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (!sameNetns(processNetns(pid), id)) continue;
    const p = info(pid);
    if (p) out.push(p);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/**
 * Every process in namespace `netns` (ours when undefined), by namespace
 * inode through /proc. DummyNet's netns_process_list, `ip netns pids NS`.
 */
export function processes(netns: string | undefined): ProcessInfo[] {
  checkNetns(netns);
  return scan(netnsIdentity(netns));
}

function checkPid(pid: unknown): asserts pid is number {
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) {
    throw new ValidationError(`a pid is a positive integer, got ${shown(pid)}`, 'pid');
  }
}

function signalName(signo: number): NodeJS.Signals {
  return (Object.entries(constants.signals).find(([, n]) => n === signo)?.[0] ?? `SIG${signo}`) as NodeJS.Signals;
}

/**
 * Sends `signal` (default SIGTERM) to process `pid`, only if it runs in
 * namespace `netns`: a pid outside it is a NamespaceError and nothing is
 * sent (unlike DummyNet's `ip netns exec NS kill -9 PID`, which kills any
 * pid: kill(2) does not look at namespaces). Does not wait for the exit.
 * Returns the process signalled.
 */
export function killProcess(netns: string | undefined, pid: number, signal: NodeJS.Signals | number = 'SIGTERM'): KilledProcess {
  checkNetns(netns);
  checkPid(pid);
  const signo = signalNumber(signal);
  if (pid === process.pid) throw new ValidationError(`killProcess: ${pid} is this process`, 'pid');
  const id = netnsIdentity(netns);
  const fd = openPidfd(pid);
  const ns = netns === undefined ? 'this namespace' : `namespace "${netns}"`;
  if (fd === undefined) throw new NamespaceError(`no process ${pid} in ${ns} (no such process)`);
  try {
    const p = sameNetns(processNetns(pid), id) ? info(pid) : undefined;
    if (!p) throw new NamespaceError(`process ${pid} is not in ${ns}: not signalled`);
    if (!signalPidfd(fd, signo)) throw new NamespaceError(`no process ${pid} in ${ns} (it has exited)`);
    return { ...p, signal: signalName(signo) };
  } finally {
    closePidfd(fd);
  }
}

/**
 * Refuses a namespace that is this process's own or PID 1's (a name in
 * /run/netns can be a bind mount of either): ending all its processes would
 * end the host's.
 */
export function assertNotHostNamespace(netns: string, id: NetnsIdentity): void {
  if (sameNetns(id, netnsIdentity(undefined)) || sameNetns(id, processNetns(1))) {
    throw new NamespaceError(
      `namespace "${netns}" is this process's own or PID 1's: killAll refuses to end every process of the host`,
    );
  }
}

export interface KillAllOptions {
  /** The first signal (default SIGTERM). */
  signal?: NodeJS.Signals | number;
  /** How long the first signal has before SIGKILL (ms, default 5000). */
  timeout?: number;
  /** How long SIGKILL has before a TimeoutError (ms, default 5000). */
  killTimeout?: number;
}

/**
 * Ends every process of namespace `netns`: `signal` (SIGTERM) to all,
 * waits up to `timeout` for them to exit (pidfd events, no polling),
 * SIGKILL for the rest, and resolves only when none is left (exited
 * processes, zombies included, are gone: see the module comment).
 * Processes forked meanwhile are found by scanning again and get the same
 * treatment. Returns those it signalled. Refuses our own namespace and
 * PID 1's (that would be the whole host); never signals this process.
 * DummyNet's netns_kill_all.
 */
export async function killAll(netns: string, options: KillAllOptions = {}): Promise<KilledProcess[]> {
  if (netns === undefined)
    throw new ValidationError('killAll needs a namespace name (it will not kill every process of ours)', 'netns');
  checkNetns(netns);
  const { signal = 'SIGTERM', timeout = 5000, killTimeout = 5000 } = options;
  for (const [field, v] of [
    ['timeout', timeout],
    ['killTimeout', killTimeout],
  ] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new ValidationError(`killAll: ${field} is milliseconds ≥ 0, got ${shown(v)}`, field);
  }
  let signo = signalNumber(signal);
  const id = netnsIdentity(netns);
  assertNotHostNamespace(netns, id);
  const killed = new Map<number, KilledProcess>();
  let deadline = Date.now() + timeout;
  let finalRound = false;
  for (;;) {
    const left = scan(id).filter((p) => p.pid !== process.pid);
    if (left.length === 0) return [...killed.values()];
    if (Date.now() >= deadline) {
      if (finalRound) {
        throw new TimeoutError(
          `namespace "${netns}" still has ${left.map((p) => `${p.pid} (${p.comm})`).join(', ')} ${killTimeout} ms after SIGKILL`,
        );
      }
      finalRound = true;
      signo = 9;
      deadline = Date.now() + killTimeout;
    }
    const fds: number[] = [];
    for (const p of left) {
      const fd = openPidfd(p.pid);
      if (fd === undefined) continue;
      // The same process as listed, and still in the namespace, now that the pidfd pins it.
      if (!sameNetns(processNetns(p.pid), id) || processStartTime(p.pid) !== p.startTime) {
        closePidfd(fd);
        continue;
      }
      if (signalPidfd(fd, signo)) killed.set(p.pid, { ...p, signal: signalName(signo) });
      fds.push(fd);
    }
    try {
      await waitExited(fds, deadline - Date.now());
    } finally {
      for (const fd of fds) closePidfd(fd);
    }
  }
}
