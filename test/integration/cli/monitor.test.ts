/**
 * `netstate monitor` as an operator runs it in another terminal: each change
 * in `ip monitor`'s words, device names even after the device is gone,
 * --json lines, -t / --tshort timestamps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../../helpers/cli.js';
import { basicLab } from '../../helpers/lab.js';
import { ip, useNetns } from '../../helpers/netns.js';

const ns = useNetns();
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGTERM');
});

/**
 * Starts `netstate monitor ARGS` and waits until it prints: a change made
 * over and over (a route replaced) proves it has loaded. Returns every line
 * it prints, and `until(pattern)`.
 */
async function startMonitor(...args: string[]): Promise<{ lines: string[]; until: (p: RegExp) => Promise<string> }> {
  const proc = spawn(process.execPath, [BIN, '-n', ns.name, 'monitor', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const lines: string[] = [];
  const waiters: { p: RegExp; resolve: (l: string) => void }[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    lines.push(l);
    for (const w of [...waiters]) {
      if (w.p.test(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  const until = (p: RegExp): Promise<string> => {
    const seen = lines.find((l) => p.test(l));
    return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ p, resolve }));
  };
  let n = 0;
  const poke = setInterval(() => ip(ns.name, 'route', 'replace', '10.55.0.0/16', 'via', `10.0.0.${2 + (n++ % 2)}`), 50);
  try {
    await until(/10\.55\.0\.0\/16/);
  } finally {
    clearInterval(poke);
  }
  return { lines, until };
}

describe('netstate monitor', () => {
  it("prints changes in ip monitor's words, and names a device after it is gone", async () => {
    basicLab(ns.name);
    const m = await startMonitor();
    expect(m.lines.some((l) => /^\[ROUTE\] (Changed )?10\.55\.0\.0\/16 via 10\.0\.0\.[23] dev v0$/.test(l))).toBe(true);
    ip(ns.name, 'link', 'del', 'v0');
    // The link goes last: its address and routes go in the same batch, after the store dropped it.
    await m.until(/^\[LINK\] Deleted \d+: v0@/);
    const text = m.lines.join('\n');
    expect(text).toMatch(/^\[ADDR\] Deleted \d+: v0 {4}inet 10\.0\.0\.1\/24 scope global v0$/m);
    expect(text).toMatch(/^\[ROUTE\] Deleted 10\.9\.0\.0\/16 via 10\.0\.0\.2 dev v0 \(silent\)$/m);
    expect(text).toMatch(/^\[NEIGH\] Deleted 10\.0\.0\.7 dev v0 lladdr 02:00:00:00:00:07 PERMANENT$/m);
    // No line names a device by its index.
    expect(text).not.toMatch(/dev (if)?\d/);
  });

  it('--json prints one object per line, with device names after the delete', async () => {
    basicLab(ns.name);
    const m = await startMonitor('--json');
    ip(ns.name, 'link', 'del', 'v0');
    const linkGone = JSON.parse(await m.until(/"kind":"interface","action":"remove".*"ifname":"v0"/));
    expect(linkGone).toMatchObject({ kind: 'interface', action: 'remove', netns: ns.name, before: { ifname: 'v0' } });
    const events = m.lines.map((l) => JSON.parse(l) as { kind: string; action: string; before?: Record<string, unknown> });
    const removed = (kind: string, field: string, value: string) =>
      events.find((e) => e.kind === kind && e.action === 'remove' && e.before?.[field] === value);
    expect(removed('address', 'local', '10.0.0.1')?.before).toMatchObject({ dev: 'v0' });
    expect(removed('route', 'dst', '10.9.0.0/16')?.before).toMatchObject({ dev: 'v0', gateway: '10.0.0.2' });
    expect(removed('neighbour', 'dst', '10.0.0.7')?.before).toMatchObject({ dev: 'v0' });
  });

  it('-t prints a Timestamp line before each change, --tshort a prefix; object names select kinds', async () => {
    basicLab(ns.name);
    const [long, short] = [await startMonitor('-t', 'route'), await startMonitor('--tshort', 'link', 'route')];
    ip(ns.name, 'link', 'set', 'v1', 'mtu', '1400');
    await short.until(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\] \[LINK\] Changed \d+: v1@v0: .* mtu 1400 /);
    const i = long.lines.findIndex((l) => l.startsWith('[ROUTE]'));
    expect(long.lines[i - 1]).toMatch(/^Timestamp: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} \d{1,6} usec$/);
    expect(long.lines.filter((l) => !l.startsWith('Timestamp: ')).every((l) => l.startsWith('[ROUTE]'))).toBe(true);
  });
});
