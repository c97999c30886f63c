/**
 * The README's lab-runtime example, as written there (namespace names made
 * unique): one transaction makes two namespaces, a veth between them,
 * addresses, shaping, a sysctl, a server process in a limited cgroup and a
 * command run to its end. Read back through ip -j, tc -j, /proc and the
 * cgroup tree; then a failing commit of the same kind leaves nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { NetState, TransactionError } from '../../../src/index.js';
import { delNetns, freshName, ipJson, tcJson } from '../../helpers/netns.js';
import { cgroupFile, ownCgroup, useRuntimeCleanup } from '../../helpers/runtime.js';

const made: string[] = [];
afterEach(() => {
  for (const n of made.splice(0)) delNetns(n);
});
// Processes left in a namespace keep it alive after `ip netns del`: ended first (after hooks run last-registered first).
useRuntimeCleanup(() => [...made]);

/** Polls a reader of /proc until it holds (nothing announces an exec). */
async function until(holds: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!holds()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the README's lab runtime example", () => {
  it('comes up as one transaction, each part as the kernel shows it', async () => {
    const [h1, h2] = [freshName('r1'), freshName('r2')];
    made.push(h1, h2);
    const db = await NetState.open({ netns: [], journal: false });
    try {
      const tx = db.begin();
      tx.addNamespace(h1).addNamespace(h2);
      tx.create({ kind: 'veth', ifname: 'eth0', netns: h1, peer: { ifname: 'eth0', netns: h2 } });
      tx.interface('eth0', { netns: h1 }).addIp('10.0.0.1/24').up().shape({ rate: '10mbit' });
      tx.interface('eth0', { netns: h2 }).addIp('10.0.0.2/24').up();
      tx.sysctl('net.ipv4.ip_forward', 1, { netns: h2 });
      const web = tx.spawn(h2, ['python3', '-m', 'http.server', '8000'], { limits: { cpu: 0.5, memory: '256M' } });
      tx.run(h1, ['sh', '-c', 'echo ready'], { timeout: 5000 });
      const review = tx.review();
      expect(Object.keys(review.namespaces ?? {}).sort()).toEqual([h1, h2].sort());
      expect(Object.keys(review.processes ?? {})).toHaveLength(2);
      const report = await tx.commit();
      const server = report.processes?.[web];
      expect(server?.pid).toBeGreaterThan(0);

      expect(ipJson<{ addr_info: { local: string }[] }[]>(h2, 'addr', 'show', 'eth0')[0]?.addr_info[0]?.local).toBe('10.0.0.2');
      expect(tcJson(h1, 'qdisc', 'show', 'dev', 'eth0').find((q) => q.root)?.kind).toBe('tbf');
      expect(db.sysctl('net.ipv4.ip_forward', { netns: h2 })).toBe('1');
      expect(db.sysctl('net.ipv4.ip_forward', { netns: h1 })).toBe('0');
      // The server is python itself (the pid is the command's), in a cgroup of its own with the limits.
      const pid = server?.pid as number;
      // python3 may be a shim (pyenv) that execs the interpreter: same pid, its command line once it did.
      await until(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('http.server\0'), 5000);
      const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const memory = /:memory:(\/netstate\/[^\n]+)/.exec(cgroups)?.[1];
      expect(memory && ownCgroup(memory.split('/').pop() as string)).toBeTruthy();
      expect(cgroupFile(`/sys/fs/cgroup/memory${memory}`, 'memory.limit_in_bytes')).toBe(String(256 * 1024 * 1024));
      expect(
        db.namespaces
          .list()
          .filter((n) => n.made)
          .map((n) => n.name)
          .sort(),
      ).toEqual([h1, h2].sort());

      // Removing the namespaces ends the server and removes its cgroup.
      const down = db.begin();
      down.removeNamespace(h1).removeNamespace(h2);
      await down.commit();
      await server?.wait();
      expect(() => readFileSync(`/proc/${pid}/cmdline`)).toThrow();
      expect(existsSync(`/sys/fs/cgroup/memory${memory}`), 'its cgroup went with it').toBe(false);
    } finally {
      await db.close();
    }
  });

  it('a command that fails takes the whole transaction back: no namespace, no process', async () => {
    const [h1, h2] = [freshName('r3'), freshName('r4')];
    made.push(h1, h2);
    const db = await NetState.open({ netns: [], journal: false });
    try {
      const tx = db.begin();
      tx.addNamespace(h1).addNamespace(h2);
      tx.create({ kind: 'veth', ifname: 'eth0', netns: h1, peer: { ifname: 'eth0', netns: h2 } });
      tx.spawn(h2, ['sleep', '600']);
      tx.run(h1, ['sh', '-c', 'exit 7'], { timeout: 5000 });
      const err = await tx.commit().catch((e) => e);
      expect(err).toBeInstanceOf(TransactionError);
      expect(err.message).toMatch(/exit 7/);
      expect(err.notRolledBack).toEqual([]);
      const listed = db.namespaces.list().map((n) => n.name);
      expect(listed).not.toContain(h1);
      expect(listed).not.toContain(h2);
    } finally {
      await db.close();
    }
  });
});
