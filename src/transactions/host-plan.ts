/**
 * Steps for what a commit changes outside rtnetlink: namespaces made and
 * removed, sysctls written, processes started. Like every step they carry
 * their undo as plain data (the journal writes them down), and a step whose
 * effect cannot be put back says so in `lost`.
 *
 * Where they go in the plan: namespaces are made before anything else and
 * removed after everything else; sysctls of the namespace as a whole (all,
 * default, ip_forward) right after the namespaces, those of an interface the
 * commit makes once it exists; processes last, once the network they use is
 * up.
 */
import { sysctlComponents } from '../backends/sysctl.js';
import type { Request, Step } from './plan.js';
import type { InterfaceTarget, NamespaceTarget, ProcessTarget, Staged, SysctlTarget } from './staged.js';

export const HOST_PHASES = {
  createNamespaces: 1,
  setSysctls: 3,
  setLinkSysctls: 118,
  startProcesses: 190,
  removeNamespaces: 200,
} as const;

/** The non-netlink requests (what `op` names besides the netlink families and 'tuntap'). */
export type HostOp = 'netns' | 'sysctl' | 'process' | 'switch';

export interface HostStaging {
  namespaces: Iterable<Staged<NamespaceTarget>>;
  sysctls: Iterable<Staged<SysctlTarget>>;
  processes: Iterable<Staged<ProcessTarget>>;
}

export function hostSteps(staging: HostStaging, interfaces: Iterable<Staged<InterfaceTarget>>): Omit<Step, 'order'>[] {
  const steps: Omit<Step, 'order'>[] = [];
  const created = new Set<string>();
  for (const s of interfaces) if (s.target && (!s.base || s.replaced)) created.add(`${s.target.netns}|${s.target.ifname}`);
  for (const s of staging.namespaces) steps.push(namespaceStep(s));
  for (const s of staging.sysctls) {
    const step = sysctlStep(s, created);
    if (step) steps.push(step);
  }
  for (const s of staging.processes) if (s.target) steps.push(processStep(s.target));
  return steps;
}

function namespaceStep({ base, target }: Staged<NamespaceTarget>): Omit<Step, 'order'> {
  if (target) {
    const name = target.name;
    return {
      phase: HOST_PHASES.createNamespaces,
      what: `namespace ${name}: add`,
      request: { netns: name, op: 'netns', cmd: 'add', spec: { name, loopback: target.loopback ?? 'up' } },
      undo: [{ netns: name, op: 'netns', cmd: 'del', spec: { name } }],
    };
  }
  const name = (base as NamespaceTarget).name;
  const gone = [...(base?.interfaces ?? []).map((i) => `interface ${i}`), ...(base?.processes ?? []).map((p) => `process ${p}`)];
  return {
    phase: HOST_PHASES.removeNamespaces,
    what: `namespace ${name}: remove`,
    request: { netns: name, op: 'netns', cmd: 'del', spec: { name } },
    undo: [{ netns: name, op: 'netns', cmd: 'add', spec: { name } }],
    lost: `namespace ${name} was made again empty${gone.length ? `: ${gone.join(', ')} went with it` : ''}`,
  };
}

/** What names an interface in a sysctl key (net.ipv4.conf.v0.rp_filter, net.ipv6.neigh.v0.*), if anything. */
function interfaceOfKey(key: string): string | undefined {
  const c = sysctlComponents(key);
  if (c[0] === 'net' && (c[1] === 'ipv4' || c[1] === 'ipv6') && (c[2] === 'conf' || c[2] === 'neigh')) {
    const ifname = c[3];
    return ifname === 'all' || ifname === 'default' ? undefined : ifname;
  }
  return undefined;
}

function sysctlStep({ base, target }: Staged<SysctlTarget>, created: ReadonlySet<string>): Omit<Step, 'order'> | undefined {
  if (!target || base?.value === target.value) return undefined;
  const ifname = interfaceOfKey(target.key);
  const request: Request = { netns: target.netns, op: 'sysctl', cmd: 'set', spec: { key: target.key, value: target.value } };
  return {
    phase: ifname && created.has(`${target.netns}|${ifname}`) ? HOST_PHASES.setLinkSysctls : HOST_PHASES.setSysctls,
    what: `sysctl ${target.key}${target.netns === '' ? '' : ` in ${target.netns}`}: ${base?.value ?? '(none)'} -> ${target.value}`,
    request,
    // A key that did not exist (an interface this commit makes) goes with its interface.
    undo: base ? [{ ...request, spec: { key: base.key, value: base.value } }] : [],
  };
}

function processStep(t: ProcessTarget): Omit<Step, 'order'> {
  const spec = { ...t } as unknown as Record<string, unknown>;
  const what = `process ${t.name} in ${t.netns}: ${t.run ? 'run' : 'start'} ${t.argv.join(' ')}`;
  return {
    phase: HOST_PHASES.startProcesses,
    what,
    request: { netns: t.netns, op: 'process', cmd: 'add', spec },
    // Whatever still runs in its cgroup is killed (what it forked too); what a command did is not undone.
    undo: [{ netns: t.netns, op: 'process', cmd: 'del', spec: { name: t.name, cgroup: t.cgroup } }],
    ...(t.run ? { lost: `what ${t.argv.join(' ')} did in ${t.netns} (a command's effects cannot be undone)` } : {}),
  };
}
