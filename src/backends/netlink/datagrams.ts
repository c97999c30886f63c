/**
 * Many datagrams per system call: recvmmsg(2) into fixed slots of one
 * buffer that native code may hold on to (koffi.alloc: it never moves).
 *
 * A notification is a datagram of its own, so a store taking in 100 000
 * route changes made 100 000 recv calls; this makes them 100 000 / SLOTS.
 * A datagram longer than its slot is cut (the kernel reports its real
 * length): the caller treats that as a lost message. Slots are twice the
 * largest message a dump can carry (32 KiB): a notification longer than
 * that (a route of 4000 nexthops) is one no dump could show either.
 */
import koffi from 'koffi';
import { sys } from '../libc.js';

const SLOTS = 16;
const SLOT_SIZE = 64 << 10;
const IOVEC_SIZE = 16; // void *iov_base; size_t iov_len
const MMSGHDR_SIZE = 64; // struct msghdr (56) + unsigned msg_len, padded
const MSG_IOV_AT = 16;
const MSG_IOVLEN_AT = 24;
const MSG_LEN_AT = 56;

const IOVECS_AT = SLOTS * SLOT_SIZE;
const HEADERS_AT = IOVECS_AT + SLOTS * IOVEC_SIZE;
const TOTAL = HEADERS_AT + SLOTS * MMSGHDR_SIZE;

export class DatagramReceiver {
  /** Slot i holds datagram i of the last `receive()`, at `offset(i)`. */
  readonly buf: Buffer;
  private readonly headers: bigint;

  constructor() {
    // Lives as long as the process: one per process, like the single recv buffer it stands beside.
    const memory = koffi.alloc('uint8_t', TOTAL);
    const base = BigInt(koffi.address(memory));
    this.buf = Buffer.from(koffi.view(memory, TOTAL));
    this.buf.fill(0, IOVECS_AT);
    for (let i = 0; i < SLOTS; i++) {
      const iov = IOVECS_AT + i * IOVEC_SIZE;
      this.buf.writeBigUInt64LE(base + BigInt(i * SLOT_SIZE), iov);
      this.buf.writeBigUInt64LE(BigInt(SLOT_SIZE), iov + 8);
      const hdr = HEADERS_AT + i * MMSGHDR_SIZE;
      this.buf.writeBigUInt64LE(base + BigInt(iov), hdr + MSG_IOV_AT);
      this.buf.writeBigUInt64LE(1n, hdr + MSG_IOVLEN_AT);
    }
    this.headers = base + BigInt(HEADERS_AT);
  }

  /** Reads up to SLOTS datagrams; their count, or -1 with errno set (EAGAIN when none is queued). */
  receive(fd: number, flags: number): number {
    return sys.recvmmsg(fd, this.headers, SLOTS, flags, 0n);
  }

  offset(i: number): number {
    return i * SLOT_SIZE;
  }

  /** The datagram's real length (with MSG_TRUNC): more than `SLOT_SIZE` when it was cut. */
  length(i: number): number {
    return this.buf.readUInt32LE(HEADERS_AT + i * MMSGHDR_SIZE + MSG_LEN_AT);
  }

  static readonly slotSize = SLOT_SIZE;
}
