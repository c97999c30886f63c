/**
 * `npm run bench`: netstate against iproute2, measured in the same run on the
 * same kernel, inside a throwaway namespace. Prints figures; asserts nothing.
 *
 *   ROUTES=100000 RUNS=3 npm run bench
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BatchRequest, createNetns, Rtnl, removeNetns } from '../src/index.js';

const ROUTES = Number(process.env.ROUTES ?? 100_000);
const RUNS = Number(process.env.RUNS ?? 3);
const NS = `nst-bench-${process.pid}`;
const TABLE = 100;

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function dst(i: number): string {
  return `11.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`;
}

function flush(): void {
  // The table does not exist until its first route: nothing to flush then.
  execFileSync('sh', ['-c', `ip -n ${NS} route flush table ${TABLE} 2>/dev/null || true`]);
}

function countRoutes(): number {
  return Number(execFileSync('sh', ['-c', `ip -n ${NS} route show table ${TABLE} | wc -l`], { encoding: 'utf8' }).trim());
}

interface Row {
  what: string;
  netstate: number;
  iproute2: number;
  goal: string;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'netstate-bench-'));
  createNetns(NS);
  const nl = await Rtnl.open({ netns: NS });
  const rows: Row[] = [];
  try {
    await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
    await nl.link('set', { ifname: 'v0', state: 'up' });
    await nl.link('set', { ifname: 'v1', state: 'up' });
    await nl.addr('add', { ifname: 'v0', address: '10.0.0.1/24' });

    const batchFile = join(dir, 'routes.batch');
    writeFileSync(
      batchFile,
      `${Array.from({ length: ROUTES }, (_, i) => `route add ${dst(i)} via 10.0.0.2 table ${TABLE}`).join('\n')}\n`,
    );
    const requests: BatchRequest[] = Array.from({ length: ROUTES }, (_, i) => ({
      op: 'route',
      cmd: 'add',
      spec: { dst: dst(i), gateway: '10.0.0.2', table: TABLE },
    }));

    // 1. Adding routes: Rtnl.batch vs ip -batch.
    const ipAdd: number[] = [];
    const ourAdd: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      flush();
      let t = process.hrtime.bigint();
      execFileSync('ip', ['-n', NS, '-batch', batchFile]);
      ipAdd.push(ms(t));
      flush();
      t = process.hrtime.bigint();
      const results = await nl.batch(requests);
      ourAdd.push(ms(t));
      const failed = results.filter((r) => !r.ok).length;
      if (failed) throw new Error(`${failed} batch requests failed`);
    }
    if (countRoutes() !== ROUTES) throw new Error('route count mismatch after batch');
    rows.push({
      what: `add ${ROUTES} routes (batch vs ip -batch)`,
      netstate: median(ourAdd),
      iproute2: median(ipAdd),
      goal: '<= 0.5',
    });

    // 2. Dumping them: route('dump') vs ip -j route show.
    const ipDump: number[] = [];
    const ourDump: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      let t = process.hrtime.bigint();
      const out = execFileSync('ip', ['-n', NS, '-j', 'route', 'show', 'table', String(TABLE)], { maxBuffer: 1 << 30 });
      ipDump.push(ms(t));
      if (out.length < ROUTES) throw new Error('ip printed too little');
      t = process.hrtime.bigint();
      const routes = await nl.route('dump', { table: TABLE });
      ourDump.push(ms(t));
      if (routes.length !== ROUTES) throw new Error(`dump returned ${routes.length} routes`);
    }
    rows.push({
      what: `dump ${ROUTES} routes (route('dump') vs ip -j route show)`,
      netstate: median(ourDump),
      iproute2: median(ipDump),
      goal: '<= 1.5',
    });
  } finally {
    nl.close();
    removeNetns(NS, { missingOk: true });
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    `netstate bench — ${ROUTES} routes, median of ${RUNS} runs, kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`,
  );
  console.log('');
  const w = Math.max(...rows.map((r) => r.what.length));
  console.log(`${'measure'.padEnd(w)}  netstate ms  iproute2 ms   ratio  goal`);
  for (const r of rows) {
    const ratio = r.netstate / r.iproute2;
    console.log(
      `${r.what.padEnd(w)}  ${r.netstate.toFixed(0).padStart(11)}  ${r.iproute2.toFixed(0).padStart(11)}  ${ratio.toFixed(2).padStart(6)}  ${r.goal}`,
    );
  }
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
