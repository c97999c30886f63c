/**
 * `db.switches` as the NetState facade hands it out: the records, and a
 * freeze. A frozen switch is pinned to running: when it ends on its own it
 * is started again, after a delay that doubles from one failure to the next
 * (supervisor.ts), until released. The same as starting it with
 * `restart: 'on-failure'`; the record's `restart` says which it is.
 *
 *   const frozen = db.switches.freeze('s1', { backoff: { initial: 200 } });
 *   frozen.events$.subscribe(console.log);   // scheduled, restarted, failed, gave-up
 *   frozen.release();
 */
import type { Observable } from 'rxjs';
import type { BackoffOptions, SupervisionEvent } from '../backends/bmv2/supervisor.js';
import type { Database } from '../db/database.js';
import type { StoreEvent } from '../db/events.js';
import type { Store } from '../db/store.js';
import { SwitchCollection } from '../db/switches.js';
import { switchRuntime } from '../transactions/switch-runtime.js';

/** A frozen switch: restarted whenever it ends on its own, until released. */
export interface FrozenSwitch {
  readonly name: string;
  readonly netns: string;
  /** What supervision does (completes when released). */
  readonly events$: Observable<SupervisionEvent>;
  /** Ends the freeze (the switch keeps running; no more restarts). */
  release(): void;
}

export class Switches extends SwitchCollection {
  constructor(
    private readonly owner: () => Database,
    /** The namespace a call without one means. */
    private readonly defaultNetns: () => string,
    store: Store,
    publish: (event: StoreEvent) => void,
  ) {
    super(store, publish);
  }

  /** Restarts the switch whenever it ends on its own (with growing delays), until released. */
  freeze(name: string, opts: { netns?: string; backoff?: BackoffOptions } = {}): FrozenSwitch {
    const netns = opts.netns ?? this.defaultNetns();
    const runtime = switchRuntime(this.owner());
    runtime.setRestart(netns, name, 'on-failure', opts.backoff);
    const supervisor = runtime.supervisorOf(netns, name);
    return {
      name,
      netns,
      events$: supervisor?.events$ as Observable<SupervisionEvent>,
      release: () => {
        if (runtime.supervisorOf(netns, name) === supervisor) runtime.setRestart(netns, name, 'no');
      },
    };
  }

  /** Ends a freeze (or a `restart: 'on-failure'`): no more restarts. */
  unfreeze(name: string, opts: { netns?: string } = {}): void {
    switchRuntime(this.owner()).setRestart(opts.netns ?? this.defaultNetns(), name, 'no');
  }
}
