/**
 * The switches this process runs for a store: each a Bmv2Switch in a cgroup
 * of its own, its record in `db.switches` kept up to date from its changes
 * (starting, running, exited with its code or signal, stopped), and its
 * supervisor (restarts on failure when asked for, or when frozen).
 *
 * A switch whose namespace goes away is forgotten (record removed, its
 * cgroup killed). When the store closes, supervision ends and the switches
 * keep running: like links, they are the host's state, not the store's.
 *
 * Stopping one by name also works without a handle on it (another process
 * undoing a commit from the journal): its cgroup is removed, which kills
 * whatever runs in it.
 */

import { existsSync } from 'node:fs';
import { filter, type Subscription } from 'rxjs';
import { type BackoffOptions, type SupervisionEvent, Supervisor } from '../backends/bmv2/supervisor.js';
import { Bmv2Switch } from '../backends/bmv2/switch.js';
import { type Cgroup, createCgroup, removeCgroup } from '../backends/cgroup.js';
import type { Database } from '../db/database.js';
import { ROOT } from '../db/source.js';
import type { SwitchRecord } from '../db/switches.js';
import { NetStateError, ValidationError } from '../errors.js';
import type { SwitchTarget } from './switch-staging.js';

interface Managed {
  target: SwitchTarget;
  sw: Bmv2Switch;
  supervisor: Supervisor;
  cgroup: Cgroup;
  restart: 'no' | 'on-failure';
  subs: Subscription[];
}

const RUNTIMES = new WeakMap<Database, SwitchRuntime>();

/** The switch runtime of a store (made on first use). */
export function switchRuntime(db: Database): SwitchRuntime {
  let r = RUNTIMES.get(db);
  if (!r) {
    r = new SwitchRuntime(db);
    RUNTIMES.set(db, r);
  }
  return r;
}

export class SwitchRuntime {
  readonly #managed = new Map<string, Managed>();
  readonly #watch: Subscription;

  constructor(private readonly db: Database) {
    this.#watch = db.events$.pipe(filter((e) => e.kind === 'netns' && e.action === 'remove')).subscribe({
      next: (e) => this.#forgetNamespace(e.netns),
      complete: () => this.#detach(),
    });
  }

  /** The live switch of that name, when this process runs it. */
  get(netns: string, name: string): Bmv2Switch | undefined {
    return this.#managed.get(`${netns}|${name}`)?.sw;
  }

  /**
   * Starts a switch and resolves once it is ready; on any failure it is
   * ended, its cgroup and record removed, and the error thrown (a
   * Bmv2StartupError with its last lines).
   */
  async start(t: SwitchTarget): Promise<void> {
    const key = `${t.netns}|${t.name}`;
    if (this.#managed.has(key)) throw new NetStateError(`switch ${t.name} in ${t.netns} runs already`);
    const { limits, ...options } = t.options;
    const cgroup = createCgroup(t.cgroup, limits ?? {});
    let sw: Bmv2Switch;
    try {
      sw = new Bmv2Switch({ ...options, name: t.name, ...(t.netns === ROOT ? {} : { netns: t.netns }), cgroup });
    } catch (e) {
      await removeCgroup(cgroup).catch(() => undefined);
      throw e;
    }
    // The record follows each change before supervision acts on it (an exit is recorded, then restarted).
    const subs = [sw.changes$.subscribe(() => this.#record(m))];
    const m: Managed = { target: t, sw, supervisor: this.#supervise(sw, t.backoff, cgroup), cgroup, restart: t.restart, subs };
    this.#managed.set(key, m);
    subs.push(m.supervisor.events$.subscribe((e) => this.#supervised(m, e)));
    try {
      sw.start();
      await sw.waitUntilReady();
    } catch (e) {
      this.#release(m);
      await sw.kill().catch(() => undefined);
      await removeCgroup(cgroup).catch(() => undefined);
      this.db.switches.delete(t.netns, t.name);
      throw e;
    }
    if (m.restart === 'on-failure') m.supervisor.enable();
  }

  /**
   * Stops a switch (SIGTERM, SIGKILL after 5 s), removes its cgroup with
   * anything left in it, and its record. Without a live switch of that name
   * (another process started it), the cgroup's removal ends it.
   */
  async stop(netns: string, name: string, cgroup: string | undefined): Promise<void> {
    const key = `${netns}|${name}`;
    const m = this.#managed.get(key);
    if (m) {
      m.supervisor.close();
      await m.sw.stop();
      this.#release(m);
    }
    const group = m?.cgroup.name ?? cgroup;
    if (group) await removeCgroup(group);
    this.db.switches.delete(netns, name);
  }

  /** Supervision on or off for a running switch: restarted when it ends on its own (what a freeze is). */
  setRestart(netns: string, name: string, restart: 'no' | 'on-failure', backoff?: BackoffOptions): void {
    const m = this.#managed.get(`${netns}|${name}`);
    if (!m) {
      const known = this.db.switches.get({ netns, name });
      throw new ValidationError(
        known
          ? `switch ${name} in ${netns} is not run by this process: it cannot be supervised here`
          : `no switch ${name} in ${netns}`,
        'name',
      );
    }
    if (backoff) {
      // A new policy takes effect with a new supervisor (the delays start over).
      m.supervisor.close();
      m.supervisor = this.#supervise(m.sw, backoff, m.cgroup);
      m.subs.push(m.supervisor.events$.subscribe((e) => this.#supervised(m, e)));
    }
    m.restart = restart;
    if (restart === 'on-failure') m.supervisor.enable();
    else m.supervisor.disable();
    this.#record(m);
  }

  /** The supervisor of a running switch (its restarts), when this process runs it. */
  supervisorOf(netns: string, name: string): Supervisor | undefined {
    return this.#managed.get(`${netns}|${name}`)?.supervisor;
  }

  /**
   * A supervisor that restarts the switch in its cgroup, as long as that
   * cgroup exists: one removed by another process (a watchdog or a recovery
   * undoing the commit that started it) means the switch was taken down on
   * purpose.
   */
  #supervise(sw: Bmv2Switch, backoff: BackoffOptions | undefined, cgroup: Cgroup): Supervisor {
    return new Supervisor(sw, backoff, () =>
      cgroup.dirs.every((d) => existsSync(d.path))
        ? undefined
        : `its cgroup ${cgroup.name} was removed (the switch was stopped elsewhere)`,
    );
  }

  #supervised(m: Managed, e: SupervisionEvent): void {
    if (e.kind === 'restarted') this.#record(m);
    if (e.kind === 'gave-up' && this.#managed.get(`${m.target.netns}|${m.target.name}`) === m) {
      this.#release(m);
      void removeCgroup(m.cgroup).catch(() => undefined);
      this.db.switches.delete(m.target.netns, m.target.name);
    }
  }

  #record(m: Managed): void {
    const { sw, target } = m;
    const c = sw.config;
    const s = sw.status;
    const record: SwitchRecord = {
      name: target.name,
      netns: target.netns,
      pid: s.pid ?? null,
      state: s.state === 'new' ? 'starting' : s.state,
      ports: Object.fromEntries(c.ports),
      thriftPort: c.thriftPort,
      grpcPort: c.grpcPort,
      grpcAddress: c.grpcAddress,
      deviceId: c.deviceId,
      program: c.program ?? null,
      bootTimestampUs: s.bootTimestampUs ?? null,
      exitCode: s.exitCode,
      signal: s.signal,
      restart: m.restart,
      restarts: m.supervisor.restarts,
      cgroup: m.cgroup.name,
    };
    this.db.switches.put(record, target);
  }

  #release(m: Managed): void {
    m.supervisor.close();
    for (const s of m.subs) s.unsubscribe();
    this.#managed.delete(`${m.target.netns}|${m.target.name}`);
  }

  /** Its namespace is gone (and the switch with it): no supervision, no record, no cgroup. */
  #forgetNamespace(netns: string): void {
    for (const m of [...this.#managed.values()]) {
      if (m.target.netns !== netns) continue;
      this.#release(m);
      void m.sw.kill().catch(() => undefined);
      void removeCgroup(m.cgroup).catch(() => undefined);
      this.db.switches.delete(netns, m.target.name);
    }
  }

  /** The store closed: supervision ends, the switches run on. */
  #detach(): void {
    for (const m of [...this.#managed.values()]) this.#release(m);
    this.#watch?.unsubscribe();
    RUNTIMES.delete(this.db);
  }
}
