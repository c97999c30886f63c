/**
 * Runs the requests of host-plan.ts: namespaces, sysctls, processes. Each
 * checks its own outcome before it returns (a sysctl read back, a process
 * alive or exited 0), since the store shows none of them.
 *
 * A namespace a commit makes is followed by the store from then on (its
 * links are confirmed like any other); one removed loses its processes
 * first, then its records. Processes start in a cgroup of their own
 * (netstate/NAME), which is what their undo removes, with everything still
 * running in it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupList, createCgroup, removeCgroup } from '../backends/cgroup.js';
import { Rtnl } from '../backends/netlink/rtnl.js';
import { createNetns, netnsExists, removeNetns } from '../backends/netns.js';
import { killAll, processes } from '../backends/process/members.js';
import { type NsProcess, spawn } from '../backends/process/spawn.js';
import { readSysctl, writeSysctl } from '../backends/sysctl.js';
import type { Database } from '../db/database.js';
import { ROOT } from '../db/source.js';
import { NetStateError, ProcessError } from '../errors.js';
import type { Request } from './plan.js';
import type { ProcessTarget } from './staged.js';
import { switchRuntime } from './switch-runtime.js';
import type { SwitchTarget } from './switch-staging.js';

/** How long a process must stay up after its start to count as started (it may fail at once: a bad option). */
const SETTLE_MS = 50;
/** How much of a failed command's output its error carries. */
const STDERR_TAIL = 2000;

export function isHostRequest(r: Request): boolean {
  return r.op === 'netns' || r.op === 'sysctl' || r.op === 'process' || r.op === 'switch';
}

export class HostRequests {
  /** Processes started by this commit, by their name in the transaction. */
  readonly started = new Map<string, NsProcess>();

  constructor(private readonly db: Database) {}

  async run(r: Request): Promise<void> {
    if (r.op === 'netns') {
      const name = r.spec.name as string;
      return r.cmd === 'del' ? this.removeNamespace(name) : this.addNamespace(name, r.spec.loopback !== 'down');
    }
    if (r.op === 'sysctl') return this.setSysctl(r.netns, r.spec.key as string, r.spec.value as string);
    if (r.op === 'process') {
      if (r.cmd === 'del') return this.stopProcess(r.spec.name as string, r.spec.cgroup as string | undefined);
      return this.startProcess(r.spec as unknown as ProcessTarget);
    }
    if (r.op === 'switch') {
      // BMv2 switches (switch-runtime.ts): started ready or not at all; stopped with their cgroup.
      const runtime = switchRuntime(this.db);
      if (r.cmd === 'del') return runtime.stop(r.netns, r.spec.name as string, r.spec.cgroup as string | undefined);
      return runtime.start(r.spec as unknown as SwitchTarget);
    }
    throw new NetStateError(`not a host request: ${r.op} ${r.cmd}`);
  }

  private async addNamespace(name: string, loopbackUp: boolean): Promise<void> {
    createNetns(name);
    this.db.made.add(name);
    try {
      if (loopbackUp) {
        const nl = await Rtnl.open({ netns: name });
        try {
          await nl.link('set', { ifname: 'lo', state: 'up' });
        } finally {
          nl.close();
        }
      }
      await this.db.follow(name);
    } catch (e) {
      this.db.made.delete(name);
      removeNetns(name, { missingOk: true });
      throw e;
    }
  }

  /**
   * Its processes end first (a namespace goes only once nothing runs in it),
   * and the cgroups under netstate/ that held only them go with them; then
   * its records, then it.
   */
  private async removeNamespace(name: string): Promise<void> {
    if (!netnsExists(name)) return;
    const inside = new Set(processes(name).map((p) => p.pid));
    const theirs = cgroupList().filter((c) => c.pids.length > 0 && c.pids.every((pid) => inside.has(pid)));
    await killAll(name);
    for (const c of theirs) await removeCgroup(c.name).catch(() => undefined);
    if (this.db.followed.includes(name)) await this.db.unfollow(name);
    removeNetns(name, { missingOk: true });
    this.db.made.delete(name);
  }

  private async setSysctl(netns: string, key: string, value: string): Promise<void> {
    const where = netns === ROOT ? undefined : netns;
    writeSysctl(key, value, { netns: where });
    const now = readSysctl(key, { netns: where });
    if (now !== value) {
      throw new NetStateError(`sysctl ${key} in ${netns}: wrote ${value}, the kernel shows ${now}`);
    }
  }

  private async startProcess(t: ProcessTarget): Promise<void> {
    const netns = t.netns === ROOT ? undefined : t.netns;
    // A shared cgroup (a lab node's) is joined when an earlier step of the commit made it.
    const existing = t.shared ? cgroupList().find((c) => c.name === t.cgroup) : undefined;
    const cgroup = existing ? { ...existing, limits: {} } : createCgroup(t.cgroup, t.limits ?? {});
    // A command's output goes to its log (a file of ours when none is given), never to a pipe: what it
    // leaves running in the background (`iperf3 -s &`) would hold a pipe open past its exit.
    const own =
      t.run && t.log === undefined
        ? join(tmpdir(), `netstate-run-${process.pid}-${randomBytes(4).toString('hex')}.log`)
        : undefined;
    const path = t.log ?? own;
    let log: number | undefined;
    let ok = false;
    try {
      log = path === undefined ? undefined : openSync(path, 'a');
      const stdio = log ?? 'ignore';
      const p = spawn(netns, t.argv, { env: t.env, cwd: t.cwd, cgroup, stdout: stdio, stderr: stdio });
      if (t.run) {
        const status = await p.wait({ timeout: t.timeout ?? 30_000 }).catch((e) => {
          p.kill();
          throw e;
        });
        if (status.code !== 0) {
          const tail = path ? readFileSync(path, 'utf8').slice(-STDERR_TAIL) : '';
          throw new ProcessError(
            `${t.argv.join(' ')} in ${t.netns} failed: ${status.signal ?? `exit ${status.code}`}${tail ? `: ${tail.trim()}` : ''}`,
            t.argv,
            netns,
            status.code,
            status.signal,
            tail,
          );
        }
        ok = true;
        return;
      }
      this.started.set(t.name, p);
      // Started means still running a moment later: a process that fails at once fails its step.
      const ended = await p.wait({ timeout: SETTLE_MS }).then(
        () => true,
        () => false,
      );
      if (ended) {
        const { code, signal } = p.status ?? {};
        throw new ProcessError(
          `process ${t.name} (${t.argv.join(' ')}) ended at once: ${signal ?? `exit ${code}`}`,
          t.argv,
          netns,
          code ?? null,
          signal ?? null,
          '',
        );
      }
      ok = true;
    } finally {
      if (log !== undefined) closeSync(log);
      if (own) rmSync(own, { force: true });
      // A step is all or nothing: a process that did not start leaves no cgroup of its own behind.
      if (!ok) {
        this.started.delete(t.name);
        if (!existing) await removeCgroup(cgroup).catch(() => undefined);
      }
    }
  }

  private async stopProcess(name: string, cgroup: string | undefined): Promise<void> {
    const p = this.started.get(name);
    if (p) {
      await p.stop();
      this.started.delete(name);
    }
    if (cgroup) await removeCgroup(cgroup);
  }
}
