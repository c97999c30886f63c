/**
 * Tells the main thread when a socket netstate reads (netlink, ICMP) has
 * something queued, for every socket of the process, whatever namespace it
 * lives in — without ever keeping the process alive by itself, without ever
 * delaying its exit, and keeping it alive while something is awaited
 * (`hold()`: a request whose reply is still to come, a send on a worker
 * thread, an ICMP echo).
 *
 * Every watched socket is in one epoll instance. How the main thread learns
 * that the instance is readable:
 *
 * - io_uring (uring.ts), where the kernel allows it: a poll of the epoll
 *   instance linked to a one-byte write into a pipe that Node's own event
 *   loop reads. One wake-up per arm, no thread, no signal; the pipe's handle
 *   is unref'd, and ref'd while something is held.
 * - Otherwise, two ways, because one must keep the process alive and the
 *   other must not:
 *   - nothing held: signal-driven I/O. Each socket has O_ASYNC, this process
 *     as owner (F_SETOWN) and SIGURG as its signal (F_SETSIG);
 *     `process.on('SIGURG')` drains. Node's signal handles are unref'd.
 *     SIGURG because its default action is to ignore: a signal that outlives
 *     the listener is dropped instead of killing the process (SIGIO's
 *     default is to terminate). The kernel raises one per datagram queued, so
 *     a socket's O_ASYNC is off while it is drained, back on once a read
 *     meets EAGAIN, followed by one more read (what arrived in between raised
 *     no signal).
 *   - something held: one waiting thread, `epoll_wait` as a koffi async call
 *     (a libuv work request: it keeps the process alive, as an await should),
 *     O_ASYNC off everywhere. Bounded (WAIT_BOUND_MS), and woken through an
 *     eventfd when the last hold goes and on `process.on('exit')`, because at
 *     exit libuv joins its threads: a thread left in `epoll_wait(-1)` made
 *     `process.exit()` hang forever.
 *
 * Measured (docs/KERNEL-NOTES.md, issue 11): signals alone cost a signal per
 * datagram whenever the main thread is busy or blocked (an `execFileSync`)
 * while notifications arrive — 100 000 of them took 230–560 ms of this
 * process's time against 2 ms with a waiting thread or the ring; the thread
 * alone keeps the process alive (a libuv work request cannot be unref'd); a
 * Worker blocked in epoll_wait costs 14 MB and 30–60 ms to start, and would
 * have to be woken to be joined at exit just the same. The ring has none of
 * these, and is the one to use where the kernel allows it.
 * Signals never reach a worker thread's `process.on`: inside a Worker without
 * io_uring, the waiting thread stays armed while anything is watched (there,
 * an open event socket keeps the worker alive).
 *
 * NETSTATE_POLLER=fallback in the environment skips io_uring (to test the
 * other way).
 */
import { isMainThread } from 'node:worker_threads';
import {
  check,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLLIN,
  F_GETFL,
  F_SETFL,
  F_SETOWN,
  F_SETSIG,
  O_ASYNC,
  SIGURG,
  sys,
} from './libc.js';
import { ReadinessRing } from './uring.js';

const EVENT_SIZE = 12; // struct epoll_event is packed on x86_64: u32 events, u64 data
const MAX_EVENTS = 64;
/** The waiting thread comes back at least this often: a last resort for an exit that emits no 'exit'. */
const WAIT_BOUND_MS = 500;
const SIGNAL = 'SIGURG';
/** Signals are delivered to the main thread's `process` only. */
const SIGNALS_WORK = isMainThread;

/**
 * Reads what is queued on a socket; returns true once a read met EAGAIN
 * (nothing left), false when it stopped at its budget (call it again).
 */
export type Drain = () => boolean;

interface Watched {
  readonly fd: number;
  readonly drain: Drain;
  /** File status flags without O_ASYNC (signal-driven waiting). */
  readonly flags: number;
  /** O_ASYNC is on: the next datagram raises SIGURG. */
  async: boolean;
  /** A drain is scheduled for the next turn of the event loop. */
  queued: boolean;
}

class Poller {
  private epfd = -1;
  private readonly watched = new Map<number, Watched>();
  /** Things awaited: while there are any, the process stays alive. */
  private holds = 0;
  private readonly events = Buffer.alloc(EVENT_SIZE * MAX_EVENTS);
  /** undefined: not tried yet; null: not available here. */
  private ring?: ReadinessRing | null;

  // Without io_uring:
  private wakeFd = -1;
  /** The waiting thread is the way to wait (else signals are). */
  private threaded = !SIGNALS_WORK;
  private waiting = false;
  private backToSignals = false;
  private exitHooked = false;
  private readonly scratch = Buffer.alloc(8);
  private readonly onSignal = (): void => {
    if (this.threaded) return; // raised before the thread took over: it reports the same data
    this.runEach([...this.watched.values()].filter((w) => w.async));
  };

  /** How this process waits: 'io_uring' or 'signals and a thread'. */
  get method(): string {
    this.ensureOpen();
    return this.ring ? 'io_uring' : 'signals and a thread';
  }

  private ensureOpen(): void {
    if (this.epfd >= 0) return;
    this.epfd = check('epoll_create1', sys.epoll_create1(EPOLL_CLOEXEC));
    this.ring = process.env.NETSTATE_POLLER === 'fallback' ? null : (ReadinessRing.open(this.epfd, () => this.onRing()) ?? null);
    if (this.ring) return;
    this.wakeFd = check('eventfd', sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    this.control(EPOLL_CTL_ADD, this.wakeFd);
  }

  private control(op: number, fd: number): void {
    const ev = Buffer.alloc(EVENT_SIZE);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeUInt32LE(fd, 4);
    check('epoll_ctl', sys.epoll_ctl(this.epfd, op, fd, ev));
  }

  /** Calls `drain` on the main thread whenever `fd` has something queued. */
  watch(fd: number, drain: Drain): void {
    this.ensureOpen();
    if (!this.watched.has(fd)) this.control(EPOLL_CTL_ADD, fd);
    let flags = 0;
    if (!this.ring && SIGNALS_WORK) {
      this.listen();
      flags = check('fcntl', sys.fcntl(fd, F_GETFL, 'int', 0)) & ~O_ASYNC;
      check('fcntl', sys.fcntl(fd, F_SETOWN, 'int', sys.getpid()));
      check('fcntl', sys.fcntl(fd, F_SETSIG, 'int', SIGURG));
    }
    const w: Watched = { fd, drain, flags, async: false, queued: false };
    this.watched.set(fd, w);
    if (this.ring) this.ring.arm();
    else if (this.threaded) this.arm();
    else this.schedule(w); // the first look also turns its signal on
  }

  unwatch(fd: number): void {
    const w = this.watched.get(fd);
    if (!w) return;
    this.watched.delete(fd);
    this.control(EPOLL_CTL_DEL, fd);
    if (w.async) this.setAsync(w, false); // a request socket stays open, silent
    if (this.waiting && !this.wantsThread()) this.wake();
  }

  isWatching(fd: number): boolean {
    return this.watched.has(fd);
  }

  /** Reads `fd` again on the next turn of the event loop (its drain stopped at its budget). */
  kick(fd: number): void {
    const w = this.watched.get(fd);
    if (w) this.schedule(w);
  }

  /**
   * Something is awaited: keeps the process alive (and, without io_uring,
   * waits with the thread) until the returned function is called (once).
   */
  hold(): () => void {
    this.ensureOpen();
    this.holds++;
    if (this.ring) {
      if (this.holds === 1) this.ring.ref();
    } else if (this.holds === 1 && !this.threaded) this.useThread();
    else if (this.threaded) this.arm();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.holds--;
      if (this.holds > 0) return;
      if (this.ring) return this.ring.unref();
      if (!SIGNALS_WORK || this.backToSignals) return;
      // Not at once: back-to-back awaits (the slices of a batch) keep the thread.
      this.backToSignals = true;
      setImmediate(() => {
        this.backToSignals = false;
        if (this.holds === 0 && this.threaded) this.useSignals();
      });
    };
  }

  /** The ring saw the epoll instance readable: read what is ready, then wait again. */
  private onRing(): void {
    const n = sys.epoll_wait(this.epfd, this.events, MAX_EVENTS, 0);
    const ready: Watched[] = [];
    for (let i = 0; i < n; i++) {
      const w = this.watched.get(this.events.readUInt32LE(i * EVENT_SIZE + 4));
      if (w) ready.push(w);
    }
    this.runEach(ready);
    this.ring?.arm();
  }

  /** A throwing drain must not stop every other socket of the process from being read. */
  private runEach(list: Iterable<Watched>): void {
    const failures: unknown[] = [];
    for (const w of list) {
      try {
        this.run(w);
      } catch (e) {
        failures.push(e);
      }
    }
    for (const e of failures)
      queueMicrotask(() => {
        throw e;
      });
  }

  /** One drain of `w`; then, when waiting by signal and nothing is left, its signal is turned back on. */
  private run(w: Watched): void {
    if (this.watched.get(w.fd) !== w) return;
    if (w.async) this.setAsync(w, false);
    let empty = false;
    try {
      empty = w.drain();
      if (empty && !this.ring && !this.threaded && this.watched.get(w.fd) === w) {
        this.setAsync(w, true);
        // What arrived between the EAGAIN and O_ASYNC raised no signal.
        empty = w.drain();
        if (!empty && this.watched.get(w.fd) === w) this.setAsync(w, false);
      }
    } finally {
      // Stopped at its budget, or threw: read on next turn rather than lose the socket.
      if (!empty) this.schedule(w);
    }
  }

  private schedule(w: Watched): void {
    if (w.queued) return;
    w.queued = true;
    setImmediate(() => {
      w.queued = false;
      this.run(w);
    });
  }

  // Without io_uring: signals while nothing is held, the waiting thread while something is.

  private wantsThread(): boolean {
    return this.holds > 0 || (!SIGNALS_WORK && this.watched.size > 0);
  }

  private useThread(): void {
    this.threaded = true;
    for (const w of this.watched.values()) if (w.async) this.setAsync(w, false);
    this.arm();
  }

  private useSignals(): void {
    this.threaded = false;
    this.listen();
    if (this.waiting) this.wake();
    this.runEach([...this.watched.values()]);
  }

  /** Installed before any O_ASYNC, and for good (checked again, should someone have removed it): its handle is unref'd. */
  private listen(): void {
    if (!process.listeners(SIGNAL).includes(this.onSignal)) process.on(SIGNAL, this.onSignal);
  }

  private setAsync(w: Watched, on: boolean): void {
    if (sys.fcntl(w.fd, F_SETFL, 'int', on ? w.flags | O_ASYNC : w.flags) === 0) w.async = on;
    else w.async = false; // closed under us: nothing to read there any more
  }

  private wake(): void {
    this.scratch.writeBigUInt64LE(1n, 0);
    sys.write(this.wakeFd, this.scratch, 8);
  }

  /** Arms the waiting thread. */
  private arm(): void {
    if (this.waiting || !this.wantsThread()) return;
    if (!this.exitHooked) {
      this.exitHooked = true;
      // libuv joins its threads at exit: this one must not be left in epoll_wait.
      process.on('exit', () => {
        if (this.waiting) this.wake();
      });
    }
    this.waiting = true;
    sys.epoll_wait.async(this.epfd, this.events, MAX_EVENTS, WAIT_BOUND_MS, (err: unknown, n: number) => {
      this.waiting = false;
      const ready: Watched[] = [];
      for (let i = 0; i < n; i++) {
        const fd = this.events.readUInt32LE(i * EVENT_SIZE + 4);
        if (fd === this.wakeFd) sys.read(this.wakeFd, this.scratch, 8);
        else {
          const w = this.watched.get(fd);
          if (w) ready.push(w);
        }
      }
      this.runEach(ready);
      this.arm();
      if (err)
        queueMicrotask(() => {
          throw err;
        });
    });
  }
}

/** The process-wide poller. */
export const poller = new Poller();
