/**
 * Lab files brought up as ONE transaction and taken down leaving nothing
 * (issue 14): the demo lab (hosts, a bridge, a BMv2 stand-in, a shaped link,
 * sysctls, a limited process) read back through `ip -j`, `tc -j`, /proc and
 * the cgroup tree; two labs with the same node names side by side; a dry
 * run changes nothing; `up` on a running lab applies only the difference; a
 * fault at each kind of step rolls the whole lab back (seeded: which host
 * gets the faulty step); a lab of 50 nodes up and down.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { echo } from '../../../src/backends/icmp.js';
import { cgroupList, TransactionError } from '../../../src/index.js';
import { leftoversOf } from '../../../src/runtime/lab/leftovers.js';
import type { LabModel } from '../../../src/runtime/lab/model.js';
import { parseLab } from '../../../src/runtime/lab/parse.js';
import { labDown, labList, labUp } from '../../../src/runtime/lab/up.js';
import { STANDIN } from '../../helpers/bmv2-standin.js';
import { ipJson, tcJson } from '../../helpers/netns.js';
import { seeded } from '../../helpers/random.js';
import { ownCgroup } from '../../helpers/runtime.js';

const DEMO = join(import.meta.dirname, '../../../examples/labs/demo.yaml');
const CHILD = join(import.meta.dirname, '../../fixtures/lab-up-child.mjs');
let dir = '';
let journal = '';
/** The simple_switch_grpc stand-in. */
let standin = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nst-lab-'));
  journal = join(dir, 'journal.sqlite');
  standin = wrapper('standin');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An executable that runs the stand-in with node on its PATH, whatever the caller's PATH is. */
function wrapper(name: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\nPATH=${dirname(process.execPath)}:$PATH exec ${STANDIN} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

let labs = 0;
const made: string[] = [];
/** A lab name of this test run: `nst-` and 8 more characters (lab names are at most 16). */
function labName(): string {
  const name = `nst-${(process.pid % 10000).toString(36)}${(labs++).toString(36)}x`;
  made.push(name);
  return name;
}

afterEach(async () => {
  // Whatever a failed test left: its labs down, and their namespaces gone in any case.
  for (const name of made.splice(0)) {
    await labDown(name, { journal }).catch(() => undefined);
    for (const ns of namespacesOf(name)) execFileSync('ip', ['netns', 'del', ns]);
  }
});

function namespacesOf(lab: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] as string)
    .filter((n) => n.startsWith(`${lab}.`))
    .sort();
}

/** Nothing of the lab is left: `ip netns`, and the cgroup tree and /proc through leftoversOf. */
function expectNothingOf(lab: string): void {
  expect(namespacesOf(lab), 'namespaces').toEqual([]);
  expect(leftoversOf(lab)).toEqual({ namespaces: [], cgroups: [], processes: [] });
  // Nor the cgroups this process's transactions made (a switch's, a process's).
  expect(
    cgroupList()
      .map((c) => c.name)
      .filter(ownCgroup),
    'cgroups of this test process',
  ).toEqual([]);
}

function demo(name: string): LabModel {
  const text = readFileSync(DEMO, 'utf8').replace(/^name: demo$/m, `name: ${name}`);
  return parseLab(text, { file: DEMO }).model;
}

function lab(text: string): LabModel {
  return parseLab(text).model;
}

function link(ns: string, dev: string): Record<string, unknown> {
  return (ipJson(ns, '-d', 'link', 'show', 'dev', dev) as Record<string, unknown>[])[0] as Record<string, unknown>;
}

function addresses(ns: string, dev: string): string[] {
  const [l] = ipJson<{ addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns, 'addr', 'show', 'dev', dev);
  return (l?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
}

describe('lab files', () => {
  it('the demo lab comes up as one transaction, works, and goes down leaving nothing', async () => {
    const name = labName();
    const model = demo(name);
    const reviews: unknown[] = [];
    const phases: number[] = [];
    const result = await labUp(model, {
      journal,
      bmv2Binary: standin,
      onReview: (r) => reviews.push(r),
      progress: (done) => phases.push(done),
    });
    // The review came first, once; the commit told its progress.
    expect(reviews).toHaveLength(1);
    expect(Object.keys((reviews[0] as { namespaces: object }).namespaces)).toHaveLength(4);
    expect(phases.length).toBeGreaterThan(3);
    expect(result.running).toBe(false);
    const ns = (node: string) => `${name}.${node}`;
    expect(namespacesOf(name)).toEqual(['br1', 'h1', 'h2', 's1'].map(ns));
    // Hosts: addresses; the bridge: its ports; shaping on h2's end.
    expect(addresses(ns('h1'), 'eth0')).toEqual(['10.0.0.1/24', '2001:db8::1/64']);
    expect(addresses(ns('h2'), 'eth0')).toEqual(['10.0.0.2/24', '2001:db8::2/64']);
    const ports = ipJson<{ ifname: string }[]>(ns('br1'), 'link', 'show', 'master', 'br1').map((l) => l.ifname);
    expect(ports.sort()).toEqual(['p1', 'p2']);
    const root = tcJson(ns('h2'), 'qdisc', 'show', 'dev', 'eth0').find((q) => q.root);
    expect(root).toMatchObject({ kind: 'tbf' });
    expect(JSON.stringify(root)).toMatch(/"rate":1250000\b/);
    // The sysctl, read inside the namespace.
    const sysctl = execFileSync('ip', ['netns', 'exec', ns('h1'), 'cat', '/proc/sys/net/ipv4/icmp_echo_ignore_all'], {
      encoding: 'utf8',
    });
    expect(sysctl.trim()).toBe('0');
    // The switch runs in s1's namespace, and h2's `sleep 3600 &` in its node's cgroup.
    const s1pids = execFileSync('ip', ['netns', 'pids', ns('s1')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(s1pids.length).toBeGreaterThanOrEqual(1);
    const running = leftoversOf(name);
    expect(running.cgroups).toEqual([ns('h2')]);
    const sleepers = running.processes.filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\x003600\x00');
    expect(sleepers).toHaveLength(1);
    expect(readFileSync(`/proc/${sleepers[0]}/cgroup`, 'utf8')).toContain(`/netstate/${ns('h2')}`);
    // h1 reaches h2 across the bridge and the switch.
    expect(await echo(ns('h1'), '10.0.0.2', { timeout: 5000 })).toBeGreaterThan(0);
    expect((await labList({ journal })).map((l) => l.name)).toContain(name);

    const down = await labDown(name, { journal });
    expect(down.removed.length).toBeGreaterThan(0);
    expectNothingOf(name);
    expect((await labList({ journal })).map((l) => l.name)).not.toContain(name);
  });

  it('two labs with the same node names run side by side; one going down leaves the other', async () => {
    const text = (name: string) => `
name: ${name}
topology:
  nodes: { h1: {}, h2: {} }
  links:
    - endpoints: ["h1:eth0", "h2:eth0"]
      ipv4: [10.0.0.1/24, 10.0.0.2/24]
`;
    const [a, b] = [labName(), labName()];
    await labUp(lab(text(a)), { journal });
    await labUp(lab(text(b)), { journal });
    expect(namespacesOf(a)).toEqual([`${a}.h1`, `${a}.h2`]);
    expect(namespacesOf(b)).toEqual([`${b}.h1`, `${b}.h2`]);
    await labDown(a, { journal });
    expectNothingOf(a);
    expect(namespacesOf(b)).toEqual([`${b}.h1`, `${b}.h2`]);
    expect(await echo(`${b}.h1`, '10.0.0.2', { timeout: 3000 })).toBeGreaterThan(0);
  });

  it('a dry run reviews and changes nothing', async () => {
    const name = labName();
    const result = await labUp(demo(name), { journal, bmv2Binary: standin, dryRun: true });
    expect(Object.keys(result.review.namespaces ?? {})).toHaveLength(4);
    expect(result.report).toBeUndefined();
    expectNothingOf(name);
    expect((await labList({ journal })).map((l) => l.name)).not.toContain(name);
  });

  it('up on a running lab applies only the difference', async () => {
    const name = labName();
    const v1 = `
name: ${name}
topology:
  nodes: { h1: {}, h2: {}, br: { kind: bridge } }
  links:
    - endpoints: ["h1:eth0", "br:p1"]
      ipv4: [10.0.0.1/24, null]
    - endpoints: ["h2:eth0", "br:p2"]
      ipv4: [10.0.0.2/24, null]
      impair: { rate: 10mbit }
`;
    await labUp(lab(v1), { journal });
    const index = link(`${name}.h1`, 'eth0').ifindex;
    const v2 = `${v1.replace('impair: { rate: 10mbit }', 'impair: { rate: 20mbit }')}    - endpoints: ["h3:eth0", "br:p3"]
      ipv4: [10.0.0.3/24, null]
`.replace('nodes: { h1: {}, h2: {}, br: { kind: bridge } }', 'nodes: { h1: {}, h2: {}, h3: {}, br: { kind: bridge } }');
    const result = await labUp(lab(v2), { journal });
    expect(result.running).toBe(true);
    // Only h3 is new; h1's link was not made again.
    expect(Object.keys(result.review.namespaces ?? {})).toEqual([`${name}.h3`]);
    expect(link(`${name}.h1`, 'eth0').ifindex).toBe(index);
    expect(namespacesOf(name)).toHaveLength(4);
    expect(JSON.stringify(tcJson(`${name}.h2`, 'qdisc', 'show', 'dev', 'eth0'))).toMatch(/"rate":2500000\b/);
    expect(await echo(`${name}.h3`, '10.0.0.1', { timeout: 3000 })).toBeGreaterThan(0);
    // The same file again: nothing to do.
    const again = await labUp(lab(v2), { journal });
    expect(again.report).toBeUndefined();
  });

  /**
   * A lab of three hosts on a bridge where one host (chosen by the seed)
   * has a step that fails, every kind of step in turn (or a switch that
   * aborts at start): the kernel refuses it, or the command fails, and the
   * whole lab is rolled back.
   */
  interface Fault {
    what: string;
    /** The faulty host's node line. */
    host?: (h: string) => string;
    /** A node (and its link to the bridge) added to the lab. */
    extra?: { node: string; link: string };
    /** The hosts get IPv6 addresses too. */
    ipv6?: boolean;
  }
  const FAULTS: Fault[] = [
    { what: 'a command that exits 3', host: (h) => `${h}: { exec: ["echo about to fail; exit 3"] }` },
    { what: 'a sysctl the kernel does not have', host: (h) => `${h}: { sysctls: { net.ipv4.no_such_thing: 1 } }` },
    {
      // Made before the links, the sysctl turns IPv6 off on them: the kernel refuses their IPv6 address.
      what: 'an address the kernel refuses (IPv6 turned off by a sysctl of the node)',
      host: (h) => `${h}: { sysctls: { net.ipv6.conf.default.disable_ipv6: 1 } }`,
      ipv6: true,
    },
    {
      what: 'a switch whose program fails to load',
      extra: { node: 'sw: { kind: bmv2, program: BAD_PROGRAM }', link: '{ endpoints: ["sw:p1", "br:p4"] }' },
    },
  ];
  const rnd = seeded('LAB_FAULT_SEED');
  for (const fault of FAULTS) {
    it(`a lab with ${fault.what} is rolled back whole`, async () => {
      const name = labName();
      const faulty = rnd.pick(['h1', 'h2', 'h3']);
      const nodes = ['h1', 'h2', 'h3'].map((h) => (h === faulty && fault.host ? fault.host(h) : `${h}: {}`));
      const v6 = (i: number) => (fault.ipv6 ? `, ipv6: [2001:db8::${i}/64, null]` : '');
      const links = [1, 2, 3].map((i) => `{ endpoints: ["h${i}:eth0", "br:p${i}"], ipv4: [10.0.0.${i}/24, null]${v6(i)} }`);
      if (fault.extra) {
        const program = join(dir, 'bad-program.json');
        // The stand-in's way of a program BMv2 cannot load: it prints the error and exits 1.
        writeFileSync(program, JSON.stringify({ __standin__: { error: 'Type checking failed for table t' } }));
        nodes.push(fault.extra.node.replace('BAD_PROGRAM', program));
        links.push(fault.extra.link);
      }
      const text = `name: ${name}\ntopology:\n  nodes:\n${[...nodes, 'br: { kind: bridge }'].map((n) => `    ${n}`).join('\n')}\n  links:\n${links.map((l) => `    - ${l}`).join('\n')}\n`;
      const err = await labUp(lab(text), { journal, bmv2Binary: standin }).catch((e) => e);
      expect(err, `faulty node ${faulty} (LAB_FAULT_SEED=${rnd.seed})`).toBeInstanceOf(TransactionError);
      expect((err as TransactionError).notRolledBack).toEqual([]);
      expectNothingOf(name);
      expect((await labList({ journal })).map((l) => l.name)).not.toContain(name);
    });
  }

  /**
   * kill -9 of a process in the middle of `lab up` (a seeded moment after
   * its review): `lab down` then removes everything it made, and nothing is
   * left; or, killed before its records were written, it made nothing.
   */
  const crash = seeded('LAB_CRASH_SEED');
  for (let trial = 1; trial <= 3; trial++) {
    it(`lab down after lab up was killed -9 (trial ${trial})`, async () => {
      const name = labName();
      const delay = crash.int(0, 400);
      const child = spawn(process.execPath, [CHILD, journal, name, '12'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const ended = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (d: Buffer) => {
          if (d.toString().includes('committing')) resolve();
        });
        child.on('exit', () => reject(new Error('the child ended before its commit')));
      });
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await ended;
      const listed = (await labList({ journal })).some((l) => l.name === name);
      const made = namespacesOf(name).length;
      if (listed) await labDown(name, { journal });
      else expect(namespacesOf(name), 'killed before its records: nothing made').toEqual([]);
      expectNothingOf(name);
      console.log(
        `trial ${trial}: killed ${delay} ms after the review (LAB_CRASH_SEED=${crash.seed}), ${made} of 13 namespaces made, ${listed ? 'taken down' : 'not recorded'}`,
      );
    });
  }

  it('a lab of 50 nodes (a chain of hosts and bridges) comes up and goes down', async () => {
    const name = labName();
    const nodes: string[] = [];
    const links: string[] = [];
    for (let i = 0; i < 25; i++) {
      nodes.push(`h${i}: {}`, `b${i}: { kind: bridge }`);
      links.push(`- { endpoints: ["h${i}:eth0", "b${i}:p0"], ipv4: [10.${i}.0.1/24, null] }`);
      if (i > 0) links.push(`- { endpoints: ["b${i - 1}:p1", "b${i}:p2"] }`);
    }
    const text = `name: ${name}\ntopology:\n  nodes:\n${nodes.map((n) => `    ${n}`).join('\n')}\n  links:\n${links.map((l) => `    ${l}`).join('\n')}\n`;
    const result = await labUp(lab(text), { journal, timeout: 30_000 });
    expect(namespacesOf(name)).toHaveLength(50);
    expect(addresses(`${name}.h24`, 'eth0')).toEqual(['10.24.0.1/24']);
    expect((result.report as { steps: number }).steps).toBeGreaterThan(150);
    await labDown(name, { journal });
    expectNothingOf(name);
  }, 120_000);
});
