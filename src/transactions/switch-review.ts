/**
 * The review of staged switches, in the terms of the rest: one started is
 * `{ start: true, netns, ports, deviceId, grpcAddress, thriftPort, program | noP4, restart }`,
 * one stopped `{ stop: true, netns }`, one restarted with another spec both.
 */
import { parseBmv2Options } from '../backends/bmv2/options.js';
import type { ObjectDiff } from './diff.js';
import type { SwitchStaging } from './switch-staging.js';

export function reviewSwitches(
  staging: SwitchStaging,
  label: (netns: string, name: string) => string,
): { switches?: Record<string, ObjectDiff> } {
  const out: Record<string, ObjectDiff> = {};
  for (const { base, target } of staging.switches.values()) {
    const t = target ?? base;
    if (!t) continue;
    const d: ObjectDiff = { netns: t.netns };
    if (base) d.stop = true;
    if (target) {
      const c = parseBmv2Options({ ...target.options, name: target.name });
      d.start = true;
      d.ports = Object.fromEntries(c.ports);
      d.deviceId = c.deviceId;
      d.grpcAddress = c.grpcAddress;
      d.thriftPort = c.thriftPort;
      if (c.program !== undefined) d.program = c.program;
      else d.noP4 = true;
      d.restart = target.restart;
      if (target.options.limits) d.limits = target.options.limits;
    }
    out[label(t.netns, t.name)] = d;
  }
  return Object.keys(out).length ? { switches: out } : {};
}
