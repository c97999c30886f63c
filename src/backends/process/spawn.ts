/**
 * Processes started inside a network namespace, without `ip netns exec`
 * and without a helper process: child_process.spawn is called while the
 * main thread is inside the namespace (inNetns), and the forked child
 * inherits the namespace of the thread that forked it. libuv only returns
 * from spawn once the exec has happened, so the thread is back home before
 * any other JavaScript runs.
 *
 * The pid is the command's own. With limits, the child starts as
 * `/bin/sh -c SCRIPT` which writes its own pid ($$) into each cgroup.procs
 * and then execs the command in place (same pid): the command's first
 * instruction already runs limited. The argv is passed to that shell as
 * arguments, never pasted into the script.
 *
 * Unlike `ip netns exec`, nothing else changes: no new mount namespace, so
 * /sys is the caller's (not remounted for the namespace) and
 * /etc/netns/NAME/* is not bind-mounted over /etc. /proc/sys/net and
 * /proc/net are the namespace's, as they follow the netns of the reader.
 *
 * An NsProcess never keeps Node running by itself: the child and its pipes
 * are unref'd, except while a wait() (or exec) is in progress, or after
 * ref().
 */
import { type ChildProcess, spawn as cpSpawn, type StdioOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { NamespaceError, ProcessError, ProcessTimeoutError, TimeoutError } from '../../errors.js';
import {
  addToCgroup,
  type Cgroup,
  createCgroup,
  privateCgroupName,
  procsFiles,
  removeCgroup,
  removeEmptyCgroup,
} from '../cgroup.js';
import { inNetns } from '../netns.js';
import { signalNumber } from '../pidfd.js';
import { shown } from '../schema.js';
import {
  checkArgv,
  checkNetns,
  ExecOptions,
  type ExecOptionsInput,
  netnsIdentity,
  parseOptions,
  processNetns,
  resolveCommand,
  SpawnOptions,
  type SpawnOptionsInput,
  sameNetns,
} from './command.js';

/** How a process ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** exec's result. stdout and stderr are '' when not captured. */
export interface ExecResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/** The shell that enters the cgroups named before `--`, then becomes the command after it (exec: same pid). */
const ENTER_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

/** Exit code of the wrapper when it could not enter a cgroup (the command never ran). */
export const CGROUP_ENTRY_FAILED = 125;

const STDERR_TAIL = 4096;

interface Started {
  child: ChildProcess;
  command: string;
  cgroup: Cgroup | undefined;
  ownsCgroup: boolean;
}

type Stdio = 'ignore' | 'inherit' | 'pipe' | number;

function where(netns: string | undefined): string {
  return netns === undefined ? '' : ` in namespace "${netns}"`;
}

/** Starts argv in the namespace, in its cgroup when there is one; throws before anything runs when it cannot. */
function start(
  netns: string | undefined,
  argv: string[],
  opts: { env?: Record<string, string>; cwd?: string; limits?: unknown; cgroup?: Cgroup; stdio: [Stdio, Stdio, Stdio] },
): Started {
  const identity = netns === undefined ? undefined : netnsIdentity(netns);
  const command = resolveCommand(argv, netns, opts.env, opts.cwd);
  const ownsCgroup = opts.limits !== undefined;
  const cgroup = ownsCgroup ? createCgroup(privateCgroupName(), opts.limits as object) : opts.cgroup;
  const [file, args] = cgroup
    ? ['/bin/sh', ['-c', ENTER_CGROUPS, 'netstate-enter-cgroup', ...procsFiles(cgroup), '--', command, ...argv.slice(1)]]
    : [command, argv.slice(1)];
  let child: ChildProcess;
  try {
    child = inNetns(netns, () =>
      cpSpawn(file, args, {
        argv0: cgroup ? undefined : command,
        env: opts.env,
        cwd: opts.cwd,
        stdio: opts.stdio as StdioOptions,
      }),
    );
  } catch (e) {
    if (ownsCgroup && cgroup) removeEmptyCgroup(cgroup);
    throw new ProcessError(`cannot start ${shown(argv[0])}${where(netns)}: ${(e as Error).message}`, argv, netns, null, null, '');
  }
  if (child.pid === undefined) {
    // The reason comes later as an 'error' event; the command was found, so this is rare (EAGAIN, EMFILE...).
    child.on('error', () => {});
    if (ownsCgroup && cgroup) removeEmptyCgroup(cgroup);
    throw new ProcessError(`cannot start ${shown(argv[0])}${where(netns)}`, argv, netns, null, null, '');
  }
  if (cgroup) {
    // The wrapper enters the cgroups before the command's first instruction; entering them from here too means
    // that they also hold the process from the moment spawn() returns (the same write twice is harmless). The pid
    // cannot be someone else's yet: it is our unreaped child, and reaping waits for the event loop.
    try {
      addToCgroup(cgroup, child.pid);
    } catch {} // already exited
  }
  // The child inherits the forking thread's namespace; prove it (a process already gone has no namespace to check).
  const actual = processNetns(child.pid);
  if (identity && actual && !sameNetns(actual, identity)) {
    child.kill('SIGKILL');
    throw new NamespaceError(`process ${child.pid} started outside namespace "${netns}"`);
  }
  return { child, command, cgroup, ownsCgroup };
}

/**
 * A process running in a namespace: p4net's NSProcess, pyroute2's NSPopen,
 * with Popen's surface (pid, poll, wait, terminate, kill, returncode) and
 * `await using` (SIGTERM, up to 5 s, then SIGKILL).
 */
export class NsProcess implements AsyncDisposable {
  /** The command's own pid (no wrapper process). */
  readonly pid: number;
  /** The namespace it was started in (undefined: the caller's own). */
  readonly netns: string | undefined;
  /** The argv as given. */
  readonly argv: readonly string[];
  /** The executable that runs (argv[0] resolved on PATH); also its argv[0] in /proc/PID/cmdline. */
  readonly command: string;
  /** The cgroup it started in, when there is one. */
  readonly cgroup: Cgroup | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;

  readonly #child: ChildProcess;
  readonly #ownsCgroup: boolean;
  readonly #exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  #holds = 0;
  #pinned = false;

  /** @internal use spawn() */
  constructor(started: Started, netns: string | undefined, argv: readonly string[]) {
    const { child } = started;
    this.#child = child;
    this.pid = child.pid as number;
    this.netns = netns;
    this.argv = Object.freeze([...argv]);
    this.command = started.command;
    this.cgroup = started.cgroup;
    this.#ownsCgroup = started.ownsCgroup;
    this.stdin = child.stdin;
    this.stdout = child.stdout;
    this.stderr = child.stderr;
    // Kept for the record; an unhandled 'error' would otherwise crash the caller (a failed kill, a write to a closed stdin).
    child.on('error', () => {});
    child.stdin?.on('error', () => {});
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#status = { code, signal };
        // Its own cgroup goes with it when empty; one still holding a child it forked stays for stop()/removeCgroup.
        if (this.#ownsCgroup && this.cgroup) removeEmptyCgroup(this.cgroup);
        resolve(this.#status);
      });
    });
    this.#updateRef();
  }

  /** Whether the process has exited (and Node has reaped it). */
  get exited(): boolean {
    return this.#status !== undefined;
  }

  /** Its exit status once exited, else undefined. */
  get status(): ExitStatus | undefined {
    return this.#status;
  }

  /** Popen's returncode: the exit code, -N when signal N ended it, null while it runs. */
  get returncode(): number | null {
    const s = this.#status;
    if (!s) return null;
    return s.code ?? -signalNumber(s.signal);
  }

  /** The returncode, or null while it runs (as known after Node reaped it: the next turn of the event loop after the exit). */
  poll(): number | null {
    return this.returncode;
  }

  /**
   * Waits for the exit. Keeps Node's event loop alive while waiting. With a
   * timeout, a TimeoutError when it is still running by then (it is not
   * killed: that is terminate()/kill(), or stop()).
   */
  async wait({ timeout }: { timeout?: number } = {}): Promise<ExitStatus> {
    if (this.#status) return this.#status;
    this.#hold(+1);
    let timer: NodeJS.Timeout | undefined;
    try {
      if (timeout === undefined) return await this.#exited;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new TimeoutError(`process ${this.pid} (${this.argv[0]})${where(this.netns)} still runs after ${timeout} ms`)),
          timeout,
        );
      });
      return await Promise.race([this.#exited, late]);
    } finally {
      clearTimeout(timer);
      this.#hold(-1);
    }
  }

  /** Sends a signal; false when the process has already exited (a reused pid is never signalled). */
  sendSignal(signal: NodeJS.Signals | number): boolean {
    signalNumber(signal);
    if (this.#status) return false;
    return this.#child.kill(signal);
  }

  /** SIGTERM. */
  terminate(): boolean {
    return this.sendSignal('SIGTERM');
  }

  /** SIGKILL. */
  kill(): boolean {
    return this.sendSignal('SIGKILL');
  }

  /**
   * SIGTERM, up to `timeout` ms (default 5000), then SIGKILL; resolves with
   * the exit status. Its own cgroup (limits) is removed, anything it forked
   * there killed. p4net's BMv2Switch.stop and NSProcess.__exit__.
   */
  async stop({ timeout = 5000 }: { timeout?: number } = {}): Promise<ExitStatus> {
    let status = this.#status;
    if (!status) {
      this.terminate();
      try {
        status = await this.wait({ timeout });
      } catch (e) {
        if (!(e instanceof TimeoutError)) throw e;
        this.kill();
        status = await this.wait();
      }
    }
    this.close();
    if (this.#ownsCgroup && this.cgroup) await removeCgroup(this.cgroup);
    return status;
  }

  /** Releases stdio (destroys the pipes). The process is left running. */
  close(): void {
    for (const s of [this.stdin, this.stdout, this.stderr]) s?.destroy();
  }

  /** Lets this process keep Node running until it exits (or unref()). */
  ref(): void {
    this.#pinned = true;
    this.#updateRef();
  }

  /** Back to the default: this process does not keep Node running. */
  unref(): void {
    this.#pinned = false;
    this.#updateRef();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop({ timeout: 5000 });
  }

  /** @internal exec's view of the child (the 'close' event, after all output). */
  static childOf(p: NsProcess): ChildProcess {
    return p.#child;
  }

  /** @internal */
  static hold(p: NsProcess, delta: 1 | -1): void {
    p.#hold(delta);
  }

  #hold(delta: 1 | -1): void {
    this.#holds += delta;
    this.#updateRef();
  }

  #updateRef(): void {
    const keep = this.#pinned || this.#holds > 0;
    // Pipes are net.Sockets, which have ref()/unref() (the Readable/Writable types do not say so).
    const handles = [this.#child, this.stdin, this.stdout, this.stderr] as unknown as ({ ref?(): void; unref?(): void } | null)[];
    for (const h of handles) (keep ? h?.ref : h?.unref)?.call(h);
  }
}

/**
 * Starts argv in namespace `netns` (the caller's own when undefined) and
 * returns at once. p4net's NetworkNamespace.popen, pyroute2's NSPopen,
 * DummyNet's run_async (which goes through a shell: here there is none,
 * unless limits ask for the cgroup-entering one that execs in place).
 */
export function spawn(netns: string | undefined, argv: readonly string[], options: SpawnOptionsInput = {}): NsProcess {
  checkNetns(netns);
  const args = checkArgv(argv);
  const o = parseOptions(SpawnOptions, options, 'spawn');
  const piped = o.capture ? 'pipe' : 'inherit';
  const started = start(netns, args, {
    env: o.env,
    cwd: o.cwd,
    limits: o.limits,
    cgroup: o.cgroup,
    stdio: [o.stdin ?? 'ignore', o.stdout ?? piped, o.stderr ?? piped],
  });
  return new NsProcess(started, netns, args);
}

/**
 * Runs argv in namespace `netns` to its end. p4net's NetworkNamespace.exec
 * (subprocess.run: check, timeout, capture_output, env), DummyNet's run,
 * `ip netns exec NS argv` in iproute2 terms. With `check` (the default) a
 * non-zero exit or a signal is a ProcessError carrying the argv, code,
 * signal and the end of stderr; a timeout sends SIGTERM, then SIGKILL after
 * `killGrace`, and is a ProcessTimeoutError. With `limits`, anything the
 * command left running in its cgroup is killed when it ends.
 */
export async function exec(
  netns: string | undefined,
  argv: readonly string[],
  options: ExecOptionsInput = {},
): Promise<ExecResult> {
  checkNetns(netns);
  const args = checkArgv(argv);
  const o = parseOptions(ExecOptions, options, 'exec');
  const capture = o.capture ?? true;
  const started = start(netns, args, {
    env: o.env,
    cwd: o.cwd,
    limits: o.limits,
    cgroup: o.cgroup,
    stdio: [o.input === undefined ? 'ignore' : 'pipe', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'],
  });
  const p = new NsProcess(started, netns, args);
  const child = NsProcess.childOf(p);
  NsProcess.hold(p, +1);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  if (o.input !== undefined) child.stdin?.end(o.input);

  let timedOut = false;
  const timers: NodeJS.Timeout[] = [];
  const closed = new Promise<ExitStatus>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  if (o.timeout !== undefined) {
    timers.push(
      setTimeout(() => {
        if (p.exited) {
          // It ended in time; something it started still holds its output open: stop waiting for that.
          p.close();
          return;
        }
        timedOut = true;
        p.terminate();
        timers.push(setTimeout(() => p.kill(), o.killGrace ?? 1000));
        // After the kill, do not wait for grandchildren holding the pipes.
        void p.wait().then(() => p.close());
      }, o.timeout),
    );
  }
  let status: ExitStatus;
  try {
    await closed;
    status = await p.wait();
  } finally {
    for (const t of timers) clearTimeout(t);
    NsProcess.hold(p, -1);
  }
  if (started.ownsCgroup && started.cgroup) await removeCgroup(started.cgroup);
  const tail = stderr.slice(-STDERR_TAIL);
  const cmd = args.map((a) => (/^[\w./:=@%+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
  if (timedOut) {
    throw new ProcessTimeoutError(
      `${cmd}${where(netns)} timed out after ${o.timeout} ms and was killed (${status.signal ?? `exit ${status.code}`})`,
      args,
      netns,
      status.code,
      status.signal,
      tail,
      o.timeout as number,
      stdout,
    );
  }
  if ((o.check ?? true) && (status.code !== 0 || status.signal !== null)) {
    const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
    const last = tail.trim().split('\n').slice(-3).join(' | ');
    throw new ProcessError(
      `${cmd}${where(netns)} ${how}${last ? `: ${last}` : ''}`,
      args,
      netns,
      status.code,
      status.signal,
      tail,
    );
  }
  return { ...status, stdout, stderr };
}
