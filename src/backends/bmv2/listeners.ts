/**
 * The TCP ports a process listens on, as the kernel says: LISTEN sockets of
 * its namespace (/proc/PID/net/tcp and tcp6, the pid's own view of its
 * namespace) whose inode is one of its open file descriptors
 * (/proc/PID/fd -> socket:[INODE]). Ownership, not "a connect works": two
 * processes sharing a port through SO_REUSEPORT each own their own socket,
 * and a port another process holds is not this one's.
 *
 * gRPC binds an IPv4 address as a v4-mapped AF_INET6 socket and a wildcard
 * as one dual-stack [::] socket, so both files are read.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TCP_LISTEN = '0A';

/** Socket inodes among the process's open file descriptors (empty when it is gone, or a zombie). */
function socketInodes(pid: number): Set<number> {
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

/** The ports `pid` owns a listening TCP socket on (IPv4 or IPv6, any address). */
export function listeningPorts(pid: number): Set<number> {
  const owned = socketInodes(pid);
  const ports = new Set<number>();
  if (owned.size === 0) return ports;
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue; // gone, or no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== TCP_LISTEN || !owned.has(Number(f[9]))) continue;
      ports.add(Number.parseInt((f[1] as string).split(':')[1] as string, 16));
    }
  }
  return ports;
}
