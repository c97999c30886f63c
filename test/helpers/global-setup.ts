/**
 * Runs once around the whole suite. Every test removes its own namespace;
 * this is the last line of defence: at the end, any namespace this run left
 * behind is removed and reported, so a leak fails loudly but never stays on
 * the machine. A run tags its namespaces with a run id (`nst-<run>-...`), so
 * two suites running at once on one machine never remove each other's.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function leftovers(prefix: string): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] as string)
      .filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

export function setup(): void {
  // Inherited by the test workers, which are forked after this runs.
  process.env.NST_RUN ??= randomBytes(3).toString('hex');
  // The stores tests open keep their commit journal here, never in /var/lib/netstate.
  process.env.NETSTATE_JOURNAL ??= join(tmpdir(), `nst-journal-${process.env.NST_RUN}.sqlite`);
}

export function teardown(): void {
  const left = leftovers(`nst-${process.env.NST_RUN}-`);
  for (const name of left) {
    try {
      execFileSync('ip', ['netns', 'del', name]);
    } catch {}
  }
  if (left.length) console.error(`removed namespaces left behind by tests: ${left.join(', ')}`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${process.env.NETSTATE_JOURNAL}${suffix}`, { force: true });
}
