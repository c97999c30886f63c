/**
 * Readiness without a thread, for the poller: an io_uring holding one
 * request, "poll the epoll instance for POLLIN", linked to a second, "write
 * one byte into a pipe". The kernel runs both when a watched socket becomes
 * readable — once per arm, however many datagrams follow — and the pipe's
 * read end is a net.Socket on Node's own event loop: unref'd, it keeps
 * nothing alive; ref'd, it keeps the process up for an await. Nothing is
 * left to join at exit, and there is no signal per datagram.
 *
 * Needs Linux 5.6 (IORING_OP_WRITE) and io_uring allowed: container
 * runtimes' seccomp profiles often refuse it, and kernel.io_uring_disabled
 * can. `open()` answers undefined then, and the poller waits another way.
 */
import net from 'node:net';
import koffi from 'koffi';
import { SystemError } from '../errors.js';
import { errnoName } from './errno.js';
import { lastErrno, O_CLOEXEC, sys } from './libc.js';

// The same numbers on x86_64 and in the generic table (arm64).
const SYS_IO_URING_SETUP = 425;
const SYS_IO_URING_ENTER = 426;
const PARAMS_SIZE = 120;
const FEAT_SINGLE_MMAP = 1 << 0;
/** Came with Linux 5.6, as IORING_OP_WRITE did. */
const FEAT_RW_CUR_POS = 1 << 3;
const OFF_SQES = 0x10000000;
const OP_POLL_ADD = 6;
const OP_WRITE = 23;
const IOSQE_IO_LINK = 1 << 2;
const POLLIN = 1;
const SQE_SIZE = 64;
const CQE_SIZE = 16;
const ENTRIES = 4;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 1;
const MAP_POPULATE = 0x8000;
const MAP_FAILED = 0xffffffffffffffffn;
const O_NONBLOCK = 0o4000;
const EINTR = 4;

/** Offsets into the rings, from io_uring_params. */
interface Layout {
  sqTail: number;
  sqMask: number;
  sqArray: number;
  cqHead: number;
  cqTail: number;
  cqMask: number;
  cqes: number;
}

export class ReadinessRing {
  private armed = false;

  private constructor(
    private readonly fd: number,
    private readonly epfd: number,
    private readonly ring: DataView,
    private readonly sqes: Buffer,
    private readonly at: Layout,
    private readonly pipeWrite: number,
    /** Where the byte written into the pipe lives (memory that never moves). */
    private readonly byte: bigint,
    private readonly reader: net.Socket,
  ) {}

  /** A ring watching `epfd`, calling `onReady` on the main thread; undefined where io_uring cannot be had. */
  static open(epfd: number, onReady: () => void): ReadinessRing | undefined {
    if (process.arch !== 'x64' && process.arch !== 'arm64') return undefined;
    const params = Buffer.alloc(PARAMS_SIZE);
    const fd = Number(sys.syscall(SYS_IO_URING_SETUP, 'uint32', ENTRIES, 'void *', params));
    if (fd < 0) return undefined; // ENOSYS, EPERM (seccomp, io_uring_disabled), ...
    const fds = [-1, -1];
    try {
      const features = params.readUInt32LE(20);
      if ((features & FEAT_SINGLE_MMAP) === 0 || (features & FEAT_RW_CUR_POS) === 0) throw new Error('kernel too old');
      const sqEntries = params.readUInt32LE(0);
      const cqEntries = params.readUInt32LE(4);
      const at: Layout = {
        sqTail: params.readUInt32LE(44),
        sqMask: params.readUInt32LE(48),
        sqArray: params.readUInt32LE(64),
        cqHead: params.readUInt32LE(80),
        cqTail: params.readUInt32LE(84),
        cqMask: params.readUInt32LE(88),
        cqes: params.readUInt32LE(100),
      };
      // Mapped for the life of the process, like the ring itself.
      const ringSize = Math.max(at.sqArray + sqEntries * 4, at.cqes + cqEntries * CQE_SIZE);
      const ring = sys.mmap(null, ringSize, PROT_READ_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
      const sqes = sys.mmap(null, sqEntries * SQE_SIZE, PROT_READ_WRITE, MAP_SHARED | MAP_POPULATE, fd, OFF_SQES);
      if (BigInt(koffi.address(ring)) === MAP_FAILED || BigInt(koffi.address(sqes)) === MAP_FAILED) throw new Error('mmap');
      if (sys.pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) throw new Error('pipe2');
      const byte = koffi.alloc('uint8_t', 8);
      const reader = new net.Socket({ fd: fds[0] as number, readable: true, writable: false });
      const self = new ReadinessRing(
        fd,
        epfd,
        new DataView(koffi.view(ring, ringSize)),
        Buffer.from(koffi.view(sqes, sqEntries * SQE_SIZE)),
        at,
        fds[1] as number,
        BigInt(koffi.address(byte)),
        reader,
      );
      reader.on('data', () => {
        self.armed = false;
        self.reap();
        onReady();
      });
      reader.on('error', () => undefined);
      reader.unref();
      return self;
    } catch {
      for (const f of [fd, ...fds]) if (f >= 0) sys.close(f);
      return undefined;
    }
  }

  /** Waits (in the kernel) for the epoll instance to be readable; once, until the next arm. */
  arm(): void {
    if (this.armed) return;
    const r = this.ring;
    const mask = r.getUint32(this.at.sqMask, true);
    let tail = r.getUint32(this.at.sqTail, true);
    for (const [op, fd, flags, addr, len, events] of [
      [OP_POLL_ADD, this.epfd, IOSQE_IO_LINK, 0n, 0, POLLIN],
      [OP_WRITE, this.pipeWrite, 0, this.byte, 1, 0],
    ] as const) {
      const i = tail & mask;
      const o = i * SQE_SIZE;
      this.sqes.fill(0, o, o + SQE_SIZE);
      this.sqes[o] = op;
      this.sqes[o + 1] = flags;
      this.sqes.writeInt32LE(fd, o + 4);
      this.sqes.writeBigUInt64LE(addr, o + 16);
      this.sqes.writeUInt32LE(len, o + 24);
      this.sqes.writeUInt32LE(events, o + 28);
      r.setUint32(this.at.sqArray + i * 4, i, true);
      tail = (tail + 1) >>> 0;
    }
    // The kernel reads the tail inside io_uring_enter: the system call orders it after the entries.
    r.setUint32(this.at.sqTail, tail, true);
    for (;;) {
      const n = Number(
        sys.syscall(SYS_IO_URING_ENTER, 'int', this.fd, 'uint32', 2, 'uint32', 0, 'uint32', 0, 'void *', null, 'uintptr', 0),
      );
      if (n === 2) break;
      const errno = lastErrno();
      if (n < 0 && errno === EINTR) continue;
      throw new SystemError('io_uring_enter', errno, errnoName(errno), `submitted ${n} of 2`);
    }
    this.armed = true;
  }

  /** The pipe's handle keeps the process alive (something is awaited) or not. */
  ref(): void {
    this.reader.ref();
  }

  unref(): void {
    this.reader.unref();
  }

  /** Completions only say the poll fired and the byte was written: consume them. */
  private reap(): void {
    this.ring.setUint32(this.at.cqHead, this.ring.getUint32(this.at.cqTail, true), true);
  }
}
