/**
 * Namespace: p4net's NetworkNamespace and pyroute2's netns module, as a thin
 * facade on the store: `create` and `destroy` are transactions (made and
 * followed; processes ended, then removed), `exec` and `spawn` run inside it
 * without `ip netns exec` (setns, then the command's own pid).
 *
 *   await using ns = await Namespace.create('h1');
 *   await ns.exec(['ip', 'addr']);            // { code, signal, stdout, stderr }
 *   const p = ns.spawn(['sleep', '60']);      // NsProcess: pid, poll, wait, terminate, kill, close
 *
 * Each call opens a transaction of its own on `db` (a store following
 * nothing else when none is given) or, with `{ tx }`, stages into an open
 * one.
 */
import { listNetns, netnsExists, validateNetnsName } from '../backends/netns.js';
import type { ExecOptionsInput, SpawnOptionsInput } from '../backends/process/command.js';
import { type ExecResult, exec, type NsProcess, spawn } from '../backends/process/spawn.js';
import { NamespaceError } from '../errors.js';
import { type FacadeOptions, transact } from './transact.js';

export class Namespace implements AsyncDisposable {
  private constructor(
    readonly name: string,
    private readonly options: FacadeOptions,
  ) {}

  /** Makes the namespace (`ip netns add`); a NamespaceError if it exists. Its loopback is up. */
  static async create(name: string, options: FacadeOptions = {}): Promise<Namespace> {
    await transact(options, (tx) => tx.addNamespace(name));
    return new Namespace(name, options);
  }

  /** A handle on an existing namespace; a NamespaceError if there is none. */
  static of(name: string, options: FacadeOptions = {}): Namespace {
    validateNetnsName(name);
    if (!netnsExists(name)) throw new NamespaceError(`no namespace named "${name}"`);
    return new Namespace(name, options);
  }

  /** `ip netns list`. */
  static list(): string[] {
    return listNetns();
  }

  get exists(): boolean {
    return netnsExists(this.name);
  }

  /** Removes it, its processes ended first (`ip netns del`); a NamespaceError if it is gone already. */
  async destroy(): Promise<void> {
    if (!this.exists) throw new NamespaceError(`namespace "${this.name}" does not exist`);
    await transact(this.options, (tx) => tx.removeNamespace(this.name));
  }

  /** Runs argv inside it to its end: p4net's exec (check, timeout, capture, env, cwd). */
  exec(argv: string[], options: ExecOptionsInput = {}): Promise<ExecResult> {
    return exec(this.name, argv, options);
  }

  /** Starts argv inside it: p4net's popen, pyroute2's NSPopen; the pid is the command's own. */
  spawn(argv: string[], options: SpawnOptionsInput = {}): NsProcess {
    return spawn(this.name, argv, options);
  }

  /** Destroys it if it still exists (the context manager of p4net). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.exists) await transact({ ...this.options, tx: undefined }, (tx) => tx.removeNamespace(this.name));
  }
}
