/**
 * One error family for the whole project: every error a user sees is a
 * NetStateError, and its subclass says what went wrong and where.
 */
export class NetStateError extends Error {
  override name = 'NetStateError';
}

/** Bad input, found before anything touched the kernel. */
export class ValidationError extends NetStateError {
  override name = 'ValidationError';
  constructor(
    message: string,
    /** The field of the spec that was refused, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** One problem of a lab file, where it is (1-based line and column) and what is wrong. */
export interface LabFileProblem {
  /** Where in the file's structure: `topology.nodes.h1.kind`, `topology.links[2].endpoints[0]`. */
  path: string;
  line: number;
  col: number;
  message: string;
}

/**
 * A lab file that cannot be used, with EVERY problem found (not only the
 * first), each at its line and column; the message lists them the way a
 * compiler does (`demo.yaml:12:7: topology.nodes.h1.kind: unknown kind ...`).
 * Nothing has touched the kernel when this is thrown.
 */
export class LabFileError extends ValidationError {
  override name = 'LabFileError';
  constructor(
    /** The file, when the text came from one. */
    readonly file: string | undefined,
    readonly problems: LabFileProblem[],
  ) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map(
      (p) => `  ${file ? `${file}:` : ''}${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`,
    );
    super(`${file ?? 'lab file'}: ${count}\n${lines.join('\n')}`, problems[0]?.path);
  }
}

/** The process lacks root / CAP_NET_ADMIN for what it asked. */
export class PrivilegeError extends NetStateError {
  override name = 'PrivilegeError';
}

/** A namespace that does not exist, cannot be entered, or has a bad name. */
export class NamespaceError extends NetStateError {
  override name = 'NamespaceError';
}

/** A link that does not exist or cannot be used as asked. */
export class LinkError extends NetStateError {
  override name = 'LinkError';
}

/** A system call outside netlink failed (socket, setns, mount, ...). */
export class SystemError extends NetStateError {
  override name = 'SystemError';
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly code: string,
    detail?: string,
  ) {
    super(`${call} failed: ${code} (${errno})${detail ? `: ${detail}` : ''}`);
  }
}

/**
 * A tun/tap device the kernel would not make: an ioctl on /dev/net/tun
 * failed. `call` is the ioctl (TUNSETIFF, TUNSETOWNER...), `errno`/`code`
 * the kernel's answer, `ifname` the device asked for.
 */
export class TuntapError extends SystemError {
  override name = 'TuntapError';
  constructor(
    call: string,
    errno: number,
    code: string,
    readonly ifname: string,
    detail: string,
  ) {
    super(call, errno, code, detail);
  }
}

/** What a NetlinkError carries about the request that caused it. */
export interface NetlinkRequestInfo {
  /** e.g. 'RTM_NEWROUTE' */
  type: string;
  /** e.g. ['REQUEST', 'ACK', 'CREATE', 'EXCL'] */
  flags: string[];
  seq: number;
  /** The spec the caller passed, when the request was built from one. */
  spec?: unknown;
}

/** The kernel refused a netlink request. */
export class NetlinkError extends NetStateError {
  override name = 'NetlinkError';
  constructor(
    /** Positive errno, e.g. 17. */
    readonly errno: number,
    /** Symbolic errno, e.g. 'EEXIST'. */
    readonly code: string,
    /** The kernel's extended-ack sentence, when it gave one. */
    readonly extack: string | undefined,
    readonly request: NetlinkRequestInfo,
    /** Byte offset of the offending attribute in the request (extended ack). */
    readonly offset?: number,
  ) {
    const what = request.spec !== undefined ? ` ${safeJson(request.spec)}` : '';
    super(
      `${request.type} refused by the kernel: ${code} (${errno}: ${strerror(errno)})` +
        `${extack ? ` — "${extack}"` : ''}; request${what}`,
    );
  }
}

/** A traffic-control operation that cannot be done as asked. */
export class TcError extends NetStateError {
  override name = 'TcError';
}

/** A wait that never saw what it waited for. */
export class TimeoutError extends NetStateError {
  override name = 'TimeoutError';
}

/** Used, or still awaited, when its NetState or Rtnl was closed (a pending `waitFor`, `sync()`, request). */
export class ClosedError extends NetStateError {
  override name = 'ClosedError';
}

/**
 * A commit that failed: the step that failed (with the kernel's errno and
 * extended-ack text when the kernel refused it), what was rolled back, and
 * anything that could not be — which must be rare, and is said loudly.
 */
export class TransactionError extends NetStateError {
  override name = 'TransactionError';
  constructor(
    message: string,
    /** The failed step, as the review would name it. */
    readonly step: string,
    /** The kernel's refusal, when there was one. */
    override readonly cause: Error | undefined,
    /** Steps undone, in the order they were undone. */
    readonly rolledBack: string[],
    /** Steps whose undo failed: the kernel is NOT back where it was for these. */
    readonly notRolledBack: string[],
  ) {
    super(message);
  }

  get errno(): number | undefined {
    return (this.cause as NetlinkError | undefined)?.errno;
  }

  get code(): string | undefined {
    return (this.cause as NetlinkError | undefined)?.code;
  }

  get extack(): string | undefined {
    return (this.cause as NetlinkError | undefined)?.extack;
  }
}

/** The commit journal's file cannot be used: damaged, cut short, not a journal, not writable. */
export class JournalError extends NetStateError {
  override name = 'JournalError';
  constructor(
    /** The journal file. */
    readonly path: string,
    message: string,
    override readonly cause?: Error,
  ) {
    super(`journal ${path}: ${message}`);
  }
}

/**
 * A commit that cannot go ahead because of another, unfinished one: it
 * touches an object of a provisional commit (commit-confirmed) not yet
 * confirmed or rolled back; or a confirm or rollback came too late (the
 * deadline, or the other call, won).
 */
export class PendingCommitError extends NetStateError {
  override name = 'PendingCommitError';
  constructor(
    message: string,
    /** The other commit's id. */
    readonly commitId: string,
  ) {
    super(message);
  }
}

/**
 * A sysctl that cannot be read or written as asked: the key does not exist
 * in that namespace (e.g. net.ipv6.conf.X.* of a link that is gone, or whose
 * MTU is below 1280), or the kernel refused the value (EINVAL).
 */
export class SysctlError extends NetStateError {
  override name = 'SysctlError';
  constructor(
    message: string,
    /** The key as given. */
    readonly key: string,
    /** The namespace, undefined for the caller's own. */
    readonly netns: string | undefined,
    /** The errno name of the failing call: 'ENOENT', 'EINVAL', 'EACCES'... */
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * A process that could not be started, or (with `check`) ended badly: a
 * non-zero exit or a signal. `code` is the exit code (null when a signal
 * ended it or it never ran), `signal` the signal's name, `stderr` the last
 * part of what it wrote on stderr (when captured).
 */
export class ProcessError extends NetStateError {
  override name = 'ProcessError';
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly netns: string | undefined,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** A process that outlived its timeout; it was killed (SIGTERM, then SIGKILL after a grace period). */
export class ProcessTimeoutError extends ProcessError {
  override name = 'ProcessTimeoutError';
  constructor(
    message: string,
    argv: readonly string[],
    netns: string | undefined,
    code: number | null,
    signal: NodeJS.Signals | null,
    stderr: string,
    /** The timeout, in milliseconds. */
    readonly timeout: number,
    /** What it wrote on stdout before it was killed (when captured). */
    readonly stdout: string,
  ) {
    super(message, argv, netns, code, signal, stderr);
  }
}

/**
 * A cgroup that cannot be made, filled or removed as asked: a controller the
 * host does not offer, one that would have to be enabled host-wide first, a
 * cgroup that still holds processes after its timeout.
 */
export class CgroupError extends NetStateError {
  override name = 'CgroupError';
  constructor(
    message: string,
    /** The cgroup's name (under netstate/), when there is one. */
    readonly cgroup?: string,
  ) {
    super(message);
  }
}

/** The simple_switch_grpc binary a BMv2 switch names is not there (not on PATH, or not executable). */
export class Bmv2NotFoundError extends NetStateError {
  override name = 'Bmv2NotFoundError';
  constructor(
    message: string,
    /** The binary as given ('simple_switch_grpc', or a path). */
    readonly binary: string,
  ) {
    super(message);
  }
}

/**
 * A BMv2 switch that did not come up: a port interface missing or down
 * before the start, the process exiting before it was ready (`code` or
 * `signal`), not listening on its ports in time, one of its ports shared
 * with another listener (SO_REUSEPORT), or stopped while it started.
 * `lines` are the last lines it wrote (stdout and stderr, then its log
 * file's when it has one).
 */
export class Bmv2StartupError extends NetStateError {
  override name = 'Bmv2StartupError';
  constructor(
    message: string,
    /** The switch's name. */
    readonly switchName: string,
    readonly lines: readonly string[] = [],
    readonly code: number | null = null,
    readonly signal: NodeJS.Signals | null = null,
  ) {
    super(message);
  }
}

/** The spec as JSON for a message; never throws, never takes long (BigInt, cycles, shared parts, hostile getters). */
function safeJson(value: unknown): string {
  let left = 1000;
  try {
    return (
      JSON.stringify(value, (_k, v) => {
        if (--left < 0) throw new RangeError('too big to show');
        return typeof v === 'bigint' ? v.toString() : v;
      }) ?? String(value)
    );
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return '(unprintable)';
    }
  }
}

import { errnoDescription as strerror } from './backends/errno.js';
