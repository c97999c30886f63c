/**
 * cgroups for lab processes: a CPU share and a memory ceiling, on cgroup v2
 * where the host offers the controller there and on v1 where it does not
 * (hybrid hosts bind cpu and memory to v1 and mount v2 with no controller).
 *
 * Everything netstate makes lives in a directory `netstate` at the top of
 * each hierarchy: `<v2 mount>/netstate/NAME` (always, when cgroup2 is
 * mounted: it groups the processes, kills them all at once through
 * cgroup.kill and needs no controller) and `<v1 mount of cpu>/netstate/NAME`,
 * `<v1 mount of memory>/netstate/NAME` for limits taken from v1. No
 * controller is ever enabled host-wide: on v2, netstate writes `+cpu` /
 * `+memory` only into its own netstate/cgroup.subtree_control, and refuses
 * (CgroupError) when the root's subtree_control does not already offer them.
 *
 * Hierarchies are found in /proc/self/mountinfo (nothing is assumed about
 * paths); `CgroupRoots` overrides them (tests imitate a cgroup2 tree in a
 * temporary directory this way).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { CgroupError, ValidationError } from '../errors.js';
import { closePidfd, openPidfd, signalPidfd, waitExited } from './pidfd.js';
import { parseSpec, shown, spec, z } from './schema.js';

/** The directory under each hierarchy's root that holds every cgroup netstate makes. */
export const CGROUP_DIR = 'netstate';

/** The CFS period netstate uses (µs): cpu 0.5 is a quota of 50 000 µs per 100 000 µs. */
export const CPU_PERIOD_US = 100_000;

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const MIN_MEMORY = 4096;

const memoryBytes = z
  .union([z.number(), z.string()], { error: (i) => `memory is bytes (a number) or a size like '256M', got ${shown(i.input)}` })
  .transform((v, ctx): number => {
    let bytes: number;
    if (typeof v === 'number') bytes = v;
    else {
      const m = /^(\d+)([KMGT]?)$/i.exec(v.trim());
      bytes = m ? Number(m[1]) * (UNITS[(m[2] as string).toUpperCase()] as number) : Number.NaN;
    }
    if (!Number.isSafeInteger(bytes) || bytes < MIN_MEMORY) {
      ctx.addIssue({
        code: 'custom',
        message: `memory is a whole number of bytes (at least ${MIN_MEMORY}) or a size like '512K', '256M', '1G' (powers of 1024), got ${shown(v)}`,
      });
    }
    return bytes;
  });

/**
 * Limits of a process: `cpu` a fraction of one CPU (0.5 = half of one; 2 =
 * two whole CPUs; at least 0.01, the kernel's 1 ms quota at a 100 ms
 * period), `memory` in bytes or as '512K', '256M', '1G' (powers of 1024).
 * Memory is a hard ceiling without swap: going over it gets the process
 * OOM-killed (as DummyNet's memory_limit).
 */
export const CgroupLimits = spec({
  cpu: z
    .number({ error: (i) => `cpu is a fraction of one CPU like 0.5, got ${shown(i.input)}` })
    .refine((v) => Number.isFinite(v) && v >= 0.01 && v <= 1024, {
      error: (i) => `cpu is a fraction of one CPU in 0.01..1024 (0.5 = half a CPU), got ${shown(i.input)}`,
    })
    .optional(),
  memory: memoryBytes.optional(),
});
export type CgroupLimitsInput = z.input<typeof CgroupLimits>;
export type CgroupLimitsParsed = z.output<typeof CgroupLimits>;

/** Checks limits; a ValidationError naming the field otherwise. */
export function parseLimits(input: unknown, what = 'limits'): CgroupLimitsParsed {
  return parseSpec(CgroupLimits, input, what, 'limits');
}

/** A name under netstate/: letters, digits, '_', '.', '-', at most 64, not starting with '.' or '-'. */
export function validateCgroupName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new ValidationError(
      `a cgroup name is 1..64 letters, digits, '_', '.' or '-' (not starting with '.' or '-'), got ${shown(name)}`,
      'name',
    );
  }
}

/** Where the hierarchies are: found in /proc/self/mountinfo unless given. */
export interface CgroupRoots {
  /** The cgroup2 mount (null: none). */
  v2?: string | null;
  /** The v1 mount of each controller ('cpu', 'memory'...). */
  v1?: Record<string, string>;
}

/** The hierarchies of this host as netstate sees them. */
export interface CgroupLayout {
  /** The cgroup2 mount, the controllers it offers (its cgroup.controllers) and those its root hands to children (cgroup.subtree_control). */
  v2?: { mount: string; controllers: string[]; subtreeControl: string[] };
  /** The v1 mount of each controller. */
  v1: Record<string, string>;
}

/** One directory of a cgroup: in which hierarchy, for which controllers. */
export interface CgroupDir {
  version: 1 | 2;
  /** The controllers limited through this directory (empty for the v2 grouping directory of a hybrid host). */
  controllers: string[];
  path: string;
}

/** A cgroup netstate made: one directory per hierarchy it needs. */
export interface Cgroup {
  name: string;
  dirs: CgroupDir[];
  limits: CgroupLimitsParsed;
}

/** A cgroup found under netstate/ (cgroupList). */
export interface CgroupEntry {
  name: string;
  dirs: CgroupDir[];
  pids: number[];
}

/** The words of a cgroup file (cgroup.controllers, cgroup.subtree_control: 'cpu memory'; a '+' prefix dropped). */
function words(path: string): string[] {
  try {
    return readFileSync(path, 'utf8')
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => w.replace(/^\+/, ''));
  } catch {
    return [];
  }
}

const V1_CONTROLLERS = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
  'debug',
]);

/**
 * The mounts of cgroup hierarchies in a mountinfo text: each line is
 * `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS`;
 * a v1 mount's controllers are its super options (rw,cpu,cpuacct).
 */
export function parseCgroupMounts(mountinfo: string): { v2?: string; v1: Record<string, string> } {
  const v1: Record<string, string> = {};
  let v2: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountpoint = unescapeMount(left.split(' ')[4] ?? '');
    const [fstype, , superOpts = ''] = right.split(' ');
    if (fstype === 'cgroup2') v2 ??= mountpoint;
    else if (fstype === 'cgroup') {
      // Super options mix controllers with mount options (rw, xattr, noprefix, name=...): keep the controllers.
      for (const opt of superOpts.split(',')) if (V1_CONTROLLERS.has(opt)) v1[opt] ??= mountpoint;
    }
  }
  return { v2, v1 };
}

/** mountinfo escapes space, tab, newline and backslash as \040 and so on. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The host's hierarchies (or those of `roots`), probed now. */
export function cgroupLayout(roots: CgroupRoots = {}): CgroupLayout {
  const found = roots.v2 !== undefined && roots.v1 !== undefined ? { v1: {} } : parseCgroupMounts(readMountinfo());
  const v2 = roots.v2 === undefined ? found.v2 : (roots.v2 ?? undefined);
  const v1 = roots.v1 ?? found.v1;
  return {
    v2: v2
      ? { mount: v2, controllers: words(`${v2}/cgroup.controllers`), subtreeControl: words(`${v2}/cgroup.subtree_control`) }
      : undefined,
    v1,
  };
}

function readMountinfo(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8');
}

/** Where each limited controller goes: v2 when the v2 mount offers it, else v1; a CgroupError when neither. */
function placeControllers(layout: CgroupLayout, wanted: string[], name: string): { v2: string[]; v1: string[] } {
  const v2: string[] = [];
  const v1: string[] = [];
  for (const c of wanted) {
    if (layout.v2?.controllers.includes(c)) {
      if (!layout.v2.subtreeControl.includes(c)) {
        throw new CgroupError(
          `the ${c} controller of cgroup v2 is not enabled for children of the root (${layout.v2.mount}/cgroup.subtree_control); ` +
            `enabling it there changes the whole host, which netstate never does: write +${c} there yourself first`,
          name,
        );
      }
      v2.push(c);
    } else if (layout.v1[c]) v1.push(c);
    else throw new CgroupError(`this host has no ${c} controller, neither in cgroup v2 nor mounted as v1`, name);
  }
  return { v2, v1 };
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/**
 * mkdir of `parent/netstate` (enabling `enable` in its subtree_control, v2)
 * then of the leaf; tolerant of another process removing an empty
 * netstate/ in between (it is made again).
 */
function makeLeaf(parent: string, name: string, enable: string[]): string {
  const leaf = `${parent}/${CGROUP_DIR}/${name}`;
  for (let attempt = 0; ; attempt++) {
    try {
      try {
        mkdirSync(`${parent}/${CGROUP_DIR}`);
      } catch (e) {
        if (errnoOf(e) !== 'EEXIST') throw e;
      }
      if (enable.length) enableBelowNetstate(parent, enable);
      mkdirSync(leaf);
      return leaf;
    } catch (e) {
      if (errnoOf(e) === 'EEXIST') throw new CgroupError(`cgroup ${leaf} already exists`, name);
      if (errnoOf(e) === 'ENOENT' && attempt < 5) continue;
      if (e instanceof CgroupError) throw e;
      throw new CgroupError(`cannot make cgroup ${leaf}: ${errnoOf(e) ?? (e as Error).message}`, name);
    }
  }
}

function writeFile(dir: string, file: string, value: string, name: string): void {
  try {
    writeFileSync(`${dir}/${file}`, value);
  } catch (e) {
    throw new CgroupError(`cannot write ${shown(value)} to ${dir}/${file}: ${errnoOf(e) ?? (e as Error).message}`, name);
  }
}

/** Writes `+ctl` to our own netstate/cgroup.subtree_control (never the root's) for what is not there yet. */
function enableBelowNetstate(mount: string, controllers: string[]): void {
  const file = `${mount}/${CGROUP_DIR}/cgroup.subtree_control`;
  const enabled = words(file);
  const missing = controllers.filter((c) => !enabled.includes(c));
  // Raw errors: makeLeaf retries ENOENT (netstate/ removed meanwhile) and names the rest.
  if (missing.length) writeFileSync(file, missing.map((c) => `+${c}`).join(' '));
}

function writeLimits(dir: CgroupDir, limits: CgroupLimitsParsed, name: string): void {
  const quota = limits.cpu === undefined ? undefined : Math.round(limits.cpu * CPU_PERIOD_US);
  for (const c of dir.controllers) {
    if (dir.version === 2 && c === 'cpu') writeFile(dir.path, 'cpu.max', `${quota} ${CPU_PERIOD_US}`, name);
    if (dir.version === 2 && c === 'memory') {
      writeFile(dir.path, 'memory.max', String(limits.memory), name);
      // No swap to spill into: the ceiling is hard, as documented (absent without swap accounting).
      if (existsSync(`${dir.path}/memory.swap.max`)) writeFile(dir.path, 'memory.swap.max', '0', name);
    }
    if (dir.version === 1 && c === 'cpu') {
      writeFile(dir.path, 'cpu.cfs_period_us', String(CPU_PERIOD_US), name);
      writeFile(dir.path, 'cpu.cfs_quota_us', String(quota), name);
    }
    if (dir.version === 1 && c === 'memory') {
      writeFile(dir.path, 'memory.limit_in_bytes', String(limits.memory), name);
      // memsw (memory + swap) may not be below limit_in_bytes, hence written second.
      if (existsSync(`${dir.path}/memory.memsw.limit_in_bytes`)) {
        writeFile(dir.path, 'memory.memsw.limit_in_bytes', String(limits.memory), name);
      }
    }
  }
}

/**
 * Makes the cgroup `netstate/NAME` with these limits: a directory in the
 * cgroup2 tree (grouping, cgroup.kill, and the controllers v2 offers) and
 * one per v1 hierarchy a limit needs. All or nothing: on a failure the
 * directories made are removed. DummyNet's add_cgroup(name, cpu_limit,
 * memory_limit), without its host-wide `+cpu` at the root.
 */
export function createCgroup(name: string, limits: CgroupLimitsInput = {}, roots: CgroupRoots = {}): Cgroup {
  validateCgroupName(name);
  const parsed = parseLimits(limits);
  const layout = cgroupLayout(roots);
  const wanted = [...(parsed.cpu !== undefined ? ['cpu'] : []), ...(parsed.memory !== undefined ? ['memory'] : [])];
  const placed = placeControllers(layout, wanted, name);
  const plan: Omit<CgroupDir, 'path'>[] = [];
  if (layout.v2) plan.push({ version: 2, controllers: placed.v2 });
  for (const c of placed.v1) plan.push({ version: 1, controllers: [c] });
  if (plan.length === 0) throw new CgroupError('this host has no cgroup2 mount and no limit asks for a v1 hierarchy', name);

  const dirs: CgroupDir[] = [];
  try {
    for (const p of plan) {
      const mount = p.version === 2 ? (layout.v2?.mount as string) : (layout.v1[p.controllers[0] as string] as string);
      const dir = { ...p, path: makeLeaf(mount, name, p.version === 2 ? p.controllers : []) };
      dirs.push(dir);
      writeLimits(dir, parsed, name);
    }
  } catch (e) {
    for (const d of dirs.reverse()) removeDir(d.path);
    throw e;
  }
  return { name, dirs, limits: parsed };
}

/**
 * Removes the directories of a cgroup that holds no process (and netstate/
 * where it is left empty); false when one is still busy. For a cgroup just
 * made whose process never started, or one whose process has exited.
 */
export function removeEmptyCgroup(cgroup: Pick<Cgroup, 'dirs'>): boolean {
  let all = true;
  for (const d of cgroup.dirs) {
    if (removeDir(d.path)) removeDir(d.path.slice(0, d.path.lastIndexOf('/')));
    else all = false;
  }
  return all;
}

function removeDir(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch (e) {
    return errnoOf(e) === 'ENOENT';
  }
}

/** The pids in a cgroup directory (cgroup.procs: zombies are not listed). */
export function dirPids(path: string): number[] {
  return words(`${path}/cgroup.procs`).map(Number);
}

/** Every pid in any directory of the cgroup. */
export function cgroupPids(cgroup: Pick<Cgroup, 'dirs'>): number[] {
  return [...new Set(cgroup.dirs.flatMap((d) => dirPids(d.path)))].sort((a, b) => a - b);
}

/** The `cgroup.procs` files a process writes its own pid into to enter the cgroup. */
export function procsFiles(cgroup: Pick<Cgroup, 'dirs'>): string[] {
  return cgroup.dirs.map((d) => `${d.path}/cgroup.procs`);
}

/** Moves a running process (all its threads) into the cgroup, every hierarchy of it. DummyNet's CGroup.add_pid. */
export function addToCgroup(cgroup: Cgroup, pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new ValidationError(`a pid is a positive integer, got ${shown(pid)}`, 'pid');
  for (const d of cgroup.dirs) {
    try {
      writeFileSync(`${d.path}/cgroup.procs`, String(pid));
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ESRCH') throw new CgroupError(`no process ${pid} to move into cgroup ${cgroup.name}`, cgroup.name);
      throw new CgroupError(`cannot move ${pid} into ${d.path}: ${code}`, cgroup.name);
    }
  }
}

/** Every hierarchy's mount with the controllers it carries: where netstate/ directories may be. */
function hierarchies(layout: CgroupLayout): { version: 1 | 2; mount: string }[] {
  const out: { version: 1 | 2; mount: string }[] = [];
  if (layout.v2) out.push({ version: 2, mount: layout.v2.mount });
  for (const mount of new Set(Object.values(layout.v1))) out.push({ version: 1, mount });
  return out;
}

function controllersOf(layout: CgroupLayout, h: { version: 1 | 2; mount: string }, path: string): string[] {
  if (h.version === 1) return Object.keys(layout.v1).filter((c) => layout.v1[c] === h.mount && ['cpu', 'memory'].includes(c));
  // In v2, a controller is on for a child when its parent's subtree_control has it.
  return words(`${h.mount}/${CGROUP_DIR}/cgroup.subtree_control`).filter((c) => existsSync(`${path}/${c}.max`));
}

/**
 * Every cgroup under netstate/, whoever made it, merged by name across the
 * hierarchies, with the pids in it. DummyNet's cgroup_list (there: `find
 * /sys/fs/cgroup -maxdepth 1`).
 */
export function cgroupList(roots: CgroupRoots = {}): CgroupEntry[] {
  const layout = cgroupLayout(roots);
  const byName = new Map<string, CgroupDir[]>();
  for (const h of hierarchies(layout)) {
    let names: string[];
    try {
      names = readdirSync(`${h.mount}/${CGROUP_DIR}`, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      continue;
    }
    for (const n of names) {
      const path = `${h.mount}/${CGROUP_DIR}/${n}`;
      const dirs = byName.get(n) ?? [];
      dirs.push({ version: h.version, controllers: controllersOf(layout, h, path), path });
      byName.set(n, dirs);
    }
  }
  return [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, dirs]) => ({ name, dirs, pids: cgroupPids({ dirs }) }));
}

export interface RemoveCgroupOptions {
  /** How long to wait for the processes to die and the directories to go (ms, default 5000). */
  timeout?: number;
  roots?: CgroupRoots;
}

/**
 * Removes a cgroup, by name or as createCgroup returned it: kills what
 * still runs in it (cgroup.kill on v2, SIGKILL through a pidfd for each
 * pid found in any directory), waits for those processes to exit, removes
 * its directories, then the netstate/ directories left empty. Returns the
 * pids it killed. A cgroup that does not exist is not an error (nothing to
 * do). DummyNet's CGroup.hard_clean, without moving pids to the root first.
 */
export async function removeCgroup(
  cgroup: string | Pick<Cgroup, 'name' | 'dirs'>,
  options: RemoveCgroupOptions = {},
): Promise<number[]> {
  const { timeout = 5000, roots = {} } = options;
  const name = typeof cgroup === 'string' ? cgroup : cgroup.name;
  validateCgroupName(name);
  const dirs =
    typeof cgroup === 'string'
      ? (cgroupList(roots).find((c) => c.name === name)?.dirs ?? [])
      : cgroup.dirs.filter((d) => existsSync(d.path));
  const deadline = Date.now() + timeout;
  const killed = new Set<number>();
  for (let round = 0; ; round++) {
    const pids = cgroupPids({ dirs });
    if (pids.length === 0) break;
    if (Date.now() >= deadline) {
      throw new CgroupError(`cgroup ${name} still holds ${pids.join(', ')} after ${timeout} ms`, name);
    }
    // Pin each process first: a pidfd opened and then found in the cgroup is that process, whatever pid reuse follows.
    const fds: number[] = [];
    for (const pid of pids) {
      const fd = openPidfd(pid);
      if (fd === undefined) continue;
      if (!dirs.some((d) => dirPids(d.path).includes(pid))) {
        closePidfd(fd);
        continue;
      }
      killed.add(pid);
      fds.push(fd);
    }
    for (const d of dirs) {
      // cgroup.kill (v2, Linux 5.14+) kills the whole group at once, forks racing with it included.
      if (d.version === 2 && existsSync(`${d.path}/cgroup.kill`)) {
        try {
          writeFileSync(`${d.path}/cgroup.kill`, '1');
        } catch {}
      }
    }
    // v1 has no cgroup.kill: one SIGKILL each (ESRCH, harmless, for those cgroup.kill already ended).
    for (const fd of fds) signalPidfd(fd, 9);
    try {
      await waitExited(fds, deadline - Date.now());
    } finally {
      for (const fd of fds) closePidfd(fd);
    }
    // Forks made while we killed come round again.
    if (round > 100) throw new CgroupError(`cgroup ${name} keeps making processes`, name);
  }
  for (const d of dirs) {
    while (!removeDir(d.path)) {
      if (Date.now() >= deadline) throw new CgroupError(`cannot remove ${d.path}: still busy after ${timeout} ms`, name);
      await new Promise((r) => setTimeout(r, 5));
    }
    removeDir(d.path.slice(0, d.path.lastIndexOf('/')));
  }
  return [...killed].sort((a, b) => a - b);
}

/** A fresh name for a process's own cgroup (spawn's `limits`): `proc-<our pid>-<random>`. */
export function privateCgroupName(): string {
  return `proc-${process.pid}-${randomBytes(4).toString('hex')}`;
}
