/** Child processes a test runs and watches: test/fixtures/*.mjs scripts, run against the built package. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** A script of test/fixtures, by name. */
export const fixture = (name: string): string => join(import.meta.dirname, '../fixtures', name);

/**
 * Runs a child until it prints a line matching `line` (resolves with the
 * child, that line and a promise of its exit code), or rejects when it
 * exits first.
 */
export function childUntil(
  args: string[],
  line: RegExp,
  options: { env?: NodeJS.ProcessEnv; script?: string } = {},
): Promise<{ child: ChildProcess; match: string; exited: Promise<number | null> }> {
  const script = options.script ?? fixture('commit-child.mjs');
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.split('\n').find((l) => line.test(l));
      if (m) resolve({ child, match: m, exited });
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    void exited.then((code) => reject(new Error(`the child exited (${code}) before ${line}: ${out} ${err}`)));
  });
}
