/**
 * One BMv2 `simple_switch_grpc` process, with p4net's BMv2Switch surface:
 *
 *   const sw = new Bmv2Switch({ netns: 's1', program: 'build/demo.json', ports: { 1: 'p1', 2: 'p2' } });
 *   sw.start();                       // returns at once
 *   await sw.waitUntilReady();        // listening on its gRPC and Thrift ports, or a Bmv2StartupError
 *   sw.isRunning; sw.pid; sw.grpcPort; sw.thriftPort; sw.bootTimestampUs;
 *   await sw.stop();                  // SIGTERM, SIGKILL after the timeout; idempotent
 *   sw.returncode;                    // -15: ended by SIGTERM (BMv2 has no handler for it)
 *
 * Before starting, each port's interface must exist and be up in the
 * namespace: BMv2 runs on without a port whose interface is missing or
 * down (libpcap refuses a down link), which no exit code would tell.
 *
 * Ready is not a log line: BMv2 prints "Server listening" even when the
 * bind failed, logs "Thrift server was started" before it binds, and gRPC's
 * SO_REUSEPORT lets two switches share a port. Ready means: the pid is
 * alive, owns a LISTEN socket on each of its ports (listeners.ts), and
 * still does a moment later, and no other socket of its namespace listens
 * on those ports (a port shared through SO_REUSEPORT is a failed start).
 * An exit is seen at once (`changes$`); its last output lines are kept
 * (output.ts) for the error.
 *
 * A switch never keeps Node running by itself: only what is awaited
 * (waitUntilReady, stop, kill) does, until it settles.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Observable, Subject } from 'rxjs';
import { Bmv2NotFoundError, Bmv2StartupError, NetStateError, ProcessError } from '../../errors.js';
import { IFF_UP, interfaceFlags } from '../ifreq.js';
import { signalNumber } from '../pidfd.js';
import { resolveCommand } from '../process/command.js';
import { type ExitStatus, NsProcess, spawn } from '../process/spawn.js';
import { type ListenSocket, listeningPorts, sharedListeners, socketHolder } from './listeners.js';
import { type Bmv2Config, type Bmv2OptionsInput, bmv2Args, parseBmv2Options } from './options.js';
import { fileLastLines, OutputFile } from './output.js';

/** new: never started; starting: spawned, not ready yet; running: ready; exited: ended on its own; stopped: ended by stop()/kill(). */
export type Bmv2State = 'new' | 'starting' | 'running' | 'exited' | 'stopped';

/** A switch as its changes report it. */
export interface Bmv2Status {
  name: string;
  netns: string | undefined;
  state: Bmv2State;
  pid: number | undefined;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  bootTimestampUs: number | undefined;
}

/** How long the ports must stay owned after they were first seen: a process that dies at once is not ready. */
const SETTLE_MS = 100;
/** Lines of output a Bmv2StartupError carries (and as many of the log file's). */
const LAST_LINES = 20;

/** The absolute path of a switch binary, as execvp finds it (PATH of `env`, else ours); Bmv2NotFoundError otherwise. */
export function findBmv2Binary(binary: string, env?: Record<string, string>, netns?: string): string {
  try {
    return resolveCommand([binary], netns, env === undefined ? undefined : { ...processEnv(), ...env });
  } catch (e) {
    if (!(e instanceof ProcessError)) throw e;
    const where = binary.includes('/') ? `${binary} is not an executable file` : `${binary} is not on PATH`;
    throw new Bmv2NotFoundError(
      `BMv2 not found: ${where} (install behavioral-model, or give binary: '/path/to/simple_switch_grpc')`,
      binary,
    );
  }
}

function processEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
}

function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export class Bmv2Switch implements AsyncDisposable {
  /** The options, defaults filled in. */
  readonly config: Readonly<Bmv2Config>;
  /** Every change of state (starting, running, exited, stopped), as it happens. */
  readonly changes$: Observable<Bmv2Status>;

  readonly #changes = new Subject<Bmv2Status>();
  #process: NsProcess | undefined;
  #output: OutputFile | undefined;
  #state: Bmv2State = 'new';
  /** stop() or kill() was asked for during this run: its end is 'stopped', not 'exited'. */
  #requested = false;
  #ready: Promise<void> | undefined;
  #ending: Promise<ExitStatus> | undefined;
  #boot: number | undefined;

  constructor(options: Bmv2OptionsInput) {
    this.config = Object.freeze(parseBmv2Options(options));
    this.changes$ = this.#changes.asObservable();
  }

  get name(): string {
    return this.config.name;
  }

  get netns(): string | undefined {
    return this.config.netns;
  }

  get state(): Bmv2State {
    return this.#state;
  }

  /** The process's pid (the last run's once it ended); undefined before the first start. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Started and not ended (starting or running). */
  get isRunning(): boolean {
    return this.#state === 'starting' || this.#state === 'running';
  }

  /** Popen's returncode: the exit code, -N when signal N ended it, null while it runs or before a start. */
  get returncode(): number | null {
    return this.#process?.returncode ?? null;
  }

  /** How the last run ended: its exit code (null when a signal ended it, or still running). */
  get exitCode(): number | null {
    return this.#process?.status?.code ?? null;
  }

  /** The signal that ended the last run, or null. */
  get signal(): NodeJS.Signals | null {
    return this.#process?.status?.signal ?? null;
  }

  /** The Thrift port (simple_switch_CLI), or null for a build without Thrift. */
  get thriftPort(): number | null {
    return this.config.thriftPort;
  }

  /** The P4Runtime gRPC port. */
  get grpcPort(): number {
    return this.config.grpcPort;
  }

  /** The gRPC address, 'host:port'. */
  get grpcAddress(): string {
    return this.config.grpcAddress;
  }

  /**
   * Wall-clock µs since the epoch just before the process was started:
   * add it to BMv2's ingress timestamps (µs since its start) for wall-clock
   * time. Undefined before a start and after stop()/kill().
   */
  get bootTimestampUs(): number | undefined {
    return this.#boot;
  }

  /** The command line it runs with (the binary as given). */
  get argv(): string[] {
    return [this.config.binary, ...bmv2Args(this.config)];
  }

  /** What it is now. */
  get status(): Bmv2Status {
    return {
      name: this.name,
      netns: this.netns,
      state: this.#state,
      pid: this.pid,
      exitCode: this.exitCode,
      signal: this.signal,
      bootTimestampUs: this.#boot,
    };
  }

  /**
   * Starts the process and returns at once (waitUntilReady says when it
   * listens). Throws Bmv2NotFoundError without a binary, Bmv2StartupError
   * when a port's interface is missing or down. Once a run has ended, start()
   * runs it again.
   */
  start(): this {
    if (this.isRunning) throw new NetStateError(`switch ${this.name}${this.#where()} runs already (pid ${this.pid})`);
    const c = this.config;
    const command = findBmv2Binary(c.binary, c.env, c.netns);
    this.#checkPorts();
    if (c.pcap !== undefined) mkdirSync(c.pcap, { recursive: true });
    if (c.log !== undefined && c.log !== 'console') mkdirSync(dirname(c.log), { recursive: true });
    this.#output?.close();
    const output = OutputFile.open(c.output);
    this.#output = output;
    this.#requested = false;
    this.#ready = undefined;
    this.#ending = undefined;
    this.#boot = nowUs();
    let p: NsProcess;
    try {
      p = spawn(c.netns, [command, ...bmv2Args(c)], {
        env: c.env === undefined ? undefined : { ...processEnv(), ...c.env },
        stdout: output.fd,
        stderr: output.fd,
        ...(c.limits ? { limits: c.limits } : {}),
        ...(c.cgroup ? { cgroup: c.cgroup } : {}),
      });
    } catch (e) {
      this.#boot = undefined;
      output.close();
      if (e instanceof NetStateError && !(e instanceof ProcessError)) throw e;
      throw new Bmv2StartupError(`switch ${this.name}${this.#where()} could not be started: ${(e as Error).message}`, this.name);
    }
    this.#process = p;
    // The NsProcess sees its exit first (its listener came first): status is set when this runs.
    childOf(p).once('exit', () => this.#ended(p));
    this.#set('starting');
    return this;
  }

  /**
   * Resolves once the switch owns a listening socket on its gRPC port and
   * its Thrift port, and still does a moment later. A Bmv2StartupError with
   * its last output lines when it exits first, is not listening within
   * `timeout` ms (default: the startupTimeout option, 10 s), or shares a
   * port with another listener (SO_REUSEPORT); the process is left as it is
   * (stop() it).
   */
  waitUntilReady({ timeout }: { timeout?: number } = {}): Promise<void> {
    return this.awaitReady(timeout, true);
  }

  /** @internal waitUntilReady; `keepAlive: false` waits without keeping Node running (supervision). */
  awaitReady(timeout: number | undefined, keepAlive: boolean): Promise<void> {
    const p = this.#process;
    if (!p) return Promise.reject(new NetStateError(`switch ${this.name} was never started`));
    if (this.#state === 'running') return Promise.resolve();
    this.#ready ??= this.#untilReady(p, timeout ?? this.config.startupTimeout, keepAlive);
    return this.#ready;
  }

  async #untilReady(p: NsProcess, timeout: number, keepAlive: boolean): Promise<void> {
    const wanted = [this.config.grpcPort, ...(this.config.thriftPort === null ? [] : [this.config.thriftPort])];
    const deadline = performance.now() + timeout;
    let pause = 5;
    for (;;) {
      if (p.exited || this.#requested) throw this.#endedBeforeReady(p);
      if (wanted.every((port) => listeningPorts(p.pid).has(port))) {
        await pauseFor(p, SETTLE_MS, keepAlive);
        if (p.exited || this.#requested) throw this.#endedBeforeReady(p);
        if (wanted.every((port) => listeningPorts(p.pid).has(port))) {
          const shared = sharedListeners(p.pid, wanted);
          if (shared.length > 0) throw this.#sharedPort(p, shared[0] as ListenSocket);
          if (this.#process === p && this.#state === 'starting') this.#set('running');
          return;
        }
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        const have = [...listeningPorts(p.pid)].filter((x) => wanted.includes(x));
        const missing = wanted.filter((x) => !have.includes(x));
        const lines = this.lastLines();
        throw new Bmv2StartupError(
          `switch ${this.name}${this.#where()} (pid ${p.pid}) is not listening on port ${missing.join(' and ')} after ${timeout} ms` +
            shownLines(lines),
          this.name,
          lines,
        );
      }
      // No event says "a socket is listening": the pid's sockets are looked at again, or its exit ends the wait.
      await pauseFor(p, Math.min(pause, left), keepAlive);
      pause = Math.min(pause * 2, 50);
    }
  }

  /**
   * SIGTERM, then SIGKILL after `timeout` ms (default 5000); resolves with
   * how it ended once it has. Idempotent: again, or on a switch that ended
   * already, it resolves at once (undefined before any start).
   */
  async stop({ timeout = 5000 }: { timeout?: number } = {}): Promise<ExitStatus | undefined> {
    const p = this.#process;
    if (!p) return undefined;
    if (!p.exited) this.#requested = true;
    this.#ending ??= p.stop({ timeout });
    const status = await this.#ending;
    this.#finish(p);
    return status;
  }

  /** SIGKILL at once; resolves with how it ended once it has. Idempotent as stop(). */
  async kill(): Promise<ExitStatus | undefined> {
    const p = this.#process;
    if (!p) return undefined;
    if (!p.exited) {
      this.#requested = true;
      p.kill();
    }
    this.#ending ??= p.stop({ timeout: 5000 });
    const status = await this.#ending;
    this.#finish(p);
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The last lines it wrote on stdout and stderr during its last run, then the last of its log file (when it has one). */
  lastLines(n = LAST_LINES): string[] {
    const log = this.config.log;
    const fromLog = log !== undefined && log !== 'console' ? fileLastLines(log, n).map((l) => `${log}: ${l}`) : [];
    return [...(this.#output?.lastLines(n) ?? []), ...fromLog];
  }

  #checkPorts(): void {
    for (const [port, ifname] of this.config.ports) {
      const flags = interfaceFlags(this.netns, ifname);
      const what = `switch ${this.name}: port ${port}'s interface ${ifname}`;
      if (flags === undefined) throw new Bmv2StartupError(`${what} does not exist${this.#where(' in')}`, this.name);
      if ((flags & IFF_UP) === 0) {
        throw new Bmv2StartupError(
          `${what} is down${this.#where(' in')}: BMv2 would run without that port (libpcap refuses a link that is down); set it up first`,
          this.name,
        );
      }
    }
  }

  #ended(p: NsProcess): void {
    if (p !== this.#process) return;
    this.#set(this.#requested ? 'stopped' : 'exited');
  }

  /** After stop()/kill(): its output file released, and no boot time any more (p4net resets it on every stop path). */
  #finish(p: NsProcess): void {
    if (p !== this.#process) return;
    this.#boot = undefined;
    this.#output?.close();
    this.#output = undefined;
  }

  /** It bound a port another socket listens on too (gRPC's SO_REUSEPORT): the kernel would split connections between them. */
  #sharedPort(p: NsProcess, other: ListenSocket): Bmv2StartupError {
    const holder = socketHolder(other.inode);
    const who = holder ? `pid ${holder.pid} (${holder.comm})` : `socket inode ${other.inode}`;
    const address = other.address === '*' ? 'any address' : other.address;
    const lines = this.lastLines();
    return new Bmv2StartupError(
      `switch ${this.name}${this.#where()} (pid ${p.pid}) shares TCP port ${other.port} with ${who}, listening on ${address}: ` +
        `SO_REUSEPORT let both bind, and the kernel would split connections between them${shownLines(lines)}`,
      this.name,
      lines,
    );
  }

  #endedBeforeReady(p: NsProcess): Bmv2StartupError {
    // Our own stop() or kill() is not the switch failing: said as such, whichever signal ended it.
    if (this.#requested && this.#process === p) {
      return new Bmv2StartupError(`switch ${this.name}${this.#where()} was stopped before it was ready`, this.name);
    }
    const { code, signal } = p.status ?? { code: null, signal: null };
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const lines = this.lastLines();
    return new Bmv2StartupError(
      `switch ${this.name}${this.#where()} (pid ${p.pid}) ${how} before it was ready${shownLines(lines)}`,
      this.name,
      lines,
      code,
      signal,
    );
  }

  #set(state: Bmv2State): void {
    this.#state = state;
    this.#changes.next(this.status);
  }

  #where(prefix = ' in'): string {
    return this.netns === undefined ? '' : `${prefix} namespace "${this.netns}"`;
  }
}

function shownLines(lines: string[]): string {
  return lines.length ? `; its last lines:\n  ${lines.join('\n  ')}` : ' (it wrote nothing)';
}

function childOf(p: NsProcess) {
  return NsProcess.childOf(p);
}

/** Waits `ms`, or less if the process exits meanwhile; without keepAlive the wait does not keep Node running. */
function pauseFor(p: NsProcess, ms: number, keepAlive: boolean): Promise<void> {
  return new Promise((resolve) => {
    const child = childOf(p);
    const done = () => {
      clearTimeout(timer);
      child.off('exit', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (!keepAlive) timer.unref();
    if (p.exited) done();
    else child.once('exit', done);
  });
}

/** Popen's returncode of an exit status. */
export function returncodeOf(s: ExitStatus): number {
  return s.code ?? -signalNumber(s.signal);
}
