/**
 * The journal from the command line, as an operator uses it: `netstate
 * journal` lists a provisional commit another process made, `netstate
 * confirm` makes it final, `netstate rollback` undoes it (checked through
 * `ip -j`), `netstate recover` undoes what a killed process left.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { childUntil } from '../../helpers/child.js';
import { basicLab } from '../../helpers/lab.js';
import { ipJson, noDad, useNetns } from '../../helpers/netns.js';

const BIN = new URL('../../../dist/src/cli/main.js', import.meta.url).pathname;
const ns = useNetns();
let journal: string;

function netstate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args, '--journal', journal], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeEach(() => {
  noDad(ns.name);
  basicLab(ns.name);
  journal = join(tmpdir(), `${ns.name}.journal.sqlite`);
});
afterEach(() => {
  for (const s of ['', '-wal', '-shm']) rmSync(`${journal}${s}`, { force: true });
});

/** Another process's provisional commit (it keeps running, as an operator's tool would). */
async function provisional(ms: number): Promise<{ id: string; stop: () => void }> {
  const { child, match } = await childUntil([ns.name, journal, 'confirm'], /^pending /, { env: { CONFIRM_MS: String(ms) } });
  return { id: match.split(' ')[1] as string, stop: () => child.kill('SIGKILL') };
}

const hasRoute = () => ipJson(ns.name, 'route', 'show', '10.77.0.0/16').length === 1;

describe('netstate journal, confirm, rollback', () => {
  it('lists a pending commit, and confirm makes it final', async () => {
    const { id, stop } = await provisional(20_000);
    try {
      const list = netstate('journal');
      expect(list.status).toBe(0);
      expect(list.stdout).toMatch(new RegExp(`${id}\\s+pending .*${ns.name}.*unless confirmed`));
      const confirmed = netstate('confirm', id);
      expect(confirmed).toMatchObject({ status: 0, stdout: `confirmed ${id}\n` });
      expect(netstate('journal', '--all', '--json').stdout).toContain('"state": "confirmed"');
      expect(hasRoute()).toBe(true);
      // Confirmed twice: refused, and says why.
      const again = netstate('confirm', id);
      expect(again.status).toBe(1);
      expect(again.stderr).toMatch(/cannot confirm .* it is confirmed/);
    } finally {
      stop();
    }
  });

  it('rollback (the only pending commit when no id is given) undoes it', async () => {
    const { id, stop } = await provisional(20_000);
    try {
      expect(hasRoute()).toBe(true);
      const r = netstate('rollback');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`rolled back ${id}: \\d+ step`));
      expect(hasRoute()).toBe(false);
      expect(
        ipJson<{ addr_info: { local: string }[] }[]>(ns.name, 'addr', 'show', 'v0')[0]?.addr_info.map((a) => a.local),
      ).not.toContain('10.0.9.1');
    } finally {
      stop();
    }
  });

  it('a usage error (no pending commit) exits 2 with one sentence', () => {
    const r = netstate('confirm');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^netstate: no commit is pending/);
  });
});

describe('netstate recover', () => {
  it('undoes what a process killed half-way left', async () => {
    const { child } = await childUntil([ns.name, journal, 'big'], /^committing$/);
    // Killed once some routes are in (read from the kernel: another process's progress has no event).
    for (let i = 0; i < 2000 && ipJson(ns.name, 'route', 'show', 'table', 'main').length < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    const r = netstate('recover', '-n', ns.name);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/: recovered, \d+ step\(s\) undone/);
    expect(ipJson(ns.name, 'link', 'show').filter((l) => String(l.ifname).startsWith('k'))).toEqual([]);
    expect(netstate('recover', '-n', ns.name).stdout).toBe('nothing to recover\n');
  });
});
