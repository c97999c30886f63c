/**
 * Who and where: what tells one boot, one process and one namespace from
 * another when a record outlives the process that wrote it (the commit
 * journal). A pid alone is reused; a pid with its start time is not. A
 * namespace name alone can be made again; its inode cannot.
 */
import { readFileSync, statSync } from 'node:fs';
import { netnsPath } from './netns.js';

/** This boot's id: state written before a reboot is void after it (/run is not a tmpfs here). */
export function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/**
 * When a process started, in clock ticks since boot (field 22 of
 * /proc/PID/stat), or undefined when there is no such process.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count from its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

/** Whether the process that wrote (pid, start time) still runs: the same pid with another start time is another process. */
export function processAlive(pid: number, startTime: string): boolean {
  return processStartTime(pid) === startTime;
}

/** A namespace's identity: the inode of /run/netns/NAME, or of the process's own namespace (the root one). */
export function netnsInode(name: string | undefined): number | undefined {
  try {
    return statSync(name === undefined ? '/proc/self/ns/net' : netnsPath(name)).ino;
  } catch {
    return undefined;
  }
}
