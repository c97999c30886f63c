/**
 * What a transaction stages outside rtnetlink: namespaces to make or remove,
 * sysctls to write, processes to start. Input is checked here, before
 * anything is staged, and the starting point is read now (a sysctl's value,
 * what a namespace holds), so the review shows it and the undo restores it.
 *
 *   tx.addNamespace('h1');
 *   tx.create({ kind: 'veth', ifname: 'eth0', netns: 'h1', peer: { ifname: 'h1-eth0' } });
 *   tx.sysctl('net.ipv6.conf.eth0.disable_ipv6', 1, { netns: 'h1' });
 *   tx.spawn('h1', ['iperf3', '-s'], { limits: { cpu: 0.5 } });
 */
import { randomBytes } from 'node:crypto';
import { CgroupLimits, validateCgroupName } from '../backends/cgroup.js';
import { netnsExists, validateNetnsName } from '../backends/netns.js';
import { checkArgv, resolveCommand } from '../backends/process/command.js';
import { processes } from '../backends/process/members.js';
import { int, parseSpec, shown, spec, z } from '../backends/schema.js';
import { readSysctl, sysctlComponents } from '../backends/sysctl.js';
import type { Database } from '../db/database.js';
import { ROOT } from '../db/source.js';
import { NamespaceError, SysctlError, ValidationError } from '../errors.js';
import type { NamespaceTarget, ProcessTarget, Staged, SysctlTarget } from './staged.js';

const ProcessOptions = spec({
  /** Its name in the transaction and in the commit report (default: the command's name, numbered). */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,47}$/, { error: "a process name is 1..48 letters, digits, '_', '.', '-'" })
    .optional(),
  env: z.record(z.string(), z.string(), { error: 'env maps names to strings' }).optional(),
  cwd: z.string().min(1).optional(),
  limits: CgroupLimits.optional(),
  /** The cgroup it starts in (netstate/NAME); one of its own by default. */
  cgroup: z.string().optional(),
  /** Other processes of the transaction may start in the same cgroup (a lab node's): the first makes it. */
  shared: z.boolean().optional(),
  /** Appends its output to this file (discarded by default). */
  log: z.string().min(1).optional(),
});
export type ProcessOptions = z.input<typeof ProcessOptions>;

const RunOptions = spec({
  ...ProcessOptions.shape,
  /** Milliseconds it may take (default 30 000). */
  timeout: int(1, 86_400_000).optional(),
});
export type RunOptions = z.input<typeof RunOptions>;

const NamespaceOptions = spec({
  /** Its loopback: 'up' (default, as a container's) or 'down' (as `ip netns add` leaves it). */
  loopback: z.enum(['up', 'down']).optional(),
});
export type NamespaceOptions = z.input<typeof NamespaceOptions>;

const SysctlValue = z.union([z.string().regex(/^[^\0\n]*$/, { error: 'a sysctl value is one line' }), z.number()], {
  error: (i) => `a sysctl value is a string or a number, got ${shown(i.input)}`,
});

export class HostStaging {
  readonly namespaces = new Map<string, Staged<NamespaceTarget>>();
  readonly sysctls = new Map<string, Staged<SysctlTarget>>();
  readonly processes = new Map<string, Staged<ProcessTarget>>();

  constructor(
    private readonly db: Database,
    /** Whether the transaction makes an interface of this name in that namespace (its sysctls exist only then). */
    private readonly makes: (netns: string, ifname: string) => boolean,
  ) {}

  /** `ip netns add NAME`: made first in the commit, followed from then on, removed by a rollback. */
  addNamespace(name: string, options: NamespaceOptions = {}): void {
    const n = this.name(name, 'tx.addNamespace');
    const o = parseSpec(NamespaceOptions, options, 'tx.addNamespace options');
    const staged = this.namespaces.get(n);
    if (staged?.target) throw new ValidationError(`tx.addNamespace: namespace ${n} is staged already`, 'name');
    if (staged?.base) {
      // Removed and made again in one transaction: refused, as the review could not say which it is.
      throw new ValidationError(`tx.addNamespace: namespace ${n} is staged for removal in this transaction`, 'name');
    }
    if (netnsExists(n)) throw new NamespaceError(`tx.addNamespace: a namespace named "${n}" exists already`);
    this.namespaces.set(n, { target: o.loopback === 'down' ? { name: n, loopback: 'down' } : { name: n } });
  }

  /** `ip netns del NAME`: its processes end and its links go with it (the review lists them); done last in the commit. */
  removeNamespace(name: string): void {
    const n = this.name(name, 'tx.removeNamespace');
    const staged = this.namespaces.get(n);
    if (staged?.target) {
      // Made by this transaction: nothing to remove, nothing to make.
      this.namespaces.delete(n);
      for (const [k, s] of this.sysctls) if (s.target?.netns === n) this.sysctls.delete(k);
      for (const [k, s] of this.processes) if (s.target?.netns === n) this.processes.delete(k);
      return;
    }
    if (staged) return;
    if (!netnsExists(n)) throw new NamespaceError(`tx.removeNamespace: no namespace named "${n}"`);
    const interfaces = this.db.followed.includes(n)
      ? this.db.interfaces
          .list({ netns: n })
          .map((i) => String(i.ifname))
          .filter((i) => i !== 'lo')
      : [];
    const procs = processes(n).map((p) => `${p.pid} (${p.comm})`);
    this.namespaces.set(n, { base: { name: n, interfaces, processes: procs } });
  }

  /** Whether `name` is made by this transaction. */
  makesNamespace(name: string): boolean {
    return this.namespaces.get(name)?.target !== undefined;
  }

  /** Whether `name` is removed by this transaction. */
  removesNamespace(name: string): boolean {
    const s = this.namespaces.get(name);
    return s !== undefined && s.target === undefined;
  }

  /** `sysctl -w KEY=VALUE` inside a namespace; the value it had comes back on a rollback. */
  sysctl(key: string, value: string | number, netns: string): void {
    const components = sysctlComponents(key);
    const dotted = components.map((c) => c.replaceAll('.', '/')).join('.');
    const v = String(parseSpec(SysctlValue, value, 'tx.sysctl', 'value'));
    if (components[0] !== 'net') {
      throw new ValidationError(`tx.sysctl: ${shown(key)} is not a net.* key (those are the host's, not a namespace's)`, 'key');
    }
    if (this.removesNamespace(netns)) throw new ValidationError(`tx.sysctl: namespace ${netns} is staged for removal`, 'netns');
    const id = `${netns}|${dotted}`;
    const staged = this.sysctls.get(id);
    if (staged) {
      staged.target = { netns, key: dotted, value: v };
      return;
    }
    const base = this.current(netns, dotted, components);
    this.sysctls.set(id, {
      ...(base !== undefined ? { base: { netns, key: dotted, value: base } } : {}),
      target: { netns, key: dotted, value: v },
    });
  }

  /** Starts `argv` inside the namespace, in a cgroup of its own; stopped (with what it forked) by a rollback. */
  spawn(netns: string, argv: string[], options: ProcessOptions = {}): string {
    return this.process(netns, argv, parseSpec(ProcessOptions, options, 'tx.spawn'), false);
  }

  /** Runs `argv` inside the namespace to its end; a non-zero exit fails the commit. What it did is not undone. */
  run(netns: string, argv: string[], options: RunOptions = {}): string {
    const o = parseSpec(RunOptions, options, 'tx.run');
    return this.process(netns, argv, o, true, o.timeout ?? 30_000);
  }

  private process(netns: string, argv: string[], o: z.output<typeof ProcessOptions>, run: boolean, timeout?: number): string {
    const args = checkArgv(argv);
    resolveCommand(args, netns, o.env, o.cwd);
    if (this.removesNamespace(netns)) throw new ValidationError(`namespace ${netns} is staged for removal`, 'netns');
    const base = (args[0] as string).split('/').pop() as string;
    let name = o.name ?? base.replace(/[^A-Za-z0-9_.-]/g, '_');
    if (o.name === undefined) for (let n = 2; this.processes.has(name); n++) name = `${base}-${n}`;
    else if (this.processes.has(name)) throw new ValidationError(`a process named ${name} is staged already`, 'name');
    const cgroup = o.cgroup ?? `tx-${process.pid}-${randomBytes(3).toString('hex')}-${name}`.slice(0, 64);
    validateCgroupName(cgroup);
    const target: ProcessTarget = { netns, name, argv: args, cgroup };
    if (o.env) target.env = o.env;
    if (o.cwd) target.cwd = o.cwd;
    if (o.limits) target.limits = o.limits;
    if (o.log) target.log = o.log;
    if (o.shared) target.shared = true;
    if (run) {
      target.run = true;
      target.timeout = timeout;
    }
    this.processes.set(name, { target });
    return name;
  }

  /** The value a sysctl has now; undefined for one of an interface this transaction makes. */
  private current(netns: string, key: string, components: string[]): string | undefined {
    if (this.makesNamespace(netns)) return undefined; // read once the namespace exists: its defaults
    const ifname = components[2] === 'conf' || components[2] === 'neigh' ? components[3] : undefined;
    try {
      return readSysctl(key, { netns: netns === ROOT ? undefined : netns });
    } catch (e) {
      if (e instanceof SysctlError && e.code === 'ENOENT' && ifname && this.makes(netns, ifname)) return undefined;
      throw e;
    }
  }

  private name(name: unknown, what: string): string {
    try {
      validateNetnsName(name);
    } catch (e) {
      throw new ValidationError(`${what}: ${(e as Error).message}`, 'name');
    }
    if (name === ROOT) throw new ValidationError(`${what}: "${ROOT}" names the root namespace`, 'name');
    return name as string;
  }
}
