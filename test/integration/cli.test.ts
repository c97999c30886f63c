/** The `netstate` command, run as a user would run it (the built bin). */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { basicLab } from '../helpers/lab.js';
import { ip, ipJson, useNetns } from '../helpers/netns.js';

const BIN = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const ns = useNetns(2);

function netstate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('netstate show', () => {
  it('prints aligned tables with iproute2 column names', () => {
    basicLab(ns.name);
    const out = netstate('show', 'routes', '--netns', ns.name).stdout.split('\n');
    expect(out[0]).toMatch(/^table\s+type\s+dst\s+gateway\s+dev\s+proto/);
    const line = out.find((l) => l.includes('10.9.0.0/16')) as string;
    expect(line.split(/\s+/)).toEqual(['254', '10.9.0.0/16', '10.0.0.2', 'v0', 'boot']);
    // Columns line up: every row's dst starts where the header's does.
    const at = (out[0] as string).indexOf('dst');
    for (const l of out.slice(1).filter(Boolean)) expect([l[at - 1], /\S/.test(l[at] as string)]).toEqual([' ', true]);
  });

  it('--table selects a routing table, --json prints the records', () => {
    basicLab(ns.name);
    const r = netstate('show', 'routes', '-n', ns.name, '--table', '100', '--json');
    expect(r.status).toBe(0);
    const routes = JSON.parse(r.stdout);
    expect(routes.map((x: { dst: string }) => x.dst)).toEqual(
      ipJson<{ dst: string }[]>(ns.name, 'route', 'show', 'table', '100').map((x) => x.dst),
    );
    expect(routes[0]).toMatchObject({ netns: ns.name, table: 100, gateway: '10.0.0.2' });
  });

  it('shows several namespaces with a netns column', () => {
    basicLab(ns.names[0] as string);
    const out = netstate('show', 'links', '-n', ns.names[0] as string, '-n', ns.names[1] as string).stdout;
    expect(out.split('\n')[0]).toMatch(/^netns\s+index\s+ifname/);
    expect(out).toContain(ns.names[1] as string);
    for (const what of ['addresses', 'rules', 'neighbours']) expect(netstate('show', what, '-n', ns.name).status).toBe(0);
  });

  it('a missing namespace, a bad argument and missing privileges each get a sentence and an exit status', () => {
    const missing = netstate('show', 'links', '--netns', 'nst-no-such-ns');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('netstate: no network namespace named "nst-no-such-ns"\n');
    const bad = netstate('show', 'bogus');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/"bogus" is not one of links, addresses, routes, rules, neighbours/);
    expect(netstate('show', 'links', '--table', '5', '-n', ns.name).status).toBe(2);
    const nobody = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', BIN, 'show', '-n', ns.name],
      {
        encoding: 'utf8',
        env: { ...process.env, HOME: '/tmp' },
      },
    );
    expect(nobody.status).toBe(77);
    expect(nobody.stderr).toMatch(/^netstate: .*root/);
  });
});

describe('netstate monitor', () => {
  it('prints one line per change as it happens', async () => {
    basicLab(ns.name);
    const child = spawn('node', [BIN, 'monitor', '--netns', ns.name], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: child.stdout });
      const seen: string[] = [];
      const got = new Promise<void>((resolve) => {
        lines.on('line', (l) => {
          seen.push(l);
          if (l.startsWith('[ROUTE] Deleted ') && l.includes(' 10.55.0.0/16 ')) resolve();
        });
      });
      // The monitor is ready once it has loaded: a change it prints proves it, then the delete follows.
      const added = new Promise<void>((resolve) => lines.on('line', (l) => l.includes('10.55.0.0/16') && resolve()));
      let n = 0;
      const poke = setInterval(() => ip(ns.name, 'route', 'replace', '10.55.0.0/16', 'via', `10.0.0.${2 + (n++ % 2)}`), 50);
      await added;
      clearInterval(poke);
      ip(ns.name, 'route', 'del', '10.55.0.0/16');
      await got;
      expect(
        seen.some((l) => /^\[ROUTE\] (Changed )?table 254 10\.55\.0\.0\/16 gateway 10\.0\.0\.[23] dev v0 proto boot$/.test(l)),
      ).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
