/**
 * The command line on a big table: `netstate show routes` (aligned columns)
 * and `netstate route` (ip's lines) of `count` routes in table main, against
 * `ip route show` in the same namespace and the same run. Each runs as a
 * user runs it, a process of its own, its output to /dev/null; netstate's
 * time includes starting Node and loading the namespace into its store.
 *
 *   node dist/bench/cli-show.js          # alone: CLI_ROUTES=100000 RUNS=3, in its own namespace
 *
 * `npm run bench` runs it too (bench/main.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, removeNetns } from '../src/index.js';

const BIN = join(import.meta.dirname, '../src/cli/main.js');

export interface CliRow {
  what: string;
  netstate: number;
  iproute2: number;
  goal: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Milliseconds a shell command line takes (its output goes where the line says). */
function timed(line: string): number {
  const t = process.hrtime.bigint();
  execFileSync('sh', ['-c', line]);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const lines = (line: string): number => Number(execFileSync('sh', ['-c', `${line} | wc -l`], { encoding: 'utf8' }).trim());

/**
 * Adds `count` routes to table main of `ns` (which has v0 with 10.0.0.1/24
 * up), measures, and removes them again.
 */
export function cliShowRoutes(ns: string, dir: string, count: number, runs: number): CliRow[] {
  const batch = join(dir, 'cli-routes.batch');
  const dst = (i: number) => `13.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`;
  writeFileSync(batch, `${Array.from({ length: count }, (_, i) => `route add ${dst(i)} via 10.0.0.2`).join('\n')}\n`);
  execFileSync('ip', ['-n', ns, '-batch', batch]);
  const ip = `ip -n ${ns} route show`;
  const show = `${process.execPath} ${BIN} -n ${ns} show routes`;
  const route = `${process.execPath} ${BIN} -n ${ns} route`;
  try {
    // The same routes: ip's lines, ours, and our table's rows after its header (IPv4: ip route shows no other).
    const want = lines(ip);
    if (lines(route) !== want || lines(`${process.execPath} ${BIN} -n ${ns} -4 show routes`) !== want + 1) {
      throw new Error('netstate and ip printed different numbers of routes');
    }
    const times = { ip: [] as number[], show: [] as number[], route: [] as number[] };
    for (let run = 0; run < runs; run++) {
      times.ip.push(timed(`${ip} > /dev/null`));
      times.show.push(timed(`${show} > /dev/null`));
      times.route.push(timed(`${route} > /dev/null`));
    }
    return [
      {
        what: `netstate show routes, ${count} routes (vs ip route show)`,
        netstate: median(times.show),
        iproute2: median(times.ip),
        goal: '(linear)',
      },
      {
        what: `netstate route, ${count} routes (vs ip route show)`,
        netstate: median(times.route),
        iproute2: median(times.ip),
        goal: '(linear)',
      },
    ];
  } finally {
    execFileSync('ip', ['-n', ns, 'route', 'flush', 'table', 'main', 'proto', 'boot']);
  }
}

/** Alone: its own namespace and directory, removed after. */
async function main(): Promise<void> {
  const ns = `nst-bench-cli-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'netstate-bench-cli-'));
  createNetns(ns);
  try {
    for (const c of ['link add v0 type veth peer name v1', 'link set v0 up', 'link set v1 up', 'addr add 10.0.0.1/24 dev v0']) {
      execFileSync('ip', ['-n', ns, ...c.split(' ')]);
    }
    const count = Number(process.env.CLI_ROUTES ?? 100_000);
    for (const r of cliShowRoutes(ns, dir, count, Number(process.env.RUNS ?? 3))) {
      console.log(
        `${r.what.padEnd(50)}  ${r.netstate.toFixed(0).padStart(6)} ms  ${r.iproute2.toFixed(0).padStart(6)} ms  ${(r.netstate / r.iproute2).toFixed(2)}`,
      );
    }
  } finally {
    removeNetns(ns, { missingOk: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
