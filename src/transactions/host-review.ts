/**
 * The review of what a transaction stages outside rtnetlink, in the same
 * terms as the rest: a namespace made is `{ add: true }`, one removed
 * `{ remove: true, interfaces, processes }` (what goes with it); a sysctl
 * `{ from, to }`; a process `{ start: argv }` or `{ run: argv }`.
 */
import type { ObjectDiff } from './diff.js';
import type { HostStaging } from './host-staging.js';

export interface HostReview {
  namespaces?: Record<string, ObjectDiff>;
  sysctls?: Record<string, ObjectDiff>;
  processes?: Record<string, ObjectDiff>;
}

export function reviewHost(h: HostStaging, label: (netns: string, name: string) => string): HostReview {
  const out: HostReview = {};
  const namespaces: Record<string, ObjectDiff> = {};
  for (const [name, s] of h.namespaces) {
    namespaces[name] = s.target
      ? { add: true }
      : { remove: true, interfaces: s.base?.interfaces ?? [], processes: s.base?.processes ?? [] };
  }
  const sysctls: Record<string, ObjectDiff> = {};
  for (const s of h.sysctls.values()) {
    const t = s.target;
    if (!t || s.base?.value === t.value) continue;
    sysctls[label(t.netns, t.key)] = { from: s.base?.value ?? null, to: t.value };
  }
  const processes: Record<string, ObjectDiff> = {};
  for (const s of h.processes.values()) {
    const t = s.target;
    if (!t) continue;
    const d: ObjectDiff = { [t.run ? 'run' : 'start']: t.argv, netns: t.netns };
    if (t.limits) d.limits = t.limits;
    processes[t.name] = d;
  }
  if (Object.keys(namespaces).length) out.namespaces = namespaces;
  if (Object.keys(sysctls).length) out.sysctls = sysctls;
  if (Object.keys(processes).length) out.processes = processes;
  return out;
}
