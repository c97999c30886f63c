/**
 * `npm run bench`: netstate against iproute2, measured in the same run on the
 * same kernel, inside a throwaway namespace. Prints figures; asserts nothing.
 *
 *   ROUTES=100000 RUNS=3 npm run bench
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BatchRequest,
  createNetns,
  encodeToBuffer,
  FAMILIES,
  NetlinkSocket,
  NetState,
  Rtnl,
  removeNetns,
} from '../src/index.js';
import { Journal } from '../src/transactions/journal.js';
import { cliShowRoutes } from './cli-show.js';
import { labRows } from './lab-up.js';

const ROUTES = Number(process.env.ROUTES ?? 100_000);
/** The full-table load: an Internet routing table is about a million routes. */
const STORE_ROUTES = Number(process.env.STORE_ROUTES ?? 1_000_000);
const LAG_ROUTES = Number(process.env.LAG_ROUTES ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 3);
/** Runs of the transaction with and without the journal (each twice a run). */
const AB_RUNS = Number(process.env.AB_RUNS ?? 8);
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

/** Plain figures (no iproute2 counterpart). */
interface Figure {
  what: string;
  value: string;
  goal: string;
}

/**
 * Time spent in the journal's own calls (the write ahead, the progress
 * marks, the final state): the journal's cost measured directly, not as the
 * difference of two noisy medians. `take` reads and resets the sum;
 * `restore` puts the methods back.
 */
function timeJournal(): { take(): number; restore(): void } {
  let spent = 0;
  const proto = Journal.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const originals = new Map<string, (...a: unknown[]) => unknown>();
  for (const name of ['list', 'begin', 'sent', 'done', 'transition']) {
    const original = proto[name] as (...a: unknown[]) => unknown;
    originals.set(name, original);
    proto[name] = function (this: unknown, ...args: unknown[]) {
      const t = process.hrtime.bigint();
      try {
        return original.apply(this, args);
      } finally {
        spent += ms(t);
      }
    };
  }
  return {
    take: () => {
      const s = spent;
      spent = 0;
      return s;
    },
    restore: () => {
      for (const [name, original] of originals) proto[name] = original;
    },
  };
}

/** A full collection now, when the bench runs with --expose-gc (npm run bench does): no measure pays for an earlier one's garbage. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function storeDst(i: number): string {
  return `12.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`;
}

/** An ip -batch file adding `count` routes via 10.0.0.2 to `table`; returns its path. */
function routeBatch(dir: string, name: string, count: number, table: number, dstOf: (i: number) => string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `${Array.from({ length: count }, (_, i) => `route add ${dstOf(i)} via 10.0.0.2 table ${table}`).join('\n')}\n`,
  );
  return path;
}

const VETHS = 500;

/** ip -batch files creating VETHS veth pairs with an address each, and removing them. */
function vethBatches(dir: string): { create: string; remove: string } {
  const create = join(dir, 'veth.batch');
  const remove = join(dir, 'veth-del.batch');
  const lines: string[] = [];
  for (let i = 0; i < VETHS; i++) {
    lines.push(`link add a${i} type veth peer name b${i}`, `addr add 10.${100 + (i >> 8)}.${i & 255}.1/24 dev a${i}`);
  }
  writeFileSync(create, `${lines.join('\n')}\n`);
  writeFileSync(remove, `${Array.from({ length: VETHS }, (_, i) => `link del a${i}`).join('\n')}\n`);
  return { create, remove };
}

/**
 * 5. Transactions: 100k routes in one commit (confirmation included), 500
 * veth pairs with an address each, and the latency of a one-address commit.
 */
async function transactions(dir: string, rows: Row[], figures: Figure[]): Promise<void> {
  const table = 500;
  const routeFile = routeBatch(dir, 'tx-routes.batch', ROUTES, table, storeDst);
  const { create: vethFile, remove: vethDelFile } = vethBatches(dir);
  const delVeths = (): void => {
    execFileSync('ip', ['-n', NS, '-batch', vethDelFile]);
  };
  const ipRoutes: number[] = [];
  const txRoutes: number[] = [];
  const ipVeths: number[] = [];
  const txVeths: number[] = [];
  const oneAddress: number[] = [];
  const journal = join(dir, 'journal.sqlite');
  const bare: number[] = [];
  const journalWrites: number[] = [];
  const journalTimer = timeJournal();
  // The routes: ip -batch, then the same transaction journaled and without the journal, in turn,
  // each on a store opened for it. The two differ by a few percent, less than runs far apart
  // differ: measured in turn, they are measured under the same conditions. The journal's own
  // calls are timed as well, the figure that does not depend on that noise.
  // Each kind of transaction runs once unmeasured first: the first commit of a kind in a process
  // also pays for compiling its code paths, which ip (compiled C) never does. At least 8 runs:
  // a median of fewer put the two 10% apart either way.
  for (let run = 0; run <= Math.max(RUNS, AB_RUNS); run++) {
    const t = process.hrtime.bigint();
    execFileSync('ip', ['-n', NS, '-batch', routeFile]);
    if (run > 0) ipRoutes.push(ms(t));
    execFileSync('ip', ['-n', NS, 'route', 'flush', 'table', String(table)]);
    const journaled = [journal, txRoutes] as const;
    const plain = [false, bare] as const;
    // Each twice, in both orders: the one that goes second runs slower (the kernel is still
    // freeing the routes flushed before it, and the heap holds the first one's garbage).
    for (const [withJournal, times] of [journaled, plain, plain, journaled]) {
      const store = await NetState.open({ netns: NS, journal: withJournal });
      try {
        await store.sync();
        collectGarbage();
        journalTimer.take();
        const t = process.hrtime.bigint();
        const tx = store.begin();
        for (let i = 0; i < ROUTES; i++) tx.addRoute({ dst: storeDst(i), gateway: '10.0.0.2', table });
        await tx.commit({ timeout: 60_000 });
        if (run > 0) times.push(ms(t));
        if (run > 0 && withJournal) journalWrites.push(journalTimer.take());
      } finally {
        await store.close();
      }
      execFileSync('ip', ['-n', NS, 'route', 'flush', 'table', String(table)]);
    }
  }
  journalTimer.restore();
  const db = await NetState.open({ netns: NS, journal });
  try {
    for (let i = 0; i < 21; i++) {
      const t = process.hrtime.bigint();
      await db.interfaces.edit('v0', (v) => (i % 2 ? v.delIp('10.0.1.1/24') : v.addIp('10.0.1.1/24')));
      oneAddress.push(ms(t));
    }
    for (let run = 0; run <= RUNS; run++) {
      let t = process.hrtime.bigint();
      execFileSync('ip', ['-n', NS, '-batch', vethFile]);
      if (run > 0) ipVeths.push(ms(t));
      delVeths();
      await db.sync();
      t = process.hrtime.bigint();
      const vtx = db.begin();
      for (let i = 0; i < VETHS; i++)
        vtx.create({ kind: 'veth', ifname: `a${i}`, peer: `b${i}` }).addIp(`10.${100 + (i >> 8)}.${i & 255}.1/24`);
      await vtx.commit({ timeout: 60_000 });
      if (run > 0) txVeths.push(ms(t));
      delVeths();
      await db.sync();
    }
  } finally {
    await db.close();
  }
  rows.push({
    what: `one transaction adding ${ROUTES} routes (confirmed, warm, journaled) vs ip -batch`,
    netstate: median(txRoutes),
    iproute2: median(ipRoutes),
    goal: '<= 0.5',
  });
  // What crash safety costs (goal: at most 10% more with the journal).
  rows.push({
    what: `the same transaction without the journal (journal: false) vs with it`,
    netstate: median(bare),
    iproute2: median(txRoutes),
    goal: '>= 0.91',
  });
  figures.push({
    what: `the journal's own calls in that transaction (write ahead, marks, end)`,
    value: `${median(journalWrites).toFixed(0)} ms (${((100 * median(journalWrites)) / median(txRoutes)).toFixed(1)}%)`,
    goal: '<= 10%',
  });
  rows.push({
    what: `one transaction, ${VETHS} veth pairs with an address each (warm), vs ip -batch`,
    netstate: median(txVeths),
    iproute2: median(ipVeths),
    goal: '<= 1.0',
  });
  figures.push({
    what: 'median latency of a one-address commit (confirmed)',
    value: `${median(oneAddress).toFixed(1)} ms`,
    goal: '(printed)',
  });
}

/**
 * 6. Floors: what the pieces of a confirmed route transaction cost on their
 * own, against the same ip -batch. The kernel alone (requests built and
 * encoded before the clock starts, nobody listening); the store alone
 * (taking in the notifications of an ip -batch, after it ended); staging
 * alone. They bound what any design on this store can reach.
 */
async function floors(dir: string, rows: Row[], figures: Figure[]): Promise<void> {
  const table = 600;
  const routeFile = routeBatch(dir, 'floor-routes.batch', ROUTES, table, storeDst);
  const noContext = {
    index: (): Promise<number> => Promise.reject(new Error('no names here')),
    netnsFd: (): number => {
      throw new Error('no namespaces here');
    },
  };
  const PER_SEND = 2048;
  const sock = new NetlinkSocket({ netns: NS });
  const ipAlone: number[] = [];
  const kernelAlone: number[] = [];
  const ipListened: number[] = [];
  const storeAlone: number[] = [];
  const stagingAlone: number[] = [];
  const flushTable = () => execFileSync('ip', ['-n', NS, 'route', 'flush', 'table', String(table)]);
  try {
    for (let run = 0; run < RUNS; run++) {
      let t = process.hrtime.bigint();
      execFileSync('ip', ['-n', NS, '-batch', routeFile]);
      ipAlone.push(ms(t));
      flushTable();

      const sends: { bytes: Buffer; first: number; last: number }[] = [];
      for (let at = 0; at < ROUTES; at += PER_SEND) {
        const n = Math.min(PER_SEND, ROUTES - at);
        const first = sock.nextSeq(n);
        const parts: Buffer[] = [];
        for (let k = 0; k < n; k++) {
          const req = await FAMILIES.route.build('add', { dst: storeDst(at + k), gateway: '10.0.0.2', table }, noContext);
          const flags = k === n - 1 ? req.flags | 4 : req.flags & ~4; // NLM_F_ACK on the last only, as batch() does
          parts.push(encodeToBuffer({ type: req.type, flags, seq: (first + k) >>> 0, body: req.body }));
        }
        sends.push({
          bytes: Buffer.concat(parts), // route requests are 4-byte multiples: no padding between them
          first,
          last: (first + n - 1) >>> 0,
        });
      }
      t = process.hrtime.bigint();
      for (const send of sends) {
        const { errors } = await sock.exchange(send.bytes, send.first, send.last, false);
        if (errors.size) throw new Error(`${errors.size} pre-encoded requests were refused`);
      }
      kernelAlone.push(ms(t));
      flushTable();

      // Room for every notification: this measures taking them in, not recovering from an overrun.
      const db = await NetState.open({ netns: NS, eventBuffer: 256 << 20 });
      try {
        t = process.hrtime.bigint();
        execFileSync('ip', ['-n', NS, '-batch', routeFile]); // blocks: the notifications wait in the socket
        ipListened.push(ms(t));
        t = process.hrtime.bigint();
        await db.sync();
        storeAlone.push(ms(t));
        if (db.resyncCount() !== 0 || db.routes.count({ table }) !== ROUTES) throw new Error('the store missed notifications');
        flushTable();
        await db.sync();
        t = process.hrtime.bigint();
        const tx = db.begin();
        for (let i = 0; i < ROUTES; i++) tx.addRoute({ dst: storeDst(i), gateway: '10.0.0.2', table });
        stagingAlone.push(ms(t));
        tx.drop();
      } finally {
        await db.close();
      }
    }
  } finally {
    sock.close();
  }
  // A store must listen: what listening costs the kernel, for the veth transaction. ip -batch runs
  // beside a store that takes in every notification as it comes, against ip -batch with nobody
  // listening.
  const { create, remove } = vethBatches(dir);
  const vethAlone: number[] = [];
  const vethListened: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let t = process.hrtime.bigint();
    execFileSync('ip', ['-n', NS, '-batch', create]);
    vethAlone.push(ms(t));
    execFileSync('ip', ['-n', NS, '-batch', remove]);
    const db = await NetState.open({ netns: NS });
    try {
      t = process.hrtime.bigint();
      await new Promise<void>((resolve, reject) =>
        execFile('ip', ['-n', NS, '-batch', create], (err) => (err ? reject(err) : resolve())),
      );
      vethListened.push(ms(t));
      execFileSync('ip', ['-n', NS, '-batch', remove]);
      await db.sync();
    } finally {
      await db.close();
    }
  }
  rows.push({
    what: `floor: ip -batch of ${VETHS} veth pairs beside a live store (vs nobody listening)`,
    netstate: median(vethListened),
    iproute2: median(vethAlone),
    goal: '(bound)',
  });
  rows.push({
    what: `floor: the kernel alone, ${ROUTES} pre-encoded route adds (vs ip -batch)`,
    netstate: median(kernelAlone),
    iproute2: median(ipAlone),
    goal: '(bound)',
  });
  rows.push({
    what: `floor: the store taking in their ${ROUTES} notifications (vs ip -batch)`,
    netstate: median(storeAlone),
    iproute2: median(ipListened),
    goal: '(bound)',
  });
  figures.push({
    what: `floor: staging ${ROUTES} routes (tx.addRoute), no commit`,
    value: `${median(stagingAlone).toFixed(0)} ms`,
    goal: '(bound)',
  });
}

/**
 * 3. Loading a full table into the store (in a child process, for its peak
 * RSS) vs `ip -j route show` of the same table.
 */
async function storeLoad(dir: string, rows: Row[], figures: Figure[]): Promise<void> {
  const table = 300;
  const file = routeBatch(dir, 'store.batch', STORE_ROUTES, table, storeDst);
  execFileSync('ip', ['-n', NS, '-batch', file]);
  const ipTimes: number[] = [];
  const ours: { ms: number; rss: number; routes: number }[] = [];
  for (let run = 0; run < RUNS; run++) {
    // ip writes to /dev/null: its own work, not the cost of piping 65 MB of JSON into this process.
    const t = process.hrtime.bigint();
    execFileSync('sh', ['-c', `ip -n ${NS} -j route show table ${table} > /dev/null`]);
    ipTimes.push(ms(t));
    const child = execFileSync('node', [join(import.meta.dirname, 'store-load.js'), NS, String(table)], { encoding: 'utf8' });
    const r = JSON.parse(child);
    if (r.routes !== STORE_ROUTES) throw new Error(`the store loaded ${r.routes} routes, not ${STORE_ROUTES}`);
    ours.push(r);
  }
  rows.push({
    what: `load ${STORE_ROUTES} routes into the store (vs ip -j route show)`,
    netstate: median(ours.map((o) => o.ms)),
    iproute2: median(ipTimes),
    goal: '<= 1.5',
  });
  figures.push({ what: `peak RSS of that load`, value: `${median(ours.map((o) => o.rss)).toFixed(0)} MB`, goal: '<= 300 MB' });
  execFileSync('ip', ['-n', NS, 'route', 'flush', 'table', String(table)]);
}

/**
 * 4. Lag: from the end of an `ip -batch` of external route changes to the
 * moment the store holds all of them.
 */
async function storeLag(dir: string, figures: Figure[]): Promise<void> {
  const table = 400;
  const file = routeBatch(dir, 'lag.batch', LAG_ROUTES, table, storeDst);
  const lags: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const db = await NetState.open({ netns: NS });
    try {
      // Events are applied in order: once the last route is in, all are.
      let storeDone = 0n;
      const all = db.waitFor('route', { dst: storeDst(LAG_ROUTES - 1), table }, { timeout: 60_000 }).then(() => {
        storeDone = process.hrtime.bigint();
      });
      const ipDone = await new Promise<bigint>((resolve, reject) =>
        execFile('ip', ['-n', NS, '-batch', file], (err) => (err ? reject(err) : resolve(process.hrtime.bigint()))),
      );
      await all;
      if (db.routes.count({ table }) !== LAG_ROUTES) throw new Error('the store missed some of the changes');
      // Negative: the store had everything before the exit of ip was even seen.
      lags.push(Number(storeDone - ipDone) / 1e6);
    } finally {
      await db.close();
      execFileSync('ip', ['-n', NS, 'route', 'flush', 'table', String(table)]);
    }
  }
  figures.push({
    what: `lag after ip -batch of ${LAG_ROUTES} route adds until the store has all`,
    value: `${median(lags).toFixed(1)} ms`,
    goal: '< 50 ms',
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'netstate-bench-'));
  // Every store the bench opens keeps its journal here, not in /var/lib/netstate.
  process.env.NETSTATE_JOURNAL = join(dir, 'journal.sqlite');
  createNetns(NS);
  const nl = await Rtnl.open({ netns: NS });
  const rows: Row[] = [];
  const figures: Figure[] = [];
  try {
    await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
    await nl.link('set', { ifname: 'v0', state: 'up' });
    await nl.link('set', { ifname: 'v1', state: 'up' });
    await nl.addr('add', { ifname: 'v0', address: '10.0.0.1/24' });

    const batchFile = routeBatch(dir, 'routes.batch', ROUTES, TABLE, dst);
    const requests: BatchRequest[] = Array.from({ length: ROUTES }, (_, i) => ({
      op: 'route',
      cmd: 'add',
      spec: { dst: dst(i), gateway: '10.0.0.2', table: TABLE },
    }));

    // 0. The command line on a table of ROUTES routes (first: every other table is still empty, and the CLI loads them all).
    rows.push(...cliShowRoutes(NS, dir, ROUTES, RUNS));

    // 1. Adding routes: Rtnl.batch vs ip -batch.
    const ipAdd: number[] = [];
    const ourAdd: number[] = [];
    // One unmeasured run first, as for transactions: compiling the code paths is not the work measured.
    for (let run = 0; run <= RUNS; run++) {
      flush();
      let t = process.hrtime.bigint();
      execFileSync('ip', ['-n', NS, '-batch', batchFile]);
      if (run > 0) ipAdd.push(ms(t));
      flush();
      t = process.hrtime.bigint();
      const results = await nl.batch(requests);
      if (run > 0) ourAdd.push(ms(t));
      const failed = results.filter((r) => !r.ok).length;
      if (failed) throw new Error(`${failed} batch requests failed`);
    }
    if (countRoutes() !== ROUTES) throw new Error('route count mismatch after batch');
    rows.push({
      what: `add ${ROUTES} routes (batch vs ip -batch, warm)`,
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

    await storeLag(dir, figures);
    await transactions(dir, rows, figures);
    await floors(dir, rows, figures);
    if (STORE_ROUTES > 0) await storeLoad(dir, rows, figures);
    rows.push(...(await labRows(dir, RUNS)));
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
  console.log('');
  for (const f of figures) console.log(`${f.what.padEnd(w)}  ${f.value.padStart(11)}  ${f.goal}`);
  console.log(`\npeak RSS of the bench process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
