/**
 * One NETLINK_ROUTE socket, in whichever namespace it was opened.
 *
 * rtnetlink executes requests inside sendmsg(), so replies are usually queued
 * by the time send() returns: we drain them right away and only fall back to
 * the process-wide poller when a reply is still to come (holding it: an
 * awaited reply keeps the process alive, an idle socket does not). Dumps continue
 * inside each recv(). Batches pack many requests into one send; only the last
 * of each send asks for an ack, and the kernel reports any failure on its own,
 * so a silent request is a successful one.
 */
import { ClosedError, NetlinkError, NetStateError, PrivilegeError, SystemError } from '../../errors.js';
import { EAGAIN, EINTR, ENOBUFS, EPERM, errnoName } from '../errno.js';
import {
  AF_NETLINK,
  check,
  lastErrno,
  MSG_DONTWAIT,
  MSG_TRUNC,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_SOCKET,
  sys,
} from '../libc.js';
import { inNetns } from '../netns.js';
import { poller } from '../poller.js';
import { NLMSG_HDRLEN, writeHeader } from './codec/header.js';
import { type Ack, decodeMessage, type Message, typeName } from './codec/message.js';
import { Writer } from './codec/writer.js';
import {
  flagNames,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_ROUTE,
  NLM_F,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  RTNLGRP,
  type RtnlGroup,
  SOL_NETLINK,
} from './constants.js';
import { DatagramReceiver } from './datagrams.js';

/** Thrown when a dump kept changing under us (NLM_F_DUMP_INTR) for every retry. */
export class DumpInterruptedError extends NetStateError {
  override name = 'DumpInterruptedError';
  constructor(
    readonly attempts: number,
    /** What the last attempt returned: complete, but possibly inconsistent. */
    readonly messages: Message[],
  ) {
    super(`dump was interrupted by concurrent changes on each of ${attempts} attempts (NLM_F_DUMP_INTR)`);
  }
}

export interface SocketOptions {
  netns?: string;
  /** Receive buffer in bytes; forced past rmem_max when root. */
  rcvbuf?: number;
  sndbuf?: number;
  /** Multicast groups to join (an event socket). */
  groups?: readonly RtnlGroup[];
}

/** A request as the socket sees it: encoded by the caller into the writer. */
export interface RequestMeta {
  type: number;
  flags: number;
  /** Kept for error messages. */
  spec?: unknown;
}

interface Pending {
  dump: boolean;
  lastSeq: number;
  /** Family messages received for this request (replies, dump parts). */
  messages: Message[];
  /** Errors by seq (batches). */
  errors: Map<number, Ack>;
  interrupted: boolean;
  /** Streamed dump: each reply message goes here, undecoded, instead of into `messages`. */
  sink?: MessageSink;
  /** The replies are handed over with the notifications, in the order they arrived (a refresh). */
  asEvents?: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Receives one raw message (header included) at buf[off, off+len); valid only during the call. */
export type MessageSink = (buf: Buffer, off: number, len: number) => void;

// One receive buffer for every socket: all processing happens on the main thread.
const RX_SIZE = 1 << 20;
const rx = Buffer.alloc(RX_SIZE);
/** Made with the first event socket that drains: a process that only sends never allocates it. */
let receiver: DatagramReceiver | undefined;
/** Datagrams handled per turn of the event loop before yielding (the poller calls again). */
const DRAIN_BUDGET = 256;
const DEFAULT_RCVBUF = 8 << 20;
const DEFAULT_SNDBUF = 4 << 20;
/**
 * Sends this large go out from a worker thread: a batch of 2048 routes keeps
 * the kernel busy for about 4 ms, time the main thread spends storing events.
 * Smaller ones stay synchronous (a thread hop costs more than they take).
 */
const ASYNC_SEND_BYTES = 16 << 10;

function setInt(fd: number, level: number, name: number, value: number): boolean {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  return sys.setsockopt(fd, level, name, b, 4) === 0;
}

export class NetlinkSocket {
  readonly fd: number;
  readonly portId: number;
  /** Whether the kernel accepted NETLINK_GET_STRICT_CHK (filtered dumps). */
  readonly strict: boolean;
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private draining = false;
  /** Sends under way on a worker thread. */
  private sending = 0;
  /** Releases the poller while nothing is awaited on this socket. */
  private release?: () => void;
  /** Notifications, decoded, one call per drained batch. */
  onEvents?: (messages: Message[]) => void;
  /** Notifications as raw message copies (header included), one call per drained batch; replaces onEvents. */
  onEventBytes?: (messages: Buffer[]) => void;
  private decodedEvents: Message[] = [];
  private rawEvents: Buffer[] = [];
  onOverrun?: () => void;

  constructor(readonly options: SocketOptions = {}) {
    const fd = inNetns(options.netns, () => sys.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (fd < 0) {
      const errno = lastErrno();
      if (errno === EPERM) throw new PrivilegeError('opening a netlink socket was refused (EPERM); run as root');
      check('socket', -1, 'AF_NETLINK');
    }
    this.fd = fd;
    try {
      setInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      setInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      this.strict = setInt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
      const rcv = options.rcvbuf ?? DEFAULT_RCVBUF;
      if (!setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcv)) setInt(fd, SOL_SOCKET, SO_RCVBUF, rcv);
      const snd = options.sndbuf ?? DEFAULT_SNDBUF;
      if (!setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, snd)) setInt(fd, SOL_SOCKET, SO_SNDBUF, snd);
      const sa = Buffer.alloc(12);
      sa.writeUInt16LE(AF_NETLINK, 0);
      check('bind', sys.bind(fd, sa, 12), 'netlink socket');
      const len = [12];
      check('getsockname', sys.getsockname(fd, sa, len));
      this.portId = sa.readUInt32LE(4);
      for (const g of options.groups ?? []) {
        if (!setInt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP[g])) check('setsockopt', -1, `join ${g}`);
      }
    } catch (e) {
      sys.close(fd);
      throw e;
    }
    this.seq = (Date.now() & 0x3fffffff) + 1;
    if (options.groups?.length) this.watch();
  }

  /** Reserves `n` consecutive sequence numbers; returns the first. */
  nextSeq(n = 1): number {
    const first = this.seq;
    this.seq = (this.seq + n) >>> 0 || 1;
    if (this.seq < first) this.seq = 1; // wrapped: restart low, ranges stay consecutive
    return first;
  }

  /**
   * Sends already-encoded messages with sequence numbers first..last, and
   * resolves once the reply to `last` is complete. Kernel errors for any seq
   * in the range are returned in `errors`, never thrown.
   */
  exchange(
    bytes: Buffer,
    firstSeq: number,
    lastSeq: number,
    dump: boolean,
    sink?: MessageSink,
    asEvents = false,
  ): Promise<{ messages: Message[]; errors: Map<number, Ack>; interrupted: boolean }> {
    if (this.closed) return Promise.reject(new ClosedError('netlink socket is closed'));
    return new Promise((resolve, reject) => {
      const p: Pending = {
        dump,
        lastSeq,
        messages: [],
        errors: new Map(),
        interrupted: false,
        sink,
        asEvents,
        resolve: () => resolve({ messages: p.messages, errors: p.errors, interrupted: p.interrupted }),
        reject,
      };
      for (let s = firstSeq; ; s = (s + 1) >>> 0) {
        this.pending.set(s, p);
        if (s === lastSeq) break;
      }
      const sent = (n: number): void => {
        if (n < 0) {
          const errno = lastErrno();
          this.forget(firstSeq, lastSeq);
          reject(new SystemError('send', errno, errnoName(errno), `${bytes.length} bytes to netlink`));
          return;
        }
        // Usually the reply is queued already and this completes the request: no hold, no wait.
        const empty = this.drain();
        this.updateHold();
        if (this.pending.size > 0) this.watch();
        if (!empty) poller.kick(this.fd);
      };
      if (bytes.length < ASYNC_SEND_BYTES) return sent(Number(sys.send(this.fd, bytes, bytes.length, 0)));
      // The kernel executes the requests inside this call: on a worker thread, the main thread
      // meanwhile reads and stores the notifications they cause. `bytes` stays referenced here
      // until the call returns.
      this.sending++;
      this.updateHold();
      sys.send.async(this.fd, bytes, bytes.length, 0, (err: unknown, n: number) => {
        this.sending--;
        if (this.closed) return this.updateHold(); // close() rejected the request already
        // errno lives on the worker thread: a failed send (refused before any request ran) is
        // made again here, where its errno can be read.
        if (err || Number(n) < 0) return sent(Number(sys.send(this.fd, bytes, bytes.length, 0)));
        sent(Number(n));
      });
    });
  }

  /**
   * Resolves once the kernel has answered a no-op request: every message it
   * queued on this socket before (the notifications of every change made so
   * far, by anyone) has been read and handed over by then. The kernel acks
   * NLMSG_NOOP without taking any lock.
   */
  barrier(): Promise<void> {
    const seq = this.nextSeq();
    const bytes = Buffer.alloc(NLMSG_HDRLEN);
    writeHeader(bytes, 0, { len: NLMSG_HDRLEN, type: NLMSG_NOOP, flags: NLM_F.REQUEST | NLM_F.ACK, seq, pid: 0 });
    return this.exchange(bytes, seq, seq, false).then(() => undefined);
  }

  /**
   * Asks the kernel for objects and hands its answer over as if it were
   * notifications, in stream order: what the kernel changes without an
   * event (an alias set on a link that is down) reaches the listener, and
   * anything announced after the answer still comes after it. `bytes` is one
   * encoded GET or dump request with sequence number `seq`.
   */
  refresh(bytes: Buffer, seq: number, dump: boolean): Promise<void> {
    return this.exchange(bytes, seq, seq, dump, undefined, true).then(() => undefined);
  }

  private forget(first: number, last: number): void {
    for (let s = first; ; s = (s + 1) >>> 0) {
      this.pending.delete(s);
      if (s === last) break;
    }
    this.updateHold();
  }

  /** Holds the poller (the process stays alive, replies are waited for) while a request is awaited. */
  private updateHold(): void {
    const busy = !this.closed && (this.pending.size > 0 || this.sending > 0);
    if (busy && !this.release) this.release = poller.hold();
    else if (!busy && this.release) {
      this.release();
      this.release = undefined;
    }
  }

  private watch(): void {
    if (!poller.isWatching(this.fd)) poller.watch(this.fd, () => this.drain());
  }

  private unwatchIfIdle(): void {
    if (this.pending.size === 0 && !this.options.groups?.length && poller.isWatching(this.fd)) poller.unwatch(this.fd);
  }

  /**
   * Reads whatever is queued, up to a budget. True once a read met EAGAIN (or
   * the socket is closed); false at the budget: the poller calls again on the
   * next turn of the event loop.
   */
  drain(): boolean {
    if (this.closed || this.draining) return true;
    this.draining = true;
    let empty: boolean;
    try {
      empty = this.options.groups?.length ? this.drainMany() : this.drainOne();
    } finally {
      this.draining = false;
    }
    this.deliverEvents();
    this.unwatchIfIdle();
    return empty;
  }

  /** Request sockets: one datagram per call, into a buffer large enough for any dump part. */
  private drainOne(): boolean {
    for (let i = 0; i < DRAIN_BUDGET; i++) {
      const n = Number(sys.recv(this.fd, rx, RX_SIZE, MSG_DONTWAIT | MSG_TRUNC));
      if (n < 0) {
        if (this.failed('recv')) return true;
        continue;
      }
      if (n > RX_SIZE) {
        this.failAll(new NetStateError(`a netlink datagram of ${n} bytes exceeded the ${RX_SIZE}-byte receive buffer`));
        continue;
      }
      this.dispatch(rx, 0, n);
    }
    return false;
  }

  /** Event sockets: a notification is a datagram of its own, so many are read per call. */
  private drainMany(): boolean {
    receiver ??= new DatagramReceiver();
    for (let read = 0; read < DRAIN_BUDGET; ) {
      const n = receiver.receive(this.fd, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (this.failed('recvmmsg')) return true;
        continue;
      }
      if (n === 0) return true;
      for (let i = 0; i < n; i++) {
        const len = receiver.length(i);
        // Cut short: a notification is lost, which only a resync makes good (it covers the
        // datagrams read after this one too).
        if (len > DatagramReceiver.slotSize) {
          this.overrun();
          break;
        }
        this.dispatch(receiver.buf, receiver.offset(i), len);
      }
      read += n;
    }
    return false;
  }

  /** A failed read: true when draining should stop (nothing queued, or the socket is broken). */
  private failed(call: string): boolean {
    const errno = lastErrno();
    if (errno === EAGAIN) return true;
    if (errno === EINTR) return false;
    if (errno === ENOBUFS) {
      this.overrun();
      return false;
    }
    this.failAll(new SystemError(call, errno, errnoName(errno), 'netlink socket'));
    return true;
  }

  /** Lost messages: events are resynced by the listener; pending requests cannot be trusted. */
  private overrun(): void {
    this.deliverEvents(); // what arrived before the loss comes first
    if (this.onOverrun) {
      this.onOverrun();
      // What is still queued straddles the loss; the listener's resync dump starts after
      // this and covers all of it, so it is thrown away rather than replayed out of context.
      if (this.options.groups?.length) this.discardQueued();
    }
    if (this.pending.size) this.failAll(new NetStateError('netlink receive buffer overrun (ENOBUFS): replies were lost'));
  }

  private discardQueued(): void {
    for (;;) {
      const n = Number(sys.recv(this.fd, rx, RX_SIZE, MSG_DONTWAIT | MSG_TRUNC));
      if (n < 0 && lastErrno() !== ENOBUFS && lastErrno() !== EINTR) return;
    }
  }

  private failAll(err: Error): void {
    const seen = new Set<Pending>();
    for (const p of this.pending.values()) seen.add(p);
    this.pending.clear();
    this.updateHold();
    for (const p of seen) p.reject(err);
  }

  /** Everything one drain turn read is handed over at once: the store applies it as one transaction. */
  private deliverEvents(): void {
    if (this.rawEvents.length) {
      const batch = this.rawEvents;
      this.rawEvents = [];
      this.onEventBytes?.(batch);
    }
    if (this.decodedEvents.length) {
      const batch = this.decodedEvents;
      this.decodedEvents = [];
      this.onEvents?.(batch);
    }
  }

  private dispatch(buf: Buffer, start: number, n: number): void {
    const end = start + n;
    let off = start;
    while (off + 16 <= end) {
      const len = buf.readUInt32LE(off);
      if (len < 16 || off + len > end) break;
      const seq = buf.readUInt32LE(off + 8);
      // A reply carries our port id; a notification carries the port id and seq of whoever
      // caused it (another process, or 0 for the kernel itself).
      const p = buf.readUInt32LE(off + 12) === this.portId ? this.pending.get(seq) : undefined;
      if (p === undefined) {
        if (this.onEventBytes) {
          const copy = Buffer.allocUnsafe(len); // from the pool; filled whole just below
          buf.copy(copy, 0, off, off + len);
          this.rawEvents.push(copy);
        } else if (this.onEvents) this.decodedEvents.push(decodeMessage(buf, off));
      } else {
        this.onReply(p, seq, buf, off, len);
      }
      off += (len + 3) & ~3;
    }
  }

  private onReply(p: Pending, seq: number, buf: Buffer, off: number, len: number): void {
    const type = buf.readUInt16LE(off + 4);
    const flags = buf.readUInt16LE(off + 6);
    if (type === NLMSG_ERROR) {
      const ack = decodeMessage(buf, off).ack as Ack;
      if (ack.error !== 0) p.errors.set(seq, ack);
      if (seq === p.lastSeq || (p.dump && ack.error !== 0)) this.finish(p);
      return;
    }
    if (type === NLMSG_DONE) {
      const ack = decodeMessage(buf, off).ack as Ack;
      if (ack.error !== 0) p.errors.set(seq, ack);
      if (flags & NLM_F.DUMP_INTR) p.interrupted = true;
      this.finish(p);
      return;
    }
    if (flags & NLM_F.DUMP_INTR) p.interrupted = true;
    // Requests always carry NLM_F_ACK on their last message: the ack, not the reply, completes them.
    if (p.asEvents) {
      const copy = Buffer.allocUnsafe(len);
      buf.copy(copy, 0, off, off + len);
      this.rawEvents.push(copy);
    } else if (p.sink) p.sink(buf, off, len);
    else p.messages.push(decodeMessage(buf, off));
  }

  private finish(p: Pending): void {
    for (const [seq, q] of this.pending) if (q === p) this.pending.delete(seq);
    this.updateHold();
    p.resolve();
  }

  /** Rejects what is still awaited with a ClosedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new ClosedError('netlink socket closed'));
    poller.unwatch(this.fd);
    sys.close(this.fd);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** Builds the NetlinkError for a refused request. */
export function refusal(ack: Ack, meta: RequestMeta, seq: number): NetlinkError {
  const errno = -ack.error;
  const isGet = (meta.type & 3) === 2;
  return new NetlinkError(
    errno,
    errnoName(errno),
    ack.extack?.msg,
    { type: typeName(meta.type), flags: flagNames(meta.flags, isGet), seq, spec: meta.spec },
    ack.extack?.offset,
  );
}

export { Writer };
