/**
 * Interface ioctls (struct ifreq) inside a namespace, the way ifconfig and
 * ethtool talk to a device: a datagram socket made inside the namespace
 * (it keeps that namespace for its whole life, and the kernel looks the
 * device up in the socket's namespace), then ioctls on it from anywhere.
 * Synchronous, no helper process, nothing to install.
 */
import { LinkError, PrivilegeError, ValidationError } from '../errors.js';
import { EACCES, ENODEV, EPERM, errnoName } from './errno.js';
import { AF_INET, check, lastErrno, SOCK_CLOEXEC, sys } from './libc.js';
import { inNetns } from './netns.js';
import { ifnameProblem } from './schema.js';

const SOCK_DGRAM = 2;
/** struct ifreq on 64-bit Linux: ifr_name[IFNAMSIZ], then a 24-byte union. */
export const IFREQ_SIZE = 40;
export const IFNAMSIZ = 16;
/** Where the union starts: ifr_flags (short), ifr_data (pointer), ... */
export const IFR_UNION = 16;

const SIOCGIFFLAGS = 0x8913;
export const IFF_UP = 0x1;

/** Runs `fn` with a datagram socket of namespace `netns` (the caller's own when undefined), closed afterwards. */
export function withIfSocket<T>(netns: string | undefined, fn: (fd: number) => T): T {
  const fd = check(
    'socket',
    inNetns(netns, () => sys.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
    'AF_INET datagram',
  );
  try {
    return fn(fd);
  } finally {
    sys.close(fd);
  }
}

/** A zeroed struct ifreq naming `ifname` (checked as the kernel checks names). */
export function ifreq(ifname: string): Buffer {
  const problem = ifnameProblem(ifname);
  if (problem) throw new ValidationError(problem, 'ifname');
  const b = Buffer.alloc(IFREQ_SIZE);
  b.write(ifname, 0, IFNAMSIZ - 1, 'utf8');
  return b;
}

function where(netns: string | undefined): string {
  return netns === undefined ? 'this namespace' : `namespace "${netns}"`;
}

/** Throws what an interface ioctl's errno means: no such device, no privilege, or the call and its errno. */
export function ifreqFailure(call: string, ifname: string, netns: string | undefined, errno = lastErrno()): never {
  if (errno === ENODEV) throw new LinkError(`no interface "${ifname}" in ${where(netns)}`);
  if (errno === EPERM || errno === EACCES) throw new PrivilegeError(`${call} on "${ifname}" needs CAP_NET_ADMIN; run as root`);
  throw new LinkError(`${call} on "${ifname}" in ${where(netns)} failed: ${errnoName(errno)} (${errno})`);
}

/**
 * The interface's IFF_* flags (SIOCGIFFLAGS), or undefined when there is no
 * interface of that name in the namespace.
 */
export function interfaceFlags(netns: string | undefined, ifname: string): number | undefined {
  const req = ifreq(ifname);
  return withIfSocket(netns, (fd) => {
    if (sys.ioctl(fd, SIOCGIFFLAGS, 'void *', req) === 0) return req.readUInt16LE(IFR_UNION);
    const errno = lastErrno();
    if (errno === ENODEV) return undefined;
    return ifreqFailure('SIOCGIFFLAGS', ifname, netns, errno);
  });
}
