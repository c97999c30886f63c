/**
 * Steps for the switches a commit starts and stops. A switch stops before
 * anything else changes (phase 5: before its ports may be removed, which
 * BMv2 would not notice) and starts once the links, ports, addresses and
 * states of the commit are in place (phase 185: after setState, routes and
 * neighbours, before processes, which may talk to it). The switches of one
 * commit start in one phase, at once (parallel.ts): each takes a second or
 * two to listen, so one after another would add up.
 *
 * The undo of a start stops the switch and removes its cgroup with whatever
 * runs in it: named up front, that cgroup is what another process undoing
 * the commit from the journal kills (it has no handle on the process).
 * The undo of a stop starts it again with the spec it was started with.
 */
import type { Step } from './plan.js';
import type { Staged } from './staged.js';
import type { SwitchTarget } from './switch-staging.js';

export const SWITCH_PHASES = { stopSwitches: 5, startSwitches: 185 } as const;

function ports(t: SwitchTarget): string {
  return Object.entries(t.options.ports ?? {})
    .map(([p, i]) => `${p}@${i}`)
    .join(' ');
}

function where(netns: string): string {
  return `in ${netns}`;
}

export function switchSteps(switches: Iterable<Staged<SwitchTarget>>): Omit<Step, 'order'>[] {
  const steps: Omit<Step, 'order'>[] = [];
  for (const { base, target } of switches) {
    if (base) {
      steps.push({
        phase: SWITCH_PHASES.stopSwitches,
        what: `switch ${base.name} ${where(base.netns)}: stop`,
        request: { netns: base.netns, op: 'switch', cmd: 'del', spec: { name: base.name, cgroup: base.cgroup } },
        undo: [{ netns: base.netns, op: 'switch', cmd: 'add', spec: { ...base } as unknown as Record<string, unknown> }],
      });
    }
    if (target) {
      steps.push({
        phase: SWITCH_PHASES.startSwitches,
        what: `switch ${target.name} ${where(target.netns)}: start${ports(target) ? ` (ports ${ports(target)})` : ''}`,
        request: { netns: target.netns, op: 'switch', cmd: 'add', spec: { ...target } as unknown as Record<string, unknown> },
        undo: [{ netns: target.netns, op: 'switch', cmd: 'del', spec: { name: target.name, cgroup: target.cgroup } }],
      });
    }
  }
  return steps;
}
