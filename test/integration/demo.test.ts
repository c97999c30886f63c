/**
 * `npm start` keeps the README's promises: the demo lab comes up in one
 * transaction, h1 reaches h2 over IPv4 and IPv6, the faulty lab leaves
 * nothing, the freeze reverts the outside change, and `lab down` leaves
 * nothing (checked by the demo through ip netns, /proc and the cgroup tree,
 * and here again through `ip netns`).
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../helpers/cli.js';

const DEMO = new URL('../../dist/src/demo/main.js', import.meta.url).pathname;

describe('npm start', () => {
  it('runs the demo lab end to end and leaves nothing behind', async () => {
    const r = await runCommand(process.execPath, [DEMO]);
    const svg = /written: (\S+\.svg)/.exec(r.stdout)?.[1];
    if (svg) rmSync(svg, { force: true });
    expect(svg).toBeDefined();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const pid = /lab demo-(\d+) up/.exec(r.stdout)?.[1];
    expect(pid).toBeDefined();
    expect(r.stdout).toMatch(/committed and confirmed: \d+ steps/);
    expect(r.stdout).toMatch(/echo 10\.0\.0\.2 from demo-\d+\.h1: reply in/);
    expect(r.stdout).toMatch(/echo 2001:db8::2 from demo-\d+\.h1: reply in/);
    expect(r.stdout).toMatch(/qdisc tbf .* rate 10Mbit/);
    expect(r.stdout).toMatch(/ip netns shows of bad-\d+: nothing/);
    expect(r.stdout).toMatch(/reverted by: add 10\.0\.0\.1\/24 to eth0/);
    expect(r.stdout).toMatch(/left behind \(.*\): nothing$/m);
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n');
    expect(left.filter((l) => l.startsWith(`demo-${pid}.`) || l.startsWith(`bad-${pid}.`))).toEqual([]);
  }, 60_000);
});
