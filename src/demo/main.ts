/**
 * `npm start`: the main job end to end, in throwaway namespaces.
 *
 * 1. builds a small lab in one transaction (two hosts and a bridge) and
 *    prints the review before committing it;
 * 2. shows a commit that fails half-way and is rolled back, the state
 *    proven unchanged;
 * 3. freezes an interface while an outside `ip` command changes it, and
 *    shows the revert;
 * 4. cleans up.
 */
import { execFileSync } from 'node:child_process';
import { firstValueFrom, timeout } from 'rxjs';
import { showTable } from '../cli/show.js';
import { createNetns, NetState, removeNetns, TransactionError } from '../index.js';

const LAB = `nst-demo-${process.pid}`;
const HOST_A = `${LAB}-a`;
const HOST_B = `${LAB}-b`;

function say(title: string): void {
  console.log(`\n── ${title} ${'─'.repeat(Math.max(0, 70 - title.length))}`);
}

/** What iproute2 says: the independent witness. */
function ipView(ns: string): string {
  return execFileSync(
    'sh',
    ['-c', `ip -n ${ns} -br link; ip -n ${ns} -br -4 addr; ip -n ${ns} -4 route show table all | grep -v '^local\\|^broadcast'`],
    {
      encoding: 'utf8',
    },
  );
}

async function main(): Promise<void> {
  for (const ns of [LAB, HOST_A, HOST_B]) createNetns(ns);
  const db = await NetState.open({ netns: [LAB, HOST_A, HOST_B] });
  try {
    say('1. a lab in one transaction: two hosts and a bridge');
    const tx = db.begin();
    tx.create({ kind: 'bridge', ifname: 'br0' }).up();
    for (const [host, n] of [
      [HOST_A, 1],
      [HOST_B, 2],
    ] as const) {
      // One end in the lab namespace on the bridge, the other in the host.
      tx.create({ kind: 'veth', ifname: `p${n}`, peer: { ifname: 'eth0', netns: host } }).up();
      tx.interface(`p${n}`).set({ master: 'br0' });
      tx.interface('eth0', { netns: host }).up().addIp(`10.0.0.${n}/24`);
      tx.interface('lo', { netns: host }).up();
    }
    tx.addRoute({ netns: HOST_A, dst: '10.9.0.0/16', gateway: '10.0.0.2' });
    console.log('review (nothing has touched the kernel yet):');
    console.log(JSON.stringify(tx.review(), null, 2));
    const report = await tx.commit();
    console.log(`\ncommitted: ${report.steps} steps in ${report.ms.toFixed(0)} ms, confirmed through the store:`);
    console.log(showTable(db, 'links', { netns: LAB }, false));
    console.log(showTable(db, 'routes', { netns: HOST_A, table: 'main' }, false));

    say('2. a commit that fails half-way is rolled back as a whole');
    const before = ipView(HOST_A);
    const bad = db.begin();
    bad.interface('eth0', { netns: HOST_A }).set({ mtu: 1400 }).addIp('10.0.1.1/24');
    bad.create({ kind: 'bridge', ifname: 'br1', netns: HOST_A }).up();
    bad.addRoute({ netns: HOST_A, dst: '10.7.0.0/16', gateway: '192.0.2.1' }); // not reachable: the kernel refuses
    console.log('staged:', Object.keys(bad.review().interfaces).join(', '), '+ route 10.7.0.0/16 via 192.0.2.1');
    try {
      await bad.commit();
    } catch (e) {
      if (!(e instanceof TransactionError)) throw e;
      console.log(`refused: ${e.message}`);
      console.log(`failed step: ${e.step}; kernel: ${e.code} "${e.extack}"`);
      console.log(`rolled back: ${e.rolledBack.join('; ')}`);
    }
    const after = ipView(HOST_A);
    console.log(`ip says the host is exactly as before: ${before === after ? 'yes' : 'NO'}`);
    if (before !== after) process.exitCode = 1;

    say('3. freeze: outside changes are reverted as their events arrive');
    const frozen = db.interfaces.freeze('eth0', { netns: HOST_B });
    frozen.reverts$.subscribe((r) =>
      console.log(`reverted: ${JSON.stringify(r.review)} by ${r.applied.join('; ') || 'nothing'}`),
    );
    const reverted = firstValueFrom(frozen.reverts$.pipe(timeout(5000)));
    console.log(`outside: ip -n ${HOST_B} addr add 10.0.0.99/24 dev eth0; ip link set eth0 down`);
    execFileSync('ip', ['-n', HOST_B, 'addr', 'add', '10.0.0.99/24', 'dev', 'eth0']);
    execFileSync('ip', ['-n', HOST_B, 'link', 'set', 'eth0', 'down']);
    await reverted;
    await db.waitFor('interface', { netns: HOST_B, ifname: 'eth0', state: 'up' });
    await frozen.settled();
    console.log(`now: ${execFileSync('ip', ['-n', HOST_B, '-br', '-4', 'addr', 'show', 'eth0'], { encoding: 'utf8' }).trim()}`);
    frozen.release();
  } finally {
    say('4. clean up');
    await db.close();
    for (const ns of [LAB, HOST_A, HOST_B]) removeNetns(ns, { missingOk: true });
    console.log(`removed ${LAB}, ${HOST_A}, ${HOST_B}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
