/**
 * Supervision of a switch: when it ends on its own (state 'exited', not a
 * stop() or kill()), it is started again after a delay that doubles from
 * one failure to the next (0.5 s, 1 s, 2 s ... up to 30 s by default), and
 * starts over from the first once a run has lasted `resetAfter` (10 s): a
 * switch that crashes at once is not restarted in a tight loop, one that
 * crashes once a day is restarted quickly. A start that fails (its port
 * gone, not listening in time) counts as a failure too. It gives up when
 * the switch's namespace is gone.
 *
 * Supervision never keeps Node running by itself: its timers are unref'd
 * and a restart's readiness wait does not hold the event loop.
 */
import { type Observable, Subject, type Subscription } from 'rxjs';
import { netnsExists } from '../netns.js';
import type { Bmv2Switch } from './switch.js';

/** Why a switch must not be started again (it was taken down by someone else), or undefined. */
export type RestartGuard = () => string | undefined;

export interface BackoffOptions {
  /** The first delay (ms, default 500). */
  initial?: number;
  /** The longest delay (ms, default 30 000). */
  max?: number;
  /** A run that lasted this long (ms, default 10 000) starts the delays over. */
  resetAfter?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initial: 500, max: 30_000, resetAfter: 10_000 };

/** What supervision did: a restart planned after `delay` ms, done, failed, or given up. */
export type SupervisionEvent =
  | { kind: 'scheduled'; attempt: number; delay: number }
  | { kind: 'restarted'; attempt: number; pid: number }
  | { kind: 'failed'; attempt: number; error: Error }
  | { kind: 'gave-up'; reason: string };

export class Supervisor {
  /** Every restart planned, done, failed, and the end of supervision. */
  readonly events$: Observable<SupervisionEvent>;
  readonly #events = new Subject<SupervisionEvent>();
  readonly #backoff: Required<BackoffOptions>;
  readonly #watch: Subscription;
  #enabled = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #delay: number | undefined;
  #readyAt: number | undefined;
  #attempts = 0;
  #restarts = 0;

  constructor(
    readonly sw: Bmv2Switch,
    backoff: BackoffOptions = {},
    /** Asked before each restart: a reason not to (supervision then gives up). */
    private readonly guard: RestartGuard = () => undefined,
  ) {
    this.#backoff = { ...DEFAULT_BACKOFF, ...backoff };
    this.events$ = this.#events.asObservable();
    if (sw.state === 'running') this.#readyAt = Date.now();
    this.#watch = sw.changes$.subscribe((s) => {
      if (s.state === 'running') this.#readyAt = Date.now();
      if (s.state === 'exited' && this.#enabled) this.#schedule();
    });
  }

  /** Whether an exit is followed by a restart. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Restarts done so far (successful starts). */
  get restarts(): number {
    return this.#restarts;
  }

  /** Restarts the switch whenever it ends on its own; at once (after the first delay) if it has already. */
  enable(): void {
    if (this.#closed) return;
    this.#enabled = true;
    if (this.sw.state === 'exited' && !this.#timer) this.#schedule();
  }

  /** No more restarts (a planned one is cancelled). */
  disable(): void {
    this.#enabled = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Ends supervision for good; the switch is left as it is. */
  close(): void {
    if (this.#closed) return;
    this.disable();
    this.#closed = true;
    this.#watch.unsubscribe();
    this.#events.complete();
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    const netns = this.sw.netns;
    const reason = netns !== undefined && !netnsExists(netns) ? `namespace "${netns}" is gone` : this.guard();
    if (reason !== undefined) {
      this.disable();
      this.#events.next({ kind: 'gave-up', reason });
      return;
    }
    const ranLong = this.#readyAt !== undefined && Date.now() - this.#readyAt >= this.#backoff.resetAfter;
    this.#delay = this.#delay === undefined || ranLong ? this.#backoff.initial : Math.min(this.#delay * 2, this.#backoff.max);
    this.#readyAt = undefined;
    const attempt = ++this.#attempts;
    this.#events.next({ kind: 'scheduled', attempt, delay: this.#delay });
    this.#timer = setTimeout(() => void this.#restart(attempt), this.#delay);
    this.#timer.unref();
  }

  async #restart(attempt: number): Promise<void> {
    this.#timer = undefined;
    if (!this.#enabled || this.sw.isRunning) return;
    try {
      this.sw.start();
      await this.sw.awaitReady(undefined, false);
      this.#restarts++;
      this.#events.next({ kind: 'restarted', attempt, pid: this.sw.pid as number });
    } catch (e) {
      if (this.#closed) return;
      this.#events.next({ kind: 'failed', attempt, error: e as Error });
      // Ended before it was ready: its exit planned the next attempt already. Still running but not
      // listening: it is ended first (that is a stop, so the next attempt is planned here).
      if (this.sw.isRunning) await this.sw.kill();
      if (this.#enabled && !this.sw.isRunning) this.#schedule();
    }
  }
}
