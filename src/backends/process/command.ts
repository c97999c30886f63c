/**
 * What a process is started with, checked before anything starts: the
 * argv, the options, the executable found on PATH (so that a missing
 * command is a typed error at once, not an 'error' event later), and the
 * namespace's identity.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { NamespaceError, ProcessError, ValidationError } from '../../errors.js';
import { type Cgroup, CgroupLimits } from '../cgroup.js';
import { netnsPath, validateNetnsName } from '../netns.js';
import { int, parseSpec, shown, spec, z } from '../schema.js';

/** An argv: at least the command, strings without NUL. */
export function checkArgv(argv: unknown): string[] {
  if (!Array.isArray(argv) || argv.length === 0) {
    throw new ValidationError(`argv is a non-empty array of strings like ['ip', 'addr'], got ${shown(argv)}`, 'argv');
  }
  argv.forEach((a, i) => {
    if (typeof a !== 'string' || a.includes('\0') || (i === 0 && a === '')) {
      throw new ValidationError(
        `argv[${i}] must be a string without NUL${i === 0 ? ' and not empty' : ''}, got ${shown(a)}`,
        `argv.${i}`,
      );
    }
  });
  return [...argv];
}

export function checkNetns(netns: unknown): asserts netns is string | undefined {
  if (netns !== undefined) validateNetnsName(netns);
}

const stdio = z.union([z.enum(['ignore', 'inherit', 'pipe']), int(0, 0x7fffffff)], {
  error: (i) => `expected 'ignore', 'inherit', 'pipe' or a file descriptor, got ${shown(i.input)}`,
});

const isCgroup = (v: unknown): v is Cgroup =>
  typeof v === 'object' && v !== null && typeof (v as Cgroup).name === 'string' && Array.isArray((v as Cgroup).dirs);

const common = {
  /** The environment, replacing ours when given (as in child_process); PATH from it finds the command. */
  env: z.record(z.string(), z.string(), { error: 'env maps names to strings' }).optional(),
  /** The working directory (must exist). */
  cwd: z
    .string({ error: (i) => `cwd is a directory path, got ${shown(i.input)}` })
    .min(1)
    .optional(),
  /** A cgroup of its own with these limits, made before the start and removed after the exit. */
  limits: CgroupLimits.optional(),
  /** An existing cgroup (createCgroup) to start in. */
  cgroup: z.custom<Cgroup>(isCgroup, { error: 'cgroup is what createCgroup returned' }).optional(),
};

/** spawn's options. */
export const SpawnOptions = spec({
  ...common,
  /** Default 'ignore'. */
  stdin: stdio.optional(),
  /** Default 'inherit'. */
  stdout: stdio.optional(),
  /** Default 'inherit'. */
  stderr: stdio.optional(),
  /** stdout and stderr as pipes (NsProcess.stdout / .stderr), unless given one by one. */
  capture: z.boolean().optional(),
});
export type SpawnOptionsInput = z.input<typeof SpawnOptions>;
export type SpawnOptionsParsed = z.output<typeof SpawnOptions>;

/** exec's options. */
export const ExecOptions = spec({
  ...common,
  /** Milliseconds before the process is sent SIGTERM (then SIGKILL after `killGrace`); none by default. */
  timeout: z
    .number({ error: (i) => `timeout is a number of milliseconds, got ${shown(i.input)}` })
    .refine((v) => Number.isFinite(v) && v > 0, { error: (i) => `timeout must be above 0 ms, got ${shown(i.input)}` })
    .optional(),
  /** Milliseconds between SIGTERM and SIGKILL on a timeout (default 1000). */
  killGrace: int(0, 3_600_000).optional(),
  /** Throw a ProcessError on a non-zero exit or a signal (default true, as p4net's exec). */
  check: z.boolean().optional(),
  /** Collect stdout and stderr as strings (default true); false lets them through to ours. */
  capture: z.boolean().optional(),
  /** Written to the process's stdin, which is then closed (stdin is /dev/null without it). */
  input: z.union([z.string(), z.instanceof(Buffer)], { error: 'input is a string or a Buffer' }).optional(),
});
export type ExecOptionsInput = z.input<typeof ExecOptions>;
export type ExecOptionsParsed = z.output<typeof ExecOptions>;

export function parseOptions<S extends typeof SpawnOptions | typeof ExecOptions>(
  schema: S,
  input: unknown,
  what: string,
): z.output<S> {
  const parsed = parseSpec(schema, input ?? {}, what) as z.output<S>;
  if (parsed.limits && parsed.cgroup) throw new ValidationError(`${what}: give limits or cgroup, not both`, 'limits');
  if (parsed.cwd !== undefined) {
    let dir = false;
    try {
      dir = statSync(parsed.cwd).isDirectory();
    } catch {}
    if (!dir) throw new ValidationError(`${what}: cwd ${shown(parsed.cwd)} is not a directory`, 'cwd');
  }
  return parsed;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The absolute path of the program `argv[0]` names, as execvp would find
 * it: a name with a '/' relative to `cwd`, a bare name along PATH (the
 * given environment's, else ours). A ProcessError when there is none.
 */
export function resolveCommand(
  argv: readonly string[],
  netns: string | undefined,
  env?: Record<string, string>,
  cwd?: string,
): string {
  const command = argv[0] as string;
  const base = cwd ?? process.cwd();
  if (command.includes('/')) {
    const path = resolve(base, command);
    if (executable(path)) return path;
  } else {
    const search = env?.PATH ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
    for (const dir of search.split(delimiter)) {
      const path = resolve(base, dir || '.', command);
      if (executable(path)) return path;
    }
  }
  throw new ProcessError(
    `cannot run ${shown(command)}${netns === undefined ? '' : ` in namespace "${netns}"`}: no such executable` +
      (command.includes('/') ? '' : ' on PATH'),
    argv,
    netns,
    null,
    null,
    '',
  );
}

/** A namespace's identity (device and inode of its nsfs file): how /proc/PID/ns/net is matched. */
export interface NetnsIdentity {
  dev: number;
  ino: number;
}

/** The identity of namespace `netns`, or of our own (the main thread's) when undefined. */
export function netnsIdentity(netns: string | undefined): NetnsIdentity {
  const path = netns === undefined ? '/proc/self/ns/net' : netnsPath(netns);
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch {
    throw new NamespaceError(`no network namespace named "${netns}" (${path} does not exist)`);
  }
}

/** The namespace of process `pid`, or undefined when it has none any more (exited: a zombie has none) or does not exist. */
export function processNetns(pid: number): NetnsIdentity | undefined {
  try {
    const { dev, ino } = statSync(`/proc/${pid}/ns/net`);
    return { dev, ino };
  } catch {
    return undefined;
  }
}

export function sameNetns(a: NetnsIdentity | undefined, b: NetnsIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}
