/**
 * Process file descriptors (pidfd_open(2)): a handle on one process that a
 * later pid reuse cannot redirect. A signal sent through it reaches that
 * process or nobody (ESRCH); it becomes readable when the process exits
 * (a zombie counts as exited), which the process-wide epoll poller turns
 * into an event: nothing here polls /proc or sleeps.
 */
import { constants } from 'node:os';
import { ValidationError } from '../errors.js';
import { check, lastErrno, sys } from './libc.js';
import { poller } from './poller.js';

const ESRCH = 3;

/** A pidfd for `pid`, or undefined when there is no such process. */
export function openPidfd(pid: number): number | undefined {
  const fd = sys.pidfd_open(pid, 0);
  if (fd < 0) {
    if (lastErrno() === ESRCH) return undefined;
    check('pidfd_open', fd, `pid ${pid}`);
  }
  return fd;
}

/** The number of a signal given by name ('SIGTERM') or number; a ValidationError for anything else. */
export function signalNumber(signal: unknown): number {
  if (typeof signal === 'number' && Number.isInteger(signal) && signal > 0 && signal < 65) return signal;
  if (typeof signal === 'string' && signal in constants.signals) {
    return constants.signals[signal as keyof typeof constants.signals];
  }
  throw new ValidationError(`expected a signal like 'SIGTERM' or 15, got ${JSON.stringify(signal)}`, 'signal');
}

/** Sends `signo` through the pidfd: true when sent, false when the process is gone. */
export function signalPidfd(fd: number, signo: number): boolean {
  if (sys.pidfd_send_signal(fd, signo, null, 0) === 0) return true;
  if (lastErrno() === ESRCH) return false;
  check('pidfd_send_signal', -1);
  return false;
}

export function closePidfd(fd: number): void {
  sys.close(fd);
}

/**
 * Resolves when every pidfd of `fds` is readable (its process has exited),
 * or when `timeoutMs` passes; with the fds whose process still runs. The
 * fds stay open (the caller closes them).
 */
export function waitExited(fds: readonly number[], timeoutMs: number): Promise<number[]> {
  const pending = new Set(fds);
  if (pending.size === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    // Awaited: the poller waits for it actively (a pidfd raises no signal).
    const release = poller.hold();
    const finish = () => {
      clearTimeout(timer);
      for (const fd of pending) poller.unwatch(fd);
      release();
      resolve([...pending]);
    };
    const timer = setTimeout(finish, Math.max(0, timeoutMs));
    for (const fd of fds) {
      // Level-triggered: a process already gone reports at once.
      poller.watch(fd, () => {
        poller.unwatch(fd);
        pending.delete(fd);
        if (pending.size === 0) finish();
        return true; // nothing to read: readable means exited
      });
    }
  });
}
