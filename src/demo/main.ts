/**
 * `npm start`: builds a small lab in a throwaway namespace with the low-level
 * API, prints what the kernel then holds, and removes it all again.
 * (Issue [3/3] turns this into the transaction demo.)
 */
import { createNetns, Rtnl, type Rtnl as RtnlType, removeNetns } from '../index.js';

const NS = `nst-demo-${process.pid}`;

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ')).join('\n');
}

async function show(nl: RtnlType): Promise<void> {
  const links = await nl.link('dump');
  const name = new Map(links.map((l) => [l.index, l.ifname]));
  console.log('\nlinks');
  console.log(
    table([
      ['index', 'name', 'kind', 'state', 'mtu', 'master', 'address'],
      ...links.map((l) => [
        String(l.index),
        l.ifname,
        l.kind ?? '',
        l.state,
        String(l.mtu),
        name.get(l.master ?? 0) ?? '',
        l.address ?? '',
      ]),
    ]),
  );
  console.log('\naddresses');
  const addrs = await nl.addr('dump', { family: 'inet' });
  console.log(table([['dev', 'address'], ...addrs.map((a) => [name.get(a.index) ?? '', `${a.local}/${a.prefixlen}`])]));
  console.log('\nroutes (all tables, IPv4)');
  // Table 255 (local) is the kernel's own; table 200 holds the batch shown above.
  const routes = (await nl.route('dump', { family: 'inet' })).filter((r) => r.table !== 255 && r.table !== 200);
  console.log(
    table([
      ['table', 'dst', 'gateway', 'dev', 'proto', 'metric'],
      ...routes.map((r) => [
        String(r.table),
        r.dst,
        r.gateway ?? r.multipath?.map((h) => `${h.gateway}*${h.weight}`).join(',') ?? '',
        name.get(r.oif ?? 0) ?? '',
        String(r.proto),
        String(r.priority ?? ''),
      ]),
    ]),
  );
}

async function main(): Promise<void> {
  console.log(`netstate demo: building a lab in namespace ${NS} (removed at the end)`);
  createNetns(NS);
  const nl = await Rtnl.open({ netns: NS });
  try {
    await nl.link('set', { ifname: 'lo', state: 'up' });
    await nl.link('add', { ifname: 'br0', kind: 'bridge' });
    await nl.link('add', { ifname: 'h1', kind: 'veth', peer: 'h1-br' });
    await nl.link('add', { ifname: 'h2', kind: 'veth', peer: 'h2-br' });
    for (const port of ['h1-br', 'h2-br']) await nl.link('set', { ifname: port, master: 'br0', state: 'up' });
    for (const dev of ['br0', 'h1', 'h2']) await nl.link('set', { ifname: dev, state: 'up' });
    await nl.addr('add', { ifname: 'h1', address: '10.0.0.1/24' });
    await nl.addr('add', { ifname: 'h2', address: '10.0.0.2/24' });
    await nl.route('add', { dst: '10.1.0.0/16', gateway: '10.0.0.2', table: 100, metric: 10 });
    await nl.route('add', {
      dst: '10.2.0.0/16',
      multipath: [
        { gateway: '10.0.0.2', weight: 1 },
        { gateway: '10.0.0.3', weight: 2 },
      ],
    });
    await nl.rule('add', { src: '10.1.0.0/16', table: 100, priority: 1000 });
    await nl.qdisc('replace', { ifname: 'h1', kind: 'tbf', rate: '10mbit', burst: 32768, latency: '50ms' });

    const results = await nl.batch(
      Array.from({ length: 1000 }, (_, i) => ({
        op: 'route' as const,
        cmd: 'add' as const,
        spec: { dst: `172.16.${i >> 8}.${i & 255}/32`, gateway: '10.0.0.2', table: 200 },
      })),
    );
    console.log(`\nbatch: ${results.filter((r) => r.ok).length} of ${results.length} routes added to table 200 in few sends`);
    console.log(`table 200 now holds ${(await nl.route('dump', { table: 200 })).length} routes`);

    try {
      await nl.route('add', { dst: '10.3.0.0/16', gateway: '192.0.2.1' });
    } catch (e) {
      console.log(`\na refused request reads like this:\n  ${(e as Error).name}: ${(e as Error).message}`);
    }
    await nl.route('del', { dst: '10.2.0.0/16' });
    await show(nl);
  } finally {
    nl.close();
    removeNetns(NS, { missingOk: true });
    console.log(`\nremoved namespace ${NS}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exitCode = 1;
});
