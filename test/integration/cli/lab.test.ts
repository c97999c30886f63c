/**
 * `netstate lab check|up|list|inspect|graph|down` as a containerlab user
 * runs them, and nmstatectl's show/apply as `netstate dump|diff|apply`:
 * the review printed before anything changes, --dry-run stopping there, a
 * broken file listing every problem with its line and exiting 1, `down`
 * leaving nothing (`ip netns`), apply --confirm rolled back at its deadline
 * unless confirmed.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STANDIN } from '../../helpers/bmv2-standin.js';
import { netstate, netstateOk } from '../../helpers/cli.js';
import { ip, ipJson, useNetns } from '../../helpers/netns.js';

const ns = useNetns();
let dir = '';
let journal = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nst-clilab-'));
  journal = join(dir, 'journal.sqlite');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const namespacesOf = (lab: string) =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] as string)
    .filter((n) => n.startsWith(`${lab}.`))
    .sort();

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('netstate lab', () => {
  it('check lists every problem with its line and exits 2; a good file is valid', async () => {
    const bad = write(
      'broken.yaml',
      'name: nst-broken\ntopology:\n  nodes:\n    h1: { kind: hots }\n    h2: { cpus: 1 }\n  links:\n    - endpoints: ["h1:eth0", "h2:eth0"]\n      ipv4: [2001:db8::1/64, null]\n',
    );
    const r = await netstate('lab', 'check', bad);
    // Bad input, as a bad argument: status 2.
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/broken\.yaml:4:\d+: .*unknown kind "hots" \(did you mean "host"\?\)/);
    expect(r.stderr).toMatch(/broken\.yaml:5:\d+: .*unknown field "cpus" \(did you mean "cpu"\?\)/);
    expect(r.stderr).toMatch(/broken\.yaml:8:\d+: .*IPv6 address in an ipv4 field/);
    const good = write(
      'good.yaml',
      'name: nst-good\ntopology:\n  nodes: { h1: {}, h2: {} }\n  links: [{ endpoints: ["h1:eth0", "h2:eth0"] }]\n',
    );
    expect(await netstateOk('lab', 'check', good)).toMatch(/lab nst-good, 2 nodes, 1 links: valid/);
  });

  it('up prints the review first (--dry-run stops there), list, inspect, graph, up again with a change, down leaves nothing', async () => {
    const name = `nst-cl${process.pid % 100000}`;
    const v1 = `name: ${name}\ntopology:\n  nodes: { h1: {}, h2: {}, s1: { kind: bmv2, no-p4: true } }\n  links:\n    - endpoints: ["h1:eth0", "h2:eth0"]\n      ipv4: [10.0.0.1/24, 10.0.0.2/24]\n    - endpoints: ["h2:eth1", "s1:p1"]\n`;
    // The simple_switch_grpc stand-in, with node on its PATH whatever the caller's PATH is.
    const bmv2 = write('simple_switch_grpc', `#!/bin/sh\nPATH=${dirname(process.execPath)}:$PATH exec ${STANDIN} "$@"\n`);
    chmodSync(bmv2, 0o755);
    const file = write('lab.yaml', v1);
    try {
      const dry = await netstateOk('lab', 'up', file, '--dry-run', '--bmv2', bmv2, '--journal', journal);
      expect(dry).toMatch(/namespaces:/);
      expect(dry).toMatch(new RegExp(`${name}\\.h1`));
      expect(dry).toMatch(/dry run: lab .* not changed/);
      expect(namespacesOf(name)).toEqual([]);

      const up = await netstateOk('lab', 'up', file, '--bmv2', bmv2, '--journal', journal);
      // The review comes before the result line.
      expect(up.indexOf('namespaces:')).toBeLessThan(up.indexOf(`lab ${name} is up`));
      expect(namespacesOf(name)).toEqual([`${name}.h1`, `${name}.h2`, `${name}.s1`]);
      expect(await netstateOk('lab', 'list', '--journal', journal)).toMatch(new RegExp(`^${name} .*lab\\.yaml`, 'm'));
      const inspect = await netstateOk('lab', 'inspect', name, '--journal', journal);
      expect(inspect).toMatch(new RegExp(`h1 \\(host\\) ${name}\\.h1 up`));
      expect(inspect).toMatch(/eth0 up 10\.0\.0\.1\/24/);
      expect(inspect).toMatch(new RegExp(`s1 \\(bmv2\\) ${name}\\.s1 up  switch running, device 0, grpc 9559, thrift 9090`));
      const json = JSON.parse(await netstateOk('lab', 'inspect', name, '--json', '--journal', journal));
      expect(json.nodes.map((n: { node: string }) => n.node)).toEqual(['h1', 'h2', 's1']);
      const svg = join(dir, 'lab.svg');
      await netstateOk('lab', 'graph', file, '-o', svg);
      const picture = readFileSync(svg, 'utf8');
      expect(picture).toMatch(/^<\?xml|^<svg/);
      expect(picture).toContain('10.0.0.1/24');

      // Edited: a third host; only it is staged.
      writeFileSync(
        file,
        v1.replace('{ h1: {}, h2: {},', '{ h1: {}, h2: {}, h3: {},') +
          '    - endpoints: ["h3:eth0", "h1:eth1"]\n      ipv4: [10.1.0.3/24, 10.1.0.1/24]\n',
      );
      const index = ipJson<{ ifindex: number }[]>(`${name}.h1`, 'link', 'show', 'eth0')[0]?.ifindex;
      const again = await netstateOk('lab', 'up', file, '--bmv2', bmv2, '--journal', journal);
      expect(again).toMatch(new RegExp(`lab ${name} is changed`));
      expect(namespacesOf(name)).toHaveLength(4);
      expect(ipJson<{ ifindex: number }[]>(`${name}.h1`, 'link', 'show', 'eth0')[0]?.ifindex).toBe(index);
      expect(await netstateOk('lab', 'up', file, '--bmv2', bmv2, '--journal', journal)).toMatch(/nothing to change/);

      expect(await netstateOk('lab', 'down', name, '--journal', journal)).toMatch(new RegExp(`lab ${name} removed`));
      expect(namespacesOf(name)).toEqual([]);
      const gone = await netstate('lab', 'down', name, '--journal', journal);
      expect(gone.status).toBe(1);
      expect(gone.stderr).toMatch(/no lab named/);
    } finally {
      for (const n of namespacesOf(name)) execFileSync('ip', ['netns', 'del', n]);
    }
  });
});

describe('netstate dump, diff, apply', () => {
  it('dump → change → diff shows it → apply puts it back; apply --confirm is rolled back at its deadline', async () => {
    ip(ns.name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip(ns.name, 'addr', 'add', '10.0.0.1/24', 'dev', 'v0');
    ip(ns.name, 'link', 'set', 'v0', 'up');
    const state = write('state.yaml', await netstateOk('-n', ns.name, 'dump'));
    ip(ns.name, 'addr', 'del', '10.0.0.1/24', 'dev', 'v0');
    ip(ns.name, 'link', 'set', 'v0', 'mtu', '1400');
    const diff = await netstateOk('-n', ns.name, 'diff', state);
    expect(diff).toMatch(/\+ipaddr:\s*\n\s*- 10\.0\.0\.1\/24/);
    expect(diff).toMatch(/mtu: 1500/);
    // Provisional: back to the change at the deadline.
    const provisional = await netstateOk('-n', ns.name, 'apply', state, '--confirm', '1s', '--journal', journal);
    expect(provisional).toMatch(/confirm/);
    const addrs = () =>
      ipJson<{ addr_info: { local: string }[] }[]>(ns.name, 'addr', 'show', 'v0')[0]?.addr_info.map((a) => a.local);
    expect(addrs()).toContain('10.0.0.1');
    await waitUntil(() => !addrs()?.includes('10.0.0.1'), 10_000);
    expect(ipJson<{ mtu: number }[]>(ns.name, 'link', 'show', 'v0')[0]?.mtu).toBe(1400);
    // Final.
    await netstateOk('-n', ns.name, 'apply', state, '--journal', journal);
    expect(addrs()).toContain('10.0.0.1');
    expect(ipJson<{ mtu: number }[]>(ns.name, 'link', 'show', 'v0')[0]?.mtu).toBe(1500);
    expect(await netstateOk('-n', ns.name, 'diff', state)).toMatch(/nothing to change/);
  }, 30_000);
});

/** Polls a reader of the kernel until it holds: the deadline's rollback runs in another process (the watchdog). */
async function waitUntil(holds: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!holds()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
