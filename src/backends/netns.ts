/**
 * Named network namespaces, managed the way iproute2 does (`ip netns add`,
 * `ip netns del`, `ip netns list`), without a helper process: the calling
 * thread enters a namespace, does its work synchronously, and comes back.
 */
import { mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { NamespaceError, PrivilegeError } from '../errors.js';
import { EACCES, EEXIST, EINVAL, ENOENT, EPERM, errnoName } from './errno.js';
import {
  CLONE_NEWNET,
  check,
  lastErrno,
  MNT_DETACH,
  MS_BIND,
  MS_REC,
  MS_SHARED,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  sys,
} from './libc.js';
import { shown } from './schema.js';

export const NETNS_RUN_DIR = '/run/netns';
const SELF_NETNS = '/proc/thread-self/ns/net';

/** Refuses names iproute2 would refuse, and anything that escapes /run/netns. */
export function validateNetnsName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new NamespaceError(`a namespace name must be a non-empty string, got ${shown(name)}`);
  }
  if (name === '.' || name === '..' || name.includes('/') || name.includes('\0') || Buffer.byteLength(name) > 255) {
    throw new NamespaceError(`${shown(name)} is not a valid namespace name (no '/' or NUL, not '.' or '..', at most 255 bytes)`);
  }
}

export function netnsPath(name: string): string {
  validateNetnsName(name);
  return `${NETNS_RUN_DIR}/${name}`;
}

/** Names under /run/netns, like `ip netns list`. */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export function netnsExists(name: string): boolean {
  try {
    return statSync(netnsPath(name)).isFile();
  } catch {
    return false;
  }
}

function openNamespaceFd(path: string, name: string): number {
  const fd = sys.open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    const errno = lastErrno();
    if (errno === ENOENT) throw new NamespaceError(`no network namespace named "${name}" (${path} does not exist)`);
    if (errno === EACCES || errno === EPERM) {
      throw new PrivilegeError(`entering namespace "${name}" needs root (CAP_SYS_ADMIN); run as root`);
    }
    throw new NamespaceError(`cannot open namespace "${name}": ${errnoName(errno)}`);
  }
  return fd;
}

function setnsOrThrow(fd: number, what: string): void {
  if (sys.setns(fd, CLONE_NEWNET) < 0) {
    const errno = lastErrno();
    if (errno === EPERM) throw new PrivilegeError(`entering namespace ${what} needs root (CAP_SYS_ADMIN)`);
    if (errno === EINVAL) throw new NamespaceError(`${what} is not a network namespace`);
    check('setns', -1, what);
  }
}

/**
 * Runs `fn` with the calling thread inside namespace `name` (the root
 * namespace when undefined) and always returns to where it was. `fn` must be
 * synchronous: no other JavaScript may run while the thread is away.
 */
export function inNetns<T>(name: string | undefined, fn: () => T): T {
  if (name === undefined) return fn();
  const target = openNamespaceFd(netnsPath(name), name);
  let self = -1;
  try {
    self = check('open', sys.open(SELF_NETNS, O_RDONLY | O_CLOEXEC, 0), SELF_NETNS);
    setnsOrThrow(target, `"${name}"`);
    try {
      return fn();
    } finally {
      // Failing to come back would leave the main thread in the wrong namespace.
      if (sys.setns(self, CLONE_NEWNET) < 0) {
        process.emitWarning('netstate: could not return to the original network namespace; aborting');
        process.abort();
      }
    }
  } finally {
    sys.close(target);
    if (self >= 0) sys.close(self);
  }
}

/** Makes /run/netns a shared mount point, as `ip netns add` does. */
function prepareRunDir(): void {
  mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });
  if (sys.mount('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null) === 0) return;
  if (lastErrno() !== EINVAL) check('mount', -1, `make ${NETNS_RUN_DIR} shared`);
  // Not a mount point yet: bind it onto itself, then make it shared.
  check('mount', sys.mount(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', MS_BIND | MS_REC, null), `bind ${NETNS_RUN_DIR}`);
  check('mount', sys.mount('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null), `make ${NETNS_RUN_DIR} shared`);
}

function requireRoot(what: string): void {
  if (sys.geteuid() !== 0) throw new PrivilegeError(`${what} needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); run as root`);
}

/** Creates a named namespace, like `ip netns add NAME`. */
export function createNetns(name: string): void {
  const path = netnsPath(name);
  requireRoot(`creating namespace "${name}"`);
  prepareRunDir();
  const fd = sys.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (lastErrno() === EEXIST) throw new NamespaceError(`namespace "${name}" already exists`);
    check('open', -1, path);
  }
  sys.close(fd);
  const self = check('open', sys.open(SELF_NETNS, O_RDONLY | O_CLOEXEC, 0), SELF_NETNS);
  try {
    check('unshare', sys.unshare(CLONE_NEWNET), 'CLONE_NEWNET');
    try {
      check('mount', sys.mount(SELF_NETNS, path, 'none', MS_BIND, null), `bind namespace onto ${path}`);
    } finally {
      if (sys.setns(self, CLONE_NEWNET) < 0) {
        process.emitWarning('netstate: could not return to the original network namespace; aborting');
        process.abort();
      }
    }
  } catch (e) {
    try {
      unlinkSync(path);
    } catch {}
    throw e;
  } finally {
    sys.close(self);
  }
}

/** Removes a named namespace, like `ip netns del NAME`. */
export function removeNetns(name: string, { missingOk = false } = {}): void {
  const path = netnsPath(name);
  requireRoot(`removing namespace "${name}"`);
  if (!netnsExists(name)) {
    if (missingOk) return;
    throw new NamespaceError(`no network namespace named "${name}"`);
  }
  sys.umount2(path, MNT_DETACH);
  unlinkSync(path);
}
