/**
 * A phase whose steps run at once rather than one after another: the
 * switches of a commit (each takes a second or two to listen). Every step
 * is awaited, failed or not, before the phase ends: a rollback then knows
 * exactly which ones ran (those are in `applied`, and undone), and nothing
 * is left starting behind its back.
 */
import type { Executor } from './execute.js';
import type { Step } from './plan.js';

/** Whether a phase's steps run at once: all of them switch starts or stops, more than one. */
export function isParallelGroup(group: readonly Step[]): boolean {
  return group.length > 1 && group.every((s) => s.request.op === 'switch');
}

/** Runs every step of the group at once; the applied ones go into `applied` (in plan order), the first failure is returned. */
export async function runParallel(
  exec: Executor,
  group: readonly Step[],
  applied: Step[],
): Promise<{ what: string; error: Error } | undefined> {
  const results = await Promise.allSettled(group.map((s) => exec.host.run(s.request)));
  let failure: { what: string; error: Error } | undefined;
  results.forEach((r, i) => {
    const step = group[i] as Step;
    if (r.status === 'fulfilled') applied.push(step);
    else failure ??= { what: step.what, error: r.reason as Error };
  });
  return failure;
}
