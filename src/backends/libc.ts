/**
 * The system calls netstate makes, bound from libc through koffi.
 * Each wrapper returns the raw result; `check()` turns -1 into a SystemError
 * carrying the errno, so callers never see a bare number.
 */
import koffi from 'koffi';
import { SystemError } from '../errors.js';
import { errnoName } from './errno.js';

const lib = koffi.load('libc.so.6');

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_PEEK = 0x02;
export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLLIN = 0x1;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_CLOEXEC = 0o2000000;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_SHARED = 1 << 20;
export const MS_SLAVE = 1 << 19;
export const MNT_DETACH = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETOWN = 8;
export const F_SETSIG = 10;
export const O_ASYNC = 0o20000;
export const SIGURG = 23;

export const sys = {
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  bind: lib.func('int bind(int fd, const void *addr, uint32 len)'),
  getsockname: lib.func('int getsockname(int fd, void *addr, _Inout_ uint32 *len)'),
  setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32 len)'),
  getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *val, _Inout_ uint32 *len)'),
  send: lib.func('intptr send(int fd, const void *buf, uintptr len, int flags)'),
  sendto: lib.func('intptr sendto(int fd, const void *buf, uintptr len, int flags, const void *addr, uint32 alen)'),
  connect: lib.func('int connect(int fd, const void *addr, uint32 len)'),
  recv: lib.func('intptr recv(int fd, void *buf, uintptr len, int flags)'),
  recvfrom: lib.func('intptr recvfrom(int fd, void *buf, uintptr len, int flags, void *addr, _Inout_ uint32 *alen)'),
  // Addresses as integers: the vector lives in memory koffi allocated (see datagrams.ts).
  recvmmsg: lib.func('int recvmmsg(int fd, uint64 msgvec, uint32 vlen, int flags, uint64 timeout)'),
  close: lib.func('int close(int fd)'),
  read: lib.func('intptr read(int fd, void *buf, uintptr len)'),
  write: lib.func('intptr write(int fd, const void *buf, uintptr len)'),
  open: lib.func('int open(const char *path, int flags, uint32 mode)'),
  epoll_create1: lib.func('int epoll_create1(int flags)'),
  epoll_ctl: lib.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
  epoll_wait: lib.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)'),
  eventfd: lib.func('int eventfd(uint32 initval, int flags)'),
  setns: lib.func('int setns(int fd, int nstype)'),
  unshare: lib.func('int unshare(int flags)'),
  mount: lib.func('int mount(const char *src, const char *target, const char *fstype, ulong flags, const void *data)'),
  umount2: lib.func('int umount2(const char *target, int flags)'),
  geteuid: lib.func('uint32 geteuid()'),
  // Variadic as in libc: the third argument is passed as ('void *', buffer) or ('ulong', value).
  ioctl: lib.func('int ioctl(int fd, ulong request, ...)'),
  getpid: lib.func('int getpid()'),
  /** Variadic in libc: call as fcntl(fd, cmd, 'int', arg). */
  fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
  /** Variadic: syscall(number, 'type', arg, ...). For calls glibc has no wrapper for (io_uring). */
  syscall: lib.func('long syscall(long number, ...)'),
  mmap: lib.func('void *mmap(void *addr, uintptr length, int prot, int flags, int fd, int64 offset)'),
  pipe2: lib.func('int pipe2(_Out_ int *fds, int flags)'),
  // glibc 2.36 wraps both; a pidfd names one process for good, whatever pid reuse happens later.
  pidfd_open: lib.func('int pidfd_open(int pid, uint32 flags)'),
  pidfd_send_signal: lib.func('int pidfd_send_signal(int pidfd, int sig, void *info, uint32 flags)'),
};

/** errno of the last call made through koffi on this thread. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Throws a SystemError naming the call when `result` is negative. */
export function check<T extends number>(call: string, result: T, detail?: string): T {
  if (result < 0) {
    const errno = lastErrno();
    throw new SystemError(call, errno, errnoName(errno), detail);
  }
  return result;
}
