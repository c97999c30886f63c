/**
 * The TCP ports a process listens on, as the kernel says: LISTEN sockets of
 * its namespace (/proc/PID/net/tcp and tcp6, the pid's own view of its
 * namespace) whose inode is one of its open file descriptors
 * (/proc/PID/fd -> socket:[INODE]). Ownership, not "a connect works": two
 * processes sharing a port through SO_REUSEPORT each own their own socket,
 * and a port another process holds is not this one's.
 *
 * The LISTEN sockets of the namespace that are not the process's own tell
 * the one case ownership alone misses: gRPC binds with SO_REUSEPORT, so a
 * second switch on a taken gRPC port binds too, owns its socket, and the
 * kernel splits new connections between the two (RUNTIME-NOTES.md B).
 *
 * gRPC binds an IPv4 address as a v4-mapped AF_INET6 socket and a wildcard
 * as one dual-stack [::] socket, so both files are read.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TCP_LISTEN = '0A';

/** A LISTEN socket of a namespace. */
export interface ListenSocket {
  port: number;
  /** The local address: dotted IPv4 (v4-mapped IPv6 too), IPv6 as 8 hex groups; '*' for a wildcard. */
  address: string;
  inode: number;
}

/** Socket inodes among the process's open file descriptors (empty when it is gone, or a zombie). */
function socketInodes(pid: number | string): Set<number> {
  const out = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** /proc/net/tcp's address: 8 hex digits, a little-endian u32 (x86 and arm64 alike). */
function ipv4Of(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return n === 0 ? '*' : [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
}

/** /proc/net/tcp6's address: four such u32 words; a v4-mapped one as its IPv4 address. */
function ipv6Of(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.every((b) => b === 0)) return '*';
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return groups.join(':');
}

/** Every LISTEN socket of the namespace `pid` is in, whoever holds it. */
export function namespaceListeners(pid: number): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const file of ['tcp', 'tcp6'] as const) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue; // gone, or no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
      const [hex, port] = (f[1] as string).split(':') as [string, string];
      out.push({
        port: Number.parseInt(port, 16),
        address: file === 'tcp' ? ipv4Of(hex) : ipv6Of(hex),
        inode: Number(f[9]),
      });
    }
  }
  return out;
}

/** The ports `pid` owns a listening TCP socket on (IPv4 or IPv6, any address). */
export function listeningPorts(pid: number): Set<number> {
  const owned = socketInodes(pid);
  const ports = new Set<number>();
  if (owned.size === 0) return ports;
  for (const s of namespaceListeners(pid)) if (owned.has(s.inode)) ports.add(s.port);
  return ports;
}

/**
 * LISTEN sockets on `ports` that `pid` does not own, on an address one of
 * its own sockets on that port also takes (the same, or either a wildcard):
 * what shares a port with it through SO_REUSEPORT.
 */
export function sharedListeners(pid: number, ports: readonly number[]): ListenSocket[] {
  const owned = socketInodes(pid);
  const all = namespaceListeners(pid).filter((s) => ports.includes(s.port));
  const mine = all.filter((s) => owned.has(s.inode));
  return all.filter(
    (s) =>
      !owned.has(s.inode) &&
      mine.some((m) => m.port === s.port && (m.address === s.address || m.address === '*' || s.address === '*')),
  );
}

/** The process holding a socket (the first found), by a walk over /proc: for messages only. */
export function socketHolder(inode: number): { pid: number; comm: string } | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    if (!socketInodes(pid).has(inode)) continue;
    let comm = '?';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {}
    return { pid: Number(pid), comm };
  }
  return undefined;
}
