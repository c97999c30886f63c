/**
 * Where a switch's stdout and stderr go: a file, never a pipe. A pipe ties
 * the switch to us: once our end closes (we exit, as `lab up` does), its
 * next write kills it with SIGPIPE. A file does not, and what it wrote
 * before a failed start can still be read: its last lines go into the
 * Bmv2StartupError.
 *
 * Without a path, the file is made in the temporary directory and unlinked
 * at once: only the switch and we hold it, and it is gone with the last of
 * us, leaving nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** How much of the end of a file is read for its last lines. */
const TAIL_BYTES = 16 << 10;

export class OutputFile {
  /** Where this run's output starts in the file (an existing file is appended to). */
  readonly start: number;
  #fd: number | undefined;

  private constructor(
    fd: number,
    /** The file's path; undefined for an unlinked one. */
    readonly path: string | undefined,
  ) {
    this.#fd = fd;
    this.start = fstatSync(fd).size;
  }

  /** Opens `path` for appending (its directory made), or a fresh unlinked file when undefined. */
  static open(path: string | undefined): OutputFile {
    if (path !== undefined) {
      mkdirSync(dirname(path), { recursive: true });
      return new OutputFile(openSync(path, 'a+'), path);
    }
    const temp = join(tmpdir(), `netstate-bmv2-${process.pid}-${randomBytes(6).toString('hex')}.out`);
    const fd = openSync(temp, 'wx+', 0o600);
    unlinkSync(temp);
    return new OutputFile(fd, undefined);
  }

  /** The open file (undefined once closed): what the process's stdout and stderr are given. */
  get fd(): number | undefined {
    return this.#fd;
  }

  /** The last `n` lines written since this run started (empty once closed). */
  lastLines(n: number): string[] {
    if (this.#fd === undefined) return [];
    return tailLines(this.#fd, this.start, n);
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** The last `n` non-empty lines of an open file, from byte `from` on. */
export function tailLines(fd: number, from: number, n: number): string[] {
  const size = fstatSync(fd).size;
  const start = Math.max(from, size - TAIL_BYTES);
  const buf = Buffer.alloc(size - start);
  let got = 0;
  while (got < buf.length) {
    const r = readSync(fd, buf, got, buf.length - got, start + got);
    if (r === 0) break;
    got += r;
  }
  const lines = buf.toString('utf8', 0, got).split('\n');
  // A cut first line is only part of one.
  if (start > from) lines.shift();
  return lines.filter((l) => l.trim() !== '').slice(-n);
}

/** The last `n` lines of the file at `path` (empty when there is none). */
export function fileLastLines(path: string, n: number): string[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    return tailLines(fd, 0, n);
  } finally {
    closeSync(fd);
  }
}
