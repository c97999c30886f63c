/**
 * Runs once around the whole suite. Every test removes its own namespace;
 * this is the last line of defence: at the end, any `nst-` namespace this run
 * left behind is removed and reported, so a leak fails loudly but never
 * stays on the machine.
 */
import { execFileSync } from 'node:child_process';

function leftovers(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] as string)
      .filter((n) => n.startsWith('nst-'));
  } catch {
    return [];
  }
}

export function setup(): void {}

export function teardown(): void {
  const left = leftovers();
  for (const name of left) {
    try {
      execFileSync('ip', ['netns', 'del', name]);
    } catch {}
  }
  if (left.length) console.error(`removed namespaces left behind by tests: ${left.join(', ')}`);
}
