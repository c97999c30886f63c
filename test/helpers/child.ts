/** Child processes a test runs and watches: test/fixtures/*.mjs scripts, run against the built package. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const CHILD = join(import.meta.dirname, '../fixtures/commit-child.mjs');

/** Runs the child until it prints `line` (resolves with the child), or rejects when it exits first. */
export function childUntil(
  args: string[],
  line: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; match: string }> {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.split('\n').find((l) => line.test(l));
      if (m) resolve({ child, match: m });
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => reject(new Error(`the child exited (${code}) before "${line}": ${out} ${err}`)));
  });
}
