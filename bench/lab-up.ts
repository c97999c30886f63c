/**
 * `lab up` and `lab down` of a 50-node lab (25 hosts, each on a bridge of
 * its own, the bridges in a chain) against the same lab made by a shell
 * script of `ip` commands, as lab builders write them today (one `ip netns
 * add` per node, `ip link add ... netns` per link, addresses, ports, up)
 * and removed with `ip netns del`. netstate's figure includes the review,
 * the journal, confirmation through the store, and the registry.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseLab } from '../src/runtime/lab/parse.js';
import { labDown, labUp } from '../src/runtime/lab/up.js';

export interface LabRow {
  what: string;
  netstate: number;
  iproute2: number;
  goal: string;
}

const HOSTS = 25;

function labText(name: string): string {
  const nodes: string[] = [];
  const links: string[] = [];
  for (let i = 0; i < HOSTS; i++) {
    nodes.push(`h${i}: {}`, `b${i}: { kind: bridge }`);
    links.push(`- { endpoints: ["h${i}:eth0", "b${i}:p0"], ipv4: [10.${i}.0.1/24, null] }`);
    if (i > 0) links.push(`- { endpoints: ["b${i - 1}:p1", "b${i}:p2"] }`);
  }
  const indent = (xs: string[]) => xs.map((x) => `    ${x}`).join('\n');
  return `name: ${name}\ntopology:\n  nodes:\n${indent(nodes)}\n  links:\n${indent(links)}\n`;
}

/** The same lab as `ip` commands (namespaces `NAME.NODE` like the lab's). */
function ipScript(name: string): { up: string; down: string } {
  const up: string[] = [];
  const ns = (n: string) => `${name}.${n}`;
  for (let i = 0; i < HOSTS; i++) {
    up.push(`ip netns add ${ns(`h${i}`)}`, `ip netns add ${ns(`b${i}`)}`);
    up.push(`ip -n ${ns(`h${i}`)} link set lo up`, `ip -n ${ns(`b${i}`)} link set lo up`);
    up.push(`ip -n ${ns(`b${i}`)} link add b${i} type bridge`, `ip -n ${ns(`b${i}`)} link set b${i} up`);
  }
  for (let i = 0; i < HOSTS; i++) {
    up.push(`ip -n ${ns(`h${i}`)} link add eth0 type veth peer name p0 netns ${ns(`b${i}`)}`);
    up.push(`ip -n ${ns(`h${i}`)} addr add 10.${i}.0.1/24 dev eth0`, `ip -n ${ns(`h${i}`)} link set eth0 up`);
    up.push(`ip -n ${ns(`b${i}`)} link set p0 master b${i} up`);
    if (i > 0) {
      up.push(`ip -n ${ns(`b${i - 1}`)} link add p1 type veth peer name p2 netns ${ns(`b${i}`)}`);
      up.push(`ip -n ${ns(`b${i - 1}`)} link set p1 master b${i - 1} up`, `ip -n ${ns(`b${i}`)} link set p2 master b${i} up`);
    }
  }
  const down = Array.from({ length: HOSTS }, (_, i) => `ip netns del ${ns(`h${i}`)}; ip netns del ${ns(`b${i}`)}`);
  return { up: up.join('\n'), down: down.join('\n') };
}

const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function labRows(dir: string, runs: number): Promise<LabRow[]> {
  const journal = join(dir, 'lab-journal.sqlite');
  const name = `nst-bl${process.pid % 100000}`;
  const model = parseLab(labText(name)).model;
  const script = ipScript(name);
  const ups: [number[], number[]] = [[], []];
  const downs: [number[], number[]] = [[], []];
  for (let run = 0; run <= runs; run++) {
    let t = process.hrtime.bigint();
    execFileSync('sh', ['-e', '-c', script.up]);
    const ipUp = ms(t);
    t = process.hrtime.bigint();
    execFileSync('sh', ['-c', script.down]);
    const ipDown = ms(t);
    t = process.hrtime.bigint();
    await labUp(model, { journal, timeout: 60_000 });
    const ourUp = ms(t);
    t = process.hrtime.bigint();
    await labDown(name, { journal });
    const ourDown = ms(t);
    // The first run is not measured: compiling the code paths is not the work measured.
    if (run === 0) continue;
    ups[0].push(ourUp);
    ups[1].push(ipUp);
    downs[0].push(ourDown);
    downs[1].push(ipDown);
  }
  return [
    {
      what: `lab up, ${HOSTS * 2} nodes and ${HOSTS * 2 - 1} links (one transaction) vs a script of ip commands`,
      netstate: median(ups[0]),
      iproute2: median(ups[1]),
      goal: 'printed',
    },
    {
      what: 'lab down of it vs ip netns del of each namespace',
      netstate: median(downs[0]),
      iproute2: median(downs[1]),
      goal: 'printed',
    },
  ];
}
