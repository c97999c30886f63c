/**
 * What is left of a lab on this machine, read from the kernel rather than
 * from the lab's records: the namespaces tagged `LAB.`, the cgroups under
 * netstate/ named after its nodes, and the live processes in either (a
 * zombie has ended; it waits only for its parent to collect it). After
 * `lab down`, all three are empty.
 */
import { readFileSync } from 'node:fs';
import { cgroupList } from '../../backends/cgroup.js';
import { listNetns } from '../../backends/netns.js';
import { namespacesOfLab } from './names.js';

export interface Leftovers {
  namespaces: string[];
  cgroups: string[];
  /** Live pids, in a cgroup of the lab (its switches, its exec commands). */
  processes: number[];
}

function alive(pid: number): boolean {
  try {
    // The state follows the command name in parentheses, which may itself hold spaces.
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

export function leftoversOf(lab: string): Leftovers {
  const cgroups = cgroupList().filter((c) => namespacesOfLab(lab, [c.name]).length > 0);
  return {
    namespaces: namespacesOfLab(lab, listNetns()).sort(),
    cgroups: cgroups.map((c) => c.name),
    processes: [...new Set(cgroups.flatMap((c) => c.pids))].filter(alive).sort((a, b) => a - b),
  };
}

/** Nothing left: no namespace, cgroup or live process of the lab. */
export function isGone(l: Leftovers): boolean {
  return l.namespaces.length === 0 && l.cgroups.length === 0 && l.processes.length === 0;
}
