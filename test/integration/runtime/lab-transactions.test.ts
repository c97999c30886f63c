/**
 * Namespaces, sysctls and processes as transaction steps: a small lab made
 * in one commit (two new namespaces, a veth across them, addresses, a
 * sysctl, a process with limits), checked through ip -j, /proc and the
 * cgroup files; then the same lab with a fault at each step kind in turn,
 * which must leave the machine exactly as before (namespaces, root links,
 * cgroups, processes).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { echo } from '../../../src/backends/icmp.js';
import {
  cgroupList,
  createCgroup,
  listNetns,
  NetState,
  processes,
  TransactionError,
  ValidationError,
} from '../../../src/index.js';
import { delNetns, freshName, ipJson } from '../../helpers/netns.js';
import { ownCgroup, useRuntimeCleanup } from '../../helpers/runtime.js';

let db: NetState;
let made: string[] = [];

beforeEach(async () => {
  db = await NetState.open({ journal: false });
  made = [freshName('h'), freshName('h')];
});

useRuntimeCleanup(() => made.filter((n) => listNetns().includes(n)));
afterEach(async () => {
  await db.close();
  for (const n of made) delNetns(n);
});

/** What must be as it was after a failed commit: namespaces, root links, our cgroups and processes. */
function machine() {
  return {
    namespaces: listNetns()
      .filter((n) => made.includes(n))
      .sort(),
    rootLinks: (JSON.parse(execFileSync('ip', ['-j', 'link'], { encoding: 'utf8' })) as { ifname: string }[])
      .map((l) => l.ifname)
      .sort(),
    cgroups: cgroupList()
      .map((c) => c.name)
      .filter(ownCgroup),
  };
}

/** The lab: h1 and h2, a veth between them, addresses, a sysctl, a sleeping process with limits. */
function stageLab(tx: ReturnType<NetState['begin']>, [h1, h2] = made as [string, string]) {
  tx.addNamespace(h1).addNamespace(h2);
  tx.create({ kind: 'veth', ifname: 'eth0', netns: h1, peer: { ifname: 'eth0', netns: h2 } })
    .up()
    .addIp('10.9.0.1/24');
  tx.interface('eth0', { netns: h2 }).up().addIp('10.9.0.2/24');
  tx.sysctl('net.ipv4.ip_forward', 1, { netns: h1 });
  tx.sysctl('net.ipv6.conf.eth0.disable_ipv6', 1, { netns: h2 });
  tx.spawn(h2, ['sleep', '300'], { name: 'sleeper', limits: { cpu: 0.5, memory: '64M' } });
}

describe('a lab in one transaction', () => {
  it('comes up: namespaces followed, veth across them, sysctls, a limited process; the kernel agrees', async () => {
    const [h1, h2] = made as [string, string];
    const tx = db.begin();
    stageLab(tx);
    const review = tx.review();
    expect(review.namespaces).toEqual({ [h1]: { add: true }, [h2]: { add: true } });
    expect(review.sysctls).toEqual({
      [`${h1}:net.ipv4.ip_forward`]: { from: null, to: '1' },
      [`${h2}:net.ipv6.conf.eth0.disable_ipv6`]: { from: null, to: '1' },
    });
    expect(review.processes).toMatchObject({ sleeper: { start: ['sleep', '300'], netns: h2 } });
    const report = await tx.commit();
    // Through independent readers.
    expect(listNetns()).toEqual(expect.arrayContaining([h1, h2]));
    const eth = ipJson(h1, '-d', 'addr', 'show', 'eth0')[0] as Record<string, unknown>;
    expect((eth.addr_info as { local: string }[]).map((a) => a.local)).toContain('10.9.0.1');
    expect(execFileSync('ip', ['netns', 'exec', h1, 'sysctl', '-n', 'net.ipv4.ip_forward'], { encoding: 'utf8' }).trim()).toBe(
      '1',
    );
    expect(
      execFileSync('ip', ['netns', 'exec', h2, 'sysctl', '-n', 'net.ipv6.conf.eth0.disable_ipv6'], { encoding: 'utf8' }).trim(),
    ).toBe('1');
    expect(await echo(h1, '10.9.0.2')).toBeGreaterThanOrEqual(0);
    const sleeper = report.processes?.sleeper;
    expect(sleeper?.pid).toBeGreaterThan(0);
    expect(processes(h2).map((p) => p.pid)).toContain(sleeper?.pid);
    expect(readFileSync(`/proc/${sleeper?.pid}/cgroup`, 'utf8')).toMatch(/netstate\/tx-/);
    // The store follows what the commit made.
    expect(db.followed).toEqual(expect.arrayContaining([h1, h2]));
    expect(db.interfaces.get({ netns: h2, ifname: 'eth0' })?.state).toBe('up');
    expect(db.namespaces.get(h1)).toMatchObject({ name: h1, followed: true, made: true });
    // And goes away in one transaction: processes first, then the namespaces.
    const down = db.begin();
    down.removeNamespace(h1).removeNamespace(h2);
    expect(down.review().namespaces?.[h2]).toMatchObject({ remove: true, interfaces: ['eth0'] });
    await down.commit();
    expect(listNetns().filter((n) => made.includes(n))).toEqual([]);
    // Ended by the removal (SIGTERM); what Node has not reaped yet is a zombie, gone from the namespace.
    expect((await sleeper?.wait({ timeout: 2000 }))?.signal).toBe('SIGTERM');
    expect(db.followed).not.toContain(h1);
  });

  /** The step each fault fails at, as the error names it. */
  const STEP_OF: Record<string, RegExp> = {
    namespace: /^namespace nst-.*: add$/,
    link: /^create vlan vl0$/,
    qdisc: /^add an ingress qdisc to q0$/,
    sysctl: /^sysctl net\.ipv4\.conf\.all\.forwarding /,
    'process start': /^process fails /,
    command: /^process exit3 /,
  };

  // A fault at each step kind in turn: the whole lab rolls back, and the machine is as before.
  it.each([
    [
      'namespace',
      (tx: ReturnType<NetState['begin']>) => {
        // Made by someone else between staging and commit.
        execFileSync('ip', ['netns', 'add', made[1] as string]);
        return tx;
      },
    ],
    [
      'link',
      (tx: ReturnType<NetState['begin']>) => {
        tx.create({ kind: 'vlan', ifname: 'vl0', netns: made[0], link: 'eth0', data: { id: 5 } });
        return tx;
      },
    ],
    [
      'qdisc',
      async (tx: ReturnType<NetState['begin']>) => {
        // A forward staged on a link of a namespace the store follows; someone else attaches an
        // ingress qdisc to that link between staging and commit: the kernel refuses ours (EEXIST).
        const other = freshName('q');
        made.push(other);
        execFileSync('ip', ['netns', 'add', other]);
        execFileSync('ip', ['-n', other, 'link', 'add', 'q0', 'type', 'veth', 'peer', 'name', 'q1']);
        await db.follow(other);
        tx.interface('q0', { netns: other }).forwardTo('q1');
        execFileSync('tc', ['-n', other, 'qdisc', 'add', 'dev', 'q0', 'ingress']);
        // Its refusal must name the step: checked below with the rest.
        return tx;
      },
    ],
    ['sysctl', (tx: ReturnType<NetState['begin']>) => tx.sysctl('net.ipv4.conf.all.forwarding', 'abc', { netns: made[0] })],
    [
      'process start',
      (tx: ReturnType<NetState['begin']>) => {
        // Its cgroup is taken (made by someone else): the start fails.
        const taken = freshName('cg');
        createCgroup(taken);
        tx.spawn(made[0] as string, ['sleep', '300'], { name: 'fails', cgroup: taken });
        return tx;
      },
    ],
    [
      'command',
      (tx: ReturnType<NetState['begin']>) => {
        tx.run(made[0] as string, ['sh', '-c', 'exit 3'], { name: 'exit3' });
        return tx;
      },
    ],
  ] as const)('a fault at a %s step rolls the whole lab back', async (kind, fault) => {
    const tx = db.begin();
    stageLab(tx);
    await fault(tx);
    const after = machine(); // what the fault itself made (a namespace, a cgroup) stays
    const followed = [...db.followed];
    const err = await tx.commit().catch((e) => e);
    expect(err).toBeInstanceOf(TransactionError);
    // It failed at the step of that kind, not anywhere else.
    expect(err.step).toMatch(STEP_OF[kind]);
    expect(err.notRolledBack).toEqual([]);
    const now = machine();
    // The namespace someone else made stays; everything of ours is gone.
    expect(now).toEqual(after);
    expect(db.followed).toEqual(followed);
  });

  it.each([
    ['a namespace name with a slash', (tx: ReturnType<NetState['begin']>) => tx.addNamespace('a/b'), 'name'],
    ['the root namespace', (tx: ReturnType<NetState['begin']>) => tx.addNamespace('localhost'), 'name'],
    ['a sysctl of the host', (tx: ReturnType<NetState['begin']>) => tx.sysctl('kernel.hostname', 'x'), 'key'],
    ['a sysctl key with ..', (tx: ReturnType<NetState['begin']>) => tx.sysctl('net.ipv4.../x', 1), 'key'],
    ['a sysctl value with a newline', (tx: ReturnType<NetState['begin']>) => tx.sysctl('net.ipv4.ip_forward', '1\n0'), 'value'],
    ['an unknown namespace for a process', (tx: ReturnType<NetState['begin']>) => tx.spawn('nst-nowhere', ['true']), 'netns'],
    ['an empty argv', (tx: ReturnType<NetState['begin']>) => tx.spawn(made[0] as string, []), 'argv'],
    [
      'a negative cpu limit',
      (tx: ReturnType<NetState['begin']>) => tx.spawn(made[0] as string, ['true'], { limits: { cpu: -1 } }),
      'limits.cpu',
    ],
  ] as const)('refuses %s before anything is staged', (_title, stage, field) => {
    const tx = db.begin();
    tx.addNamespace(made[0] as string);
    const err = (() => {
      try {
        stage(tx);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect(Object.keys(tx.review().namespaces ?? {})).toEqual([made[0]]);
    tx.drop();
  });
});
