/**
 * `npm start`: the main job end to end, on a lab of its own.
 *
 * 1. examples/labs/demo.yaml (two hosts, a Linux bridge, a BMv2 switch, a
 *    shaped link) comes up as ONE transaction, its review printed first;
 * 2. h1 pings h2 across the bridge and the switch (IPv4 and IPv6), and `tc`
 *    shows the shaping;
 * 3. a lab whose last step fails is rolled back as a whole: `ip netns`
 *    shows nothing of it;
 * 4. a frozen interface: an outside `ip` command removes its address, the
 *    freeze puts it back;
 * 5. the lab's picture is written as SVG;
 * 6. `lab down` removes everything the lab made, and `ip netns`, /proc and
 *    the cgroup tree show that nothing is left.
 *
 * Everything happens in namespaces named after the lab (`demo-PID.h1`); the
 * journal lives in a temporary directory, removed at the end. Without
 * simple_switch_grpc on PATH, the switch is the project's stand-in (it
 * forwards frames between its ports), and the demo says so.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { firstValueFrom, timeout } from 'rxjs';
import { echo } from '../backends/icmp.js';
import { NetState, TransactionError } from '../index.js';
import { renderSvg } from '../runtime/lab/graph.js';
import { leftoversOf } from '../runtime/lab/leftovers.js';
import type { LabModel } from '../runtime/lab/model.js';
import { parseLab } from '../runtime/lab/parse.js';
import { labDown, labUp } from '../runtime/lab/up.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const LAB_FILE = join(ROOT, 'examples/labs/demo.yaml');
const STAND_IN = join(ROOT, 'test/fixtures/bmv2/simple_switch_grpc');
const NAME = `demo-${process.pid}`;
const BAD = `bad-${process.pid}`;

function say(title: string): void {
  console.log(`\n── ${title} ${'─'.repeat(Math.max(0, 70 - title.length))}`);
}

/** A command's output: the independent witness. */
function run(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/** The namespaces `ip netns` lists for a lab (`LAB.NODE`): the independent witness. */
function namespacesOf(lab: string): string[] {
  return run('ip', 'netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0] as string)
    .filter((n) => n.startsWith(`${lab}.`));
}

function loadDemo(): LabModel {
  const text = readFileSync(LAB_FILE, 'utf8').replace(/^name: demo$/m, `name: ${NAME}`);
  return parseLab(text, { file: LAB_FILE }).model;
}

/** A lab whose second host's command fails: the whole lab must be rolled back. */
function badLab(): LabModel {
  const text = `
name: ${BAD}
topology:
  nodes:
    a: { kind: host }
    b: { kind: host, exec: ["echo starting; exit 3"] }
  links:
    - endpoints: ["a:eth0", "b:eth0"]
      ipv4: [10.1.0.1/24, 10.1.0.2/24]
`;
  return parseLab(text).model;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'netstate-demo-'));
  const journal = join(dir, 'journal.sqlite');
  const real = onPath('simple_switch_grpc');
  const binary = real ?? STAND_IN;
  const model = loadDemo();
  const h1 = (model.nodes.h1 as { namespace: string }).namespace;
  const h2 = (model.nodes.h2 as { namespace: string }).namespace;
  let up = false;
  try {
    say(`1. lab ${NAME} up: ${Object.keys(model.nodes).length} nodes, ${Object.keys(model.links).length} links, one transaction`);
    console.log(
      real
        ? `BMv2: ${real}`
        : `BMv2: simple_switch_grpc is not on PATH; s1 is the project's stand-in (${STAND_IN}), which imitates it at process level and forwards frames between its ports`,
    );
    const result = await labUp(model, {
      journal,
      bmv2Binary: binary,
      file: LAB_FILE,
      onReview: (review) => {
        const counts = Object.entries(review)
          .filter(([, v]) => v && Object.keys(v).length)
          .map(([k, v]) => `${Object.keys(v as object).length} ${k}`);
        console.log(`review (nothing has touched the kernel yet): ${counts.join(', ')}`);
      },
    });
    up = true;
    const report = result.report as { steps: number; ms: number };
    console.log(`committed and confirmed: ${report.steps} steps in ${report.ms.toFixed(0)} ms`);
    console.log(`ip netns: ${namespacesOf(NAME).join(' ')}`);
    console.log(`ip -n ${h1} -br addr show eth0:  ${run('ip', '-n', h1, '-br', 'addr', 'show', 'eth0')}`);

    say('2. h1 pings h2 across the bridge and the switch; the link to h2 is shaped');
    for (const address of ['10.0.0.2', '2001:db8::2']) {
      const ms = await echo(h1, address, { timeout: 5000 });
      console.log(`echo ${address} from ${h1}: reply in ${ms.toFixed(2)} ms`);
    }
    console.log(`tc -n ${h2} qdisc show dev eth0:  ${run('tc', '-n', h2, 'qdisc', 'show', 'dev', 'eth0')}`);

    say('3. a lab whose last step fails is rolled back as a whole');
    try {
      await labUp(badLab(), { journal });
      console.log('the bad lab came up: it should not have');
      process.exitCode = 1;
    } catch (e) {
      const err = e as TransactionError;
      console.log(`refused: ${err.message.split('\n')[0]}`);
      if (e instanceof TransactionError)
        console.log(`rolled back ${err.rolledBack.length} steps, not rolled back: ${err.notRolledBack.length}`);
    }
    const left = namespacesOf(BAD);
    console.log(`ip netns shows of ${BAD}: ${left.length ? left.join(' ') : 'nothing'}`);
    if (left.length) process.exitCode = 1;

    say('4. freeze: an outside change is reverted as its event arrives');
    const db = await NetState.open({ netns: [h1], journal });
    try {
      const frozen = db.interfaces.freeze('eth0', { netns: h1 });
      const reverted = firstValueFrom(frozen.reverts$.pipe(timeout(5000)));
      console.log(`outside: ip -n ${h1} addr del 10.0.0.1/24 dev eth0`);
      run('ip', '-n', h1, 'addr', 'del', '10.0.0.1/24', 'dev', 'eth0');
      const revert = await reverted;
      await frozen.settled();
      console.log(`reverted by: ${revert.applied.join('; ')}`);
      console.log(`now: ${run('ip', '-n', h1, '-br', '-4', 'addr', 'show', 'eth0')}`);
      frozen.release();
    } finally {
      await db.close();
    }

    say('5. the picture of the lab');
    const svg = join(tmpdir(), `${NAME}.svg`);
    writeFileSync(svg, await renderSvg(model));
    console.log(`written: ${svg}`);
  } finally {
    say(`6. lab ${NAME} down`);
    if (up || namespacesOf(NAME).length) {
      const down = await labDown(NAME, { journal });
      console.log(`removed: ${down.removed.join(', ')}`);
    }
    const l = leftoversOf(NAME);
    const left = [...namespacesOf(NAME), ...l.namespaces, ...l.cgroups, ...l.processes.map(String)];
    console.log(`left behind (ip netns, /sys/fs/cgroup, /proc): ${left.length ? left.join(' ') : 'nothing'}`);
    if (left.length) process.exitCode = 1;
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
