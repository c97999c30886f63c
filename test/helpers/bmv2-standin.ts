/**
 * The simple_switch_grpc stand-in (test/fixtures/bmv2/simple_switch_grpc) as
 * tests run it: `ip netns exec NS <stand-in> args` (ip execs in place, so the
 * child's pid is the switch's pid), every child tracked and SIGKILLed by
 * `killAll()`; and the independent readers a test checks it with: listening
 * sockets of a pid from /proc/PID/net/tcp{,6} and /proc/PID/fd, pcap files.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const STANDIN = join(import.meta.dirname, '../fixtures/bmv2/simple_switch_grpc');

export interface Switch {
  child: ChildProcess;
  pid: number;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with how it ended. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** The environment without any BMV2_STANDIN_* of the caller's, plus node on PATH for the shebang. */
function environment(knobs: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BMV2_STANDIN_')) env[k] = v;
  env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  return { ...env, ...knobs };
}

/** Starts the stand-in in namespace `ns`. */
export function startSwitch(ns: string, args: string[], knobs: Record<string, string> = {}): Switch {
  const child = spawn('ip', ['netns', 'exec', ns, STANDIN, ...args], {
    env: environment(knobs),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' comes after the pipes are drained, so stdout/stderr are complete then.
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    pid: child.pid as number,
    get stdout() {
      return out;
    },
    get stderr() {
      return err;
    },
    exit,
  };
}

/** Runs the stand-in to its end. */
export async function runSwitch(ns: string, args: string[], knobs: Record<string, string> = {}) {
  const s = startSwitch(ns, args, knobs);
  const end = await s.exit;
  return { ...end, stdout: s.stdout, stderr: s.stderr };
}

/** SIGKILLs every stand-in still running and waits for each to be gone. */
export async function killAll(): Promise<void> {
  const left = [...running];
  await Promise.all(
    left.map(
      (c) =>
        new Promise<void>((resolve) => {
          c.once('close', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
}

export interface Listener {
  /** Local address as /proc shows it (hex), and the port. */
  address: string;
  port: number;
  family: 4 | 6;
  inode: number;
}

/**
 * TCP sockets in LISTEN state that `pid` holds open: the pid's view of its
 * namespace's /proc/net/tcp{,6} joined on inode with its /proc/PID/fd links.
 */
export function listeners(pid: number): Listener[] {
  let owned: Set<number>;
  try {
    owned = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined; // closed meanwhile
          }
        })
        .filter((x): x is string => x !== undefined)
        .map(Number),
    );
  } catch {
    return []; // the process is gone
  }
  const found: Listener[] = [];
  for (const family of [4, 6] as const) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${family === 4 ? 'tcp' : 'tcp6'}`, 'utf8');
    } catch {
      return [];
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = TCP_LISTEN
      const [address, port] = (f[1] as string).split(':') as [string, string];
      const inode = Number(f[9]);
      if (owned.has(inode)) found.push({ address, port: Number.parseInt(port, 16), family, inode });
    }
  }
  return found;
}

/** Polls /proc (there is no event for "a socket is listening") until `ports` all listen, or the switch ends. */
export async function untilListening(s: Switch, ports: number[], timeout = 10_000): Promise<Listener[]> {
  let ended = false;
  void s.exit.then(() => {
    ended = true;
  });
  const deadline = Date.now() + timeout;
  for (;;) {
    const l = listeners(s.pid);
    if (ports.every((p) => l.some((x) => x.port === p))) return l;
    if (ended) throw new Error(`the switch ended before listening on ${ports}: ${s.stdout} ${s.stderr}`);
    if (Date.now() > deadline) throw new Error(`no listener on ${ports} after ${timeout} ms: ${JSON.stringify(l)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves when `stream` of the switch has a line matching `re`. */
export async function untilOutput(s: Switch, stream: 'stdout' | 'stderr', re: RegExp, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!re.test(s[stream])) {
    if (Date.now() > deadline) throw new Error(`no ${re} on ${stream} after ${timeout} ms: ${s[stream]}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The frames of a pcap file (microsecond, Ethernet), after checking its header. */
export function pcapFrames(file: string): Buffer[] {
  const b = readFileSync(file);
  if (b.length < 24 || b.readUInt32LE(0) !== 0xa1b2c3d4 || b.readUInt32LE(20) !== 1) {
    throw new Error(`${file} is not a little-endian Ethernet pcap file`);
  }
  const frames: Buffer[] = [];
  for (let off = 24; off + 16 <= b.length; ) {
    const caplen = b.readUInt32LE(off + 8);
    frames.push(b.subarray(off + 16, off + 16 + caplen));
    off += 16 + caplen;
  }
  return frames;
}

/** Is the frame an ICMP or ICMPv6 echo request or reply? */
export function isEcho(frame: Buffer): boolean {
  const type = frame.readUInt16BE(12);
  if (type === 0x0800) return frame[23] === 1 && [0, 8].includes(frame[14 + ((frame[14] as number) & 0x0f) * 4] as number);
  if (type === 0x86dd) return frame[20] === 58 && [128, 129].includes(frame[54] as number);
  return false;
}
