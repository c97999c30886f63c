/**
 * Processes as a reader independent of netstate sees them: iproute2's
 * `ip netns pids` (its own scan of /proc) and /proc/PID itself.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

/** `ip netns pids NS`, in ascending order. */
export function netnsPids(ns: string): number[] {
  return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
}

/** /proc/PID/comm (empty once it is gone). */
export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** What a pid runs, /proc/PID/exe (empty once it is gone). */
export function exe(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

/** Gone, or a zombie waiting to be reaped: either way it runs no more. */
export function dead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
