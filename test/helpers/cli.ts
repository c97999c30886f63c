/**
 * The `netstate` command as a user runs it: the built bin
 * (dist/src/cli/main.js, `npx tsc -p tsconfig.build.json` first) in a child
 * process. Asynchronous, so a test can run several at once.
 */
import { execFileSync, spawn } from 'node:child_process';

export const BIN = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (`node` may be wrapped: `prefix` goes before it, e.g. unshare). */
export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** `netstate ARGS...` */
export function netstate(...args: string[]): Promise<Run> {
  return runCommand(process.execPath, [BIN, ...args]);
}

/** `netstate ARGS...` that must succeed; its stdout. */
export async function netstateOk(...args: string[]): Promise<string> {
  const r = await netstate(...args);
  if (r.status !== 0) throw new Error(`netstate ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** `ip -n NS ARGS...` as text, trailing spaces trimmed (iproute2 ends most lines with one). */
export function ipText(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 })
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

/** Output split into records: a line and the indented lines after it (a multipath route's nexthops, a link's second line), sorted. */
export function records(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (/^\s/.test(line) && out.length) out[out.length - 1] += `\n${line}`;
    else out.push(line);
  }
  return out.sort();
}
