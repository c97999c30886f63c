/**
 * One epoll instance and one waiting thread for every netlink socket of the
 * process, whatever namespace it lives in.
 *
 * `epoll_wait` runs as a koffi async call on a libuv worker thread, so the
 * main thread never blocks. The wait is only armed while something is
 * watched: an idle process holds no pending call and can exit. Unwatching the
 * last fd wakes the waiting thread through an eventfd so it returns at once.
 */
import { check, EFD_CLOEXEC, EFD_NONBLOCK, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLLIN, sys } from './libc.js';

const EVENT_SIZE = 12; // struct epoll_event is packed on x86_64: u32 events, u64 data
const MAX_EVENTS = 64;

export type ReadableHandler = () => void;

class Poller {
  private epfd = -1;
  private wakeFd = -1;
  private readonly handlers = new Map<number, ReadableHandler>();
  private waiting = false;
  private readonly events = Buffer.alloc(EVENT_SIZE * MAX_EVENTS);
  private readonly scratch = Buffer.alloc(8);

  private ensureOpen(): void {
    if (this.epfd >= 0) return;
    this.epfd = check('epoll_create1', sys.epoll_create1(EPOLL_CLOEXEC));
    this.wakeFd = check('eventfd', sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    this.control(EPOLL_CTL_ADD, this.wakeFd);
  }

  private control(op: number, fd: number): void {
    const ev = Buffer.alloc(EVENT_SIZE);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeUInt32LE(fd, 4);
    check('epoll_ctl', sys.epoll_ctl(this.epfd, op, fd, ev));
  }

  /** Calls `handler` on the main thread whenever `fd` is readable. */
  watch(fd: number, handler: ReadableHandler): void {
    this.ensureOpen();
    if (!this.handlers.has(fd)) this.control(EPOLL_CTL_ADD, fd);
    this.handlers.set(fd, handler);
    this.arm();
  }

  unwatch(fd: number): void {
    if (!this.handlers.delete(fd)) return;
    this.control(EPOLL_CTL_DEL, fd);
    if (this.handlers.size === 0 && this.waiting) {
      this.scratch.writeBigUInt64LE(1n, 0);
      sys.write(this.wakeFd, this.scratch, 8);
    }
  }

  isWatching(fd: number): boolean {
    return this.handlers.has(fd);
  }

  private arm(): void {
    if (this.waiting || this.handlers.size === 0) return;
    this.waiting = true;
    sys.epoll_wait.async(this.epfd, this.events, MAX_EVENTS, -1, (err: unknown, n: number) => {
      this.waiting = false;
      const failures: unknown[] = err ? [err] : [];
      for (let i = 0; i < n; i++) {
        const fd = this.events.readUInt32LE(i * EVENT_SIZE + 4);
        if (fd === this.wakeFd) {
          sys.read(this.wakeFd, this.scratch, 8);
          continue;
        }
        // A throwing handler must not stop every other socket of the process from being read.
        try {
          this.handlers.get(fd)?.();
        } catch (e) {
          failures.push(e);
        }
      }
      this.arm();
      for (const e of failures)
        queueMicrotask(() => {
          throw e;
        });
    });
  }
}

/** The process-wide poller. */
export const poller = new Poller();
