/**
 * ICMP echo from inside a namespace, like `ip netns exec NS ping -c1 ADDR`,
 * without needing ping: a raw socket opened in the namespace, each request
 * sent to the target (sendto), and only the target's replies counted. IPv6
 * raw ICMP sockets get their checksum from the kernel; IPv4 ones carry ours
 * and receive the IP header in front of the reply.
 */

import { SystemError, TimeoutError, ValidationError } from '../errors.js';
import { errnoName } from './errno.js';
import { AF_INET, AF_INET6, check, lastErrno, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW, sys } from './libc.js';
import { parsePrefix } from './netlink/codec/address.js';
import { inNetns } from './netns.js';
import { poller } from './poller.js';

/** ENETUNREACH, EHOSTUNREACH: no route to the target. */
const UNREACHABLE = new Set([101, 113]);
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const ECHO = { 4: { request: 8, reply: 0 }, 6: { request: 128, reply: 129 } } as const;

export interface EchoOptions {
  /** Milliseconds to wait for a reply in all (default 2000). */
  timeout?: number;
  /** Milliseconds between requests while none is answered (default 200). */
  interval?: number;
}

let nextId = (process.pid & 0xffff) ^ 0x5a5a;

/** Resolves with the round-trip time (ms) of the first echo answered; TimeoutError if none is. */
export function echo(netns: string | undefined, address: string, options: EchoOptions = {}): Promise<number> {
  const target = parsePrefix(address);
  if (!target || target.length !== target.bytes.length * 8) {
    throw new ValidationError(`address: ${JSON.stringify(address)} is not an IP address`, 'address');
  }
  const family = target.family;
  const fd = inNetns(netns, () =>
    check(
      'socket',
      sys.socket(
        family === 4 ? AF_INET : AF_INET6,
        SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
        family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6,
      ),
      'raw ICMP socket',
    ),
  );
  // Not connected: connect() would fix the source address once, and an IPv6 address still in
  // duplicate address detection (tentative) has none yet. Each request picks its source anew.
  const to = sockaddr(family, target.bytes);
  const id = nextId++ & 0xffff;
  const timeout = options.timeout ?? 2000;
  const interval = options.interval ?? 200;
  const sent = new Map<number, number>();
  const buf = Buffer.alloc(2048);
  const from = Buffer.alloc(28);
  return new Promise<number>((resolve, reject) => {
    let seq = 0;
    const send = () => {
      const packet = request(family, id, ++seq);
      sent.set(seq, performance.now());
      if (Number(sys.sendto(fd, packet, packet.length, 0, to, to.length)) >= 0) return;
      // No route to the target (what connect() said at once, as ping does): an error now, not a
      // timeout. Other refusals (a buffer full) show as no reply.
      const errno = lastErrno();
      if (UNREACHABLE.has(errno)) finish(() => reject(new SystemError('sendto', errno, errnoName(errno), address)));
    };
    // Awaited: the process stays alive until the reply comes or the time is up.
    const release = poller.hold();
    const finish = (fn: () => void) => {
      clearInterval(ticker);
      clearTimeout(timer);
      poller.unwatch(fd);
      release();
      sys.close(fd);
      fn();
    };
    poller.watch(fd, () => {
      for (;;) {
        const len = [from.length];
        const n = Number(sys.recvfrom(fd, buf, buf.length, 0, from, len));
        if (n <= 0) return true;
        // Unconnected, the socket sees every echo reply of the namespace: only the target's count.
        if (
          !from
            .subarray(family === 4 ? 4 : 8, family === 4 ? 8 : 24)
            .equals(to.subarray(family === 4 ? 4 : 8, family === 4 ? 8 : 24))
        )
          continue;
        const at = family === 4 ? ((buf[0] as number) & 0x0f) * 4 : 0;
        if (n < at + 8 || buf[at] !== ECHO[family].reply || buf.readUInt16BE(at + 4) !== id) continue;
        const start = sent.get(buf.readUInt16BE(at + 6));
        if (start !== undefined) {
          finish(() => resolve(performance.now() - start));
          return true;
        }
      }
    });
    const ticker = setInterval(send, interval);
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new TimeoutError(`${address} did not answer an ICMP echo from ${netns ?? 'the root namespace'} within ${timeout} ms`),
          ),
        ),
      timeout,
    );
    send();
  });
}

function sockaddr(family: 4 | 6, bytes: Uint8Array): Buffer {
  if (family === 4) {
    const sa = Buffer.alloc(16);
    sa.writeUInt16LE(AF_INET, 0);
    Buffer.from(bytes).copy(sa, 4);
    return sa;
  }
  const sa = Buffer.alloc(28);
  sa.writeUInt16LE(AF_INET6, 0);
  Buffer.from(bytes).copy(sa, 8);
  return sa;
}

function request(family: 4 | 6, id: number, seq: number): Buffer {
  const p = Buffer.alloc(8 + 32);
  p[0] = ECHO[family].request;
  p.writeUInt16BE(id, 4);
  p.writeUInt16BE(seq, 6);
  p.write('netstate ensureReachable', 8);
  if (family === 4) p.writeUInt16BE(checksum(p), 2);
  return p;
}

/** The Internet checksum (RFC 1071). */
function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += (b[b.length - 1] as number) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}
