/**
 * Seeded random fault trials. Each trial builds a random lab in two fresh
 * namespaces with iproute2 (links, a bridge with ports, a veth across the
 * namespaces, a macvlan, primary and secondary addresses, routes single-
 * and multipath in two tables, routes with a preferred source, rules of
 * both families, permanent neighbours), stages a random multi-object
 * transaction on it, and makes the kernel refuse exactly one step at a
 * random phase (or a check fail once everything is applied). The rollback
 * must be exact: `ip -j` of both namespaces equal to before (every link
 * attribute, addresses in the kernel's order with their flags, every route
 * and rule, permanent neighbours), nothing in `notRolledBack`, and the store
 * equal to the kernel.
 *
 * The seed is printed; `TRIAL_SEED=<seed>` replays a whole run, and a
 * failing trial names its own seed (`TRIAL_ONLY=<trial seed>` runs it alone).
 */
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { NetState, type Transaction, TransactionError, ValidationError } from '../../../src/index.js';
import { exactView, settledView } from '../../helpers/exact-view.js';
import { expectStoreMatchesKernel } from '../../helpers/kernel-view.js';
import { addNetns, delNetns, freshName } from '../../helpers/netns.js';
import { Random, seedFrom } from '../../helpers/random.js';

const base = seedFrom('TRIAL_SEED', 'fault trials');

/** `ip -n ns -batch -`: a whole lab in one exec. */
function ipBatch(ns: string, lines: string[]): void {
  if (lines.length) execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

function ip(ns: string, ...args: string[]): void {
  execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe' });
}

interface Lab {
  a: string;
  b: string;
  /** Whether the lab has these (the random lab leaves some out). */
  secondary: boolean;
  bridge: boolean;
  macvlan: boolean;
  cross: boolean;
  ipv6Rule: boolean;
}

/** A random lab: what every trial starts from. */
function buildLab(r: Random, a: string, b: string): Lab {
  const lab: Lab = {
    a,
    b,
    secondary: r.chance(0.6),
    bridge: r.chance(0.7),
    macvlan: r.chance(0.5),
    cross: r.chance(0.7),
    ipv6Rule: r.chance(0.5),
  };
  const A = [
    'link add v0 type veth peer name v1',
    `link set v0 mtu ${r.pick([1500, 1400, 9000])}`,
    'link set v0 up',
    'link set v1 up',
    'addr add 10.0.0.1/24 dev v0',
    'addr add 2001:db8::1/64 dev v0 nodad',
    'addr add 10.0.2.1/24 dev v1',
    'route add 10.9.0.0/16 via 10.0.0.2',
    `route add 10.8.0.0/16 via 10.0.0.2 table 100 metric ${r.int(0, 50)}`,
    'route add 10.10.0.0/16 nexthop via 10.0.0.2 weight 1 nexthop via 10.0.0.3 weight 2',
    'route add 2001:db8:9::/48 via 2001:db8::2',
    'route add 10.12.0.0/16 via 10.0.2.2',
    `rule add from 10.5.0.0/16 lookup 100 priority ${r.int(700, 800)}`,
    'neigh add 10.0.0.7 lladdr 02:00:00:00:00:07 dev v0',
  ];
  if (lab.secondary) {
    A.push('addr add 10.0.0.5/24 dev v0', 'route add 10.11.0.0/16 via 10.0.0.2 src 10.0.0.5');
    if (r.chance(0.5)) A.push('addr add 10.0.0.6/24 dev v0');
  }
  if (lab.bridge) {
    A.push(
      'link add br0 type bridge',
      'link add p0 type veth peer name p1',
      'link set p0 master br0',
      'link set p0 up',
      'link set p1 up',
      'link set br0 up',
      'addr add 10.0.50.1/24 dev br0',
    );
    if (r.chance(0.5)) A.push('link set dev p0 type bridge_slave cost 7 learning off');
  }
  if (lab.macvlan) A.push('link add m0 link v0 type macvlan mode bridge', 'addr add 10.0.40.1/24 dev m0', 'link set m0 up');

  if (r.chance(0.4)) A.push('link add q0 type veth peer name q1', 'link set q0 alias old-alias');
  ipBatch(a, A);
  if (lab.ipv6Rule) ip(a, '-6', 'rule', 'add', 'from', '2001:db8:5::/48', 'lookup', '200', 'priority', '600');
  if (lab.cross) {
    ip(a, 'link', 'add', 'w0', 'type', 'veth', 'peer', 'name', 'w1', 'netns', b);
    ipBatch(a, ['link set w0 up', 'addr add 10.0.60.1/24 dev w0']);
    ipBatch(b, ['link set w1 up', 'addr add 10.0.60.2/24 dev w1', 'route add 10.61.0.0/16 via 10.0.60.1']);
  }
  return lab;
}

type Op = (tx: Transaction, r: Random, lab: Lab) => void;

/** What a trial may stage: everyday edits, each chosen from what the lab has. */
const OPS: Record<string, Op> = {
  createVeth: (tx, r, lab) => {
    const n = r.int(10, 99);
    const across = lab.cross && r.chance(0.4);
    const h = tx.create({ kind: 'veth', ifname: `n${n}`, peer: across ? { ifname: `o${n}`, netns: lab.b } : `o${n}` });
    if (r.chance(0.6)) h.up();
    if (r.chance(0.6)) h.addIp(`10.${100 + (n % 50)}.0.1/24`);
    if (r.chance(0.3)) h.set({ mtu: 1400 });
  },
  createBridge: (tx, r) => {
    const h = tx.create({ kind: 'bridge', ifname: `b${r.int(10, 99)}` });
    if (r.chance(0.5)) h.addPort('v1');
    if (r.chance(0.5)) h.up();
  },
  setMtu: (tx, r) => tx.interface(r.pick(['v0', 'v1', 'p0'])).set({ mtu: r.pick([1280, 1400, 1450, 1500, 9000]) }),
  setAlias: (tx, r) => tx.interface(r.pick(['v0', 'v1', 'q0', 'p1'])).set({ alias: r.pick(['uplink', '', 'x y']) }),
  setTxqlen: (tx, r) => tx.interface(r.pick(['v0', 'v1'])).set({ txqlen: r.pick([100, 500, 1000, 2000]) }),
  setDown: (tx, r) => tx.interface(r.pick(['v0', 'v1', 'p0', 'br0', 'm0', 'w0'])).down(),
  setUp: (tx, r) => tx.interface(r.pick(['q0', 'q1', 'v0'])).up(),
  addIp: (tx, r) =>
    tx.interface(r.pick(['v0', 'v1', 'm0'])).addIp(r.pick(['10.0.0.9/24', '10.0.3.1/24', '10.0.0.10/24', '2001:db8:1::1/64'])),
  delIp: (tx, r) => tx.interface('v0').delIp(r.pick(['10.0.0.1/24', '10.0.0.5/24', '10.0.0.6/24', '2001:db8::1/64'])),
  delIpFilter: (tx, r) => tx.interface(r.pick(['v0', 'v1'])).delIp({ family: r.pick(['inet', 'inet6'] as const) }),
  swapIp: (tx, r) => {
    const h = tx.interface(r.pick(['v1', 'v0']));
    h.addIp(r.pick(['10.0.2.9/24', '10.0.7.1/24'])).delIp(r.pick(['10.0.2.1/24', '10.0.0.1/24']));
  },
  move: (tx, _r, lab) => tx.interface('q1').set({ netns: lab.b }),
  addRoute: (tx, r) =>
    tx.addRoute(
      r.pick([
        { dst: '10.20.0.0/16', gateway: '10.0.0.2' },
        { dst: '10.21.0.0/16', dev: 'v0', table: 100 },
        { dst: '2001:db8:20::/48', gateway: '2001:db8::2', priority: 0 },
        { dst: '10.22.0.0/16', gateway: '10.0.2.2', priority: 20 },
      ]),
    ),
  removeRoute: (tx, r) => tx.route(r.pick(['10.9.0.0/16', '10.12.0.0/16', '10.10.0.0/16'])).remove(),
  changeGateway: (tx, r) => tx.route('10.9.0.0/16').set({ gateway: r.pick(['10.0.0.3', '10.0.0.4']) }),
  changePriority: (tx, r) => tx.route('10.12.0.0/16').set({ priority: r.int(1, 9) }),
  multipath: (tx, r) => {
    if (r.chance(0.5)) tx.route('10.10.0.0/16').addNh({ gateway: '10.0.0.4', weight: 3 });
    else tx.route('10.10.0.0/16').delNh({ gateway: '10.0.0.3' });
  },
  addRule: (tx, r) =>
    tx.addRule(
      r.pick([
        { src: '10.6.0.0/16', table: 100, priority: 900 },
        { priority: 910, action: 'blackhole' },
        { family: 'inet6', src: '2001:db8:6::/48', table: 100, priority: 920 },
        { fwmark: 7, table: 100, priority: 930 },
      ]),
    ),
  removeRule: (tx, r) => tx.removeRule(r.pick([{ src: '10.5.0.0/16' }, { family: 'inet6', priority: 600 }])),
  addNeighbour: (tx, r) => tx.addNeighbour({ ifname: 'v0', dst: r.pick(['10.0.0.8', '10.0.0.7']), lladdr: '02:00:00:00:00:08' }),
  removeNeighbour: (tx) => tx.removeNeighbour({ ifname: 'v0', dst: '10.0.0.7' }),
  removeLink: (tx, r) => tx.interface(r.pick(['m0', 'br0', 'p1', 'w0', 'q0'])).remove(),
  portOptions: (tx, r) => tx.interface('p0').set({ brport_cost: r.int(1, 100), brport_learning: r.chance(0.5) }),
  detachPort: (tx) => tx.interface('br0').delPort('p0'),
  rename: (tx, r) => tx.interface(r.pick(['q0', 'v1'])).set({ ifname: `r${r.int(0, 9)}` }),
};

interface Fault {
  name: string;
  /** Staged after the random operations. */
  stage: (tx: Transaction, lab: Lab) => void;
  /** An outside change after staging, before the commit (not ours to undo). */
  meanwhile?: (lab: Lab) => void;
}

/** One real refusal per trial, at a phase of its own. */
const FAULTS: Fault[] = [
  { name: 'creation: a kind this kernel lacks', stage: (tx) => tx.create({ kind: 'dummy', ifname: 'd0' }) },
  { name: 'attributes: an MTU a veth cannot take', stage: (tx) => tx.interface('v1').set({ mtu: 70000 }) },
  {
    name: 'addresses: one added meanwhile',
    stage: (tx) => tx.interface('v1').addIp('10.0.99.1/24'),
    meanwhile: (lab) => ip(lab.a, 'addr', 'add', '10.0.99.1/24', 'dev', 'v1'),
  },
  { name: 'routes: an unreachable gateway', stage: (tx) => tx.addRoute({ dst: '10.55.0.0/16', gateway: '192.0.2.1' }) },
  {
    name: 'rules: one added meanwhile',
    stage: (tx) => tx.addRule({ src: '10.56.0.0/16', table: 100, priority: 990 }),
    meanwhile: (lab) => ip(lab.a, 'rule', 'add', 'from', '10.56.0.0/16', 'table', '100', 'priority', '990'),
  },
  {
    name: 'neighbours: permanent without a link-layer address',
    stage: (tx) => tx.addNeighbour({ ifname: 'v0', dst: '10.0.0.99' }),
  },
  { name: 'a check that fails once everything is applied', stage: (tx) => tx.check(async () => false) },
];

/** Defines `count` trials (part `part` of the run: trial seeds do not overlap between parts). */
export function defineTrials(part: number, count: number): void {
  const only = process.env.TRIAL_ONLY === undefined ? undefined : Number(process.env.TRIAL_ONLY);
  const seeds = only !== undefined ? [only] : Array.from({ length: count }, (_, i) => (base + part * 100_003 + i * 7919) >>> 0);
  for (const seed of seeds) {
    it(`trial ${seed}`, async () => {
      const r = new Random(seed);
      const a = freshName('fa');
      const b = freshName('fb');
      for (const n of [a, b]) {
        addNetns(n);
        // Duplicate address detection makes addresses tentative for a second: a timing, not a state.
        execFileSync('ip', [
          'netns',
          'exec',
          n,
          'sysctl',
          '-qw',
          'net.ipv6.conf.all.accept_dad=0',
          'net.ipv6.conf.default.accept_dad=0',
        ]);
      }
      let db: NetState | undefined;
      const story: string[] = [];
      try {
        const lab = buildLab(r, a, b);
        db = await NetState.open({ netns: [a, b] });
        const tx = db.begin();
        for (const name of r.sample(Object.keys(OPS), r.int(2, 7))) {
          try {
            (OPS[name] as Op)(tx, r, lab);
            story.push(name);
          } catch (e) {
            // The random lab may lack what an operation names: a refusal at staging is right, anything else is not.
            if (!(e instanceof ValidationError)) throw e;
            story.push(`${name} (refused: ${e.message})`);
          }
        }
        const fault = r.pick(FAULTS);
        fault.stage(tx, lab);
        fault.meanwhile?.(lab);
        story.push(`fault: ${fault.name}`);
        const before = await settledView([a, b], db);
        const err = await tx.commit().then(
          () => undefined,
          (e: unknown) => e,
        );
        const context = `trial ${seed} (replay: TRIAL_ONLY=${seed}): ${story.join('; ')}`;
        expect(err, context).toBeInstanceOf(TransactionError);
        expect((err as TransactionError).notRolledBack, `${context}\n${(err as Error).message}`).toEqual([]);
        expect([exactView(a), exactView(b)], `${context}\n${(err as Error).message}`).toEqual(before);
        for (const n of [a, b]) {
          await expectStoreMatchesKernel(db, n).catch((e: Error) => {
            e.message = `${context}: the store differs from the kernel in ${n}\n${e.message}`;
            throw e;
          });
        }
      } finally {
        await db?.close();
        delNetns(a);
        delNetns(b);
      }
    });
  }
}
