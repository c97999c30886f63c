/**
 * Processes and cgroups a runtime test makes, ended and removed after each
 * test, pass or fail: every process left in the test's namespaces is killed
 * (before the namespace itself goes), and every cgroup this worker made
 * (named by freshName, or `proc-<pid>-…` for spawn's private ones) removed.
 */
import { readFileSync } from 'node:fs';
import { afterEach } from 'vitest';
import { cgroupList, killAll, removeCgroup } from '../../src/index.js';

/** Cgroup names this worker may have made. */
export function ownCgroup(name: string): boolean {
  const run = process.env.NST_RUN ?? 'x';
  return [`nst-${run}-${process.pid}-`, `proc-${process.pid}-`, `tx-${process.pid}-`].some((p) => name.startsWith(p));
}

/** Registers the cleanup; call after useNetns() so that it runs before the namespaces are removed. */
export function useRuntimeCleanup(namespaces: () => string[]): void {
  afterEach(async () => {
    for (const ns of namespaces()) await killAll(ns, { timeout: 1000 }).catch(() => {});
    for (const c of cgroupList()) if (ownCgroup(c.name)) await removeCgroup(c.name).catch(() => {});
  });
}

/** A file of a cgroup directory, trimmed. */
export function cgroupFile(dir: string, file: string): string {
  return readFileSync(`${dir}/${file}`, 'utf8').trim();
}
