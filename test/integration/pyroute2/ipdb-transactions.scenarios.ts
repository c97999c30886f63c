/**
 * IPDB's transaction scenarios (tests/general/test_ipdb.py): global commits
 * with priorities and rollback, freeze and revert on outside change (from
 * the revision before pyroute2 disabled them), dumps and snapshots.
 */
import { expect } from 'vitest';
import { type NetState, NetStateError, Rtnl, TransactionError } from '../../../src/index.js';
import { ip } from '../../helpers/netns.js';
import { type Ctx, commitWith, dummy, dummySetup, IPDB, IPDB_2019, type Scenario, settle, snapshot } from './harness.js';

const X = `${IPDB}::TestExplicit`;

/** Resolves once `done()` holds, re-checking after each store event; fails after `ms`. */
async function until(db: NetState, what: string, done: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, 100);
      const sub = db.events$.subscribe(() => finish());
      function finish(): void {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve();
      }
    });
  }
}

/** Interface names the store reported as added while `watch` ran. */
function watchAdded(c: Ctx, names: string[]): { seen: Set<string>; stop(): void } {
  const seen = new Set<string>();
  const sub = c.db.events$.subscribe((e) => {
    const n = e.after?.ifname as string | undefined;
    if (e.kind === 'interface' && e.action === 'add' && n && names.includes(n)) seen.add(n);
  });
  return { seen, stop: () => sub.unsubscribe() };
}

export const scenarios: Scenario[] = [
  {
    from: `${X}::test_global_create`,
    steps: [
      {
        commit: (tx) => {
          dummy(tx, 'gca');
          dummy(tx, 'gcb');
        },
        expect: (c) => expect(c.k.linkNames()).toEqual(expect.arrayContaining(['gca', 'gcb'])),
      },
    ],
  },
  {
    from: `${X}::test_global_priorities`,
    note: "IPDB runs higher ipdb_priority first; netstate's order(n) runs lower ranks first: b 15 → order(0), a 10 → order(1), c 5 → order(2). a's multicast MAC fails. When the commit returns (IPDB's watchdogs: within 1 s), the store has seen b made and undone, and never c",
    setup: dummySetup('pa'),
    steps: [
      {
        run: async (c) => {
          const before = snapshot(c.names);
          const watcher = watchAdded(c, ['pb', 'pc']);
          const tx = c.db.begin();
          tx.interface('pa').set({ address: '11:22:33:44:55:66' }).order(1);
          dummy(tx, 'pb').order(0);
          dummy(tx, 'pc').order(2);
          const e = await tx.commit().then(
            () => undefined,
            (x: unknown) => x,
          );
          const seenAtReturn = [...watcher.seen];
          await c.db.sync();
          watcher.stop();
          expect(e).toBeInstanceOf(TransactionError);
          expect((e as TransactionError).message).toMatch(/EADDRNOTAVAIL/);
          expect((e as TransactionError).rolledBack).toEqual(['create veth pb']);
          expect(watcher.seen.has('pb'), 'b was made (and undone)').toBe(true);
          expect(watcher.seen.has('pc'), 'c was never made').toBe(false);
          expect(seenAtReturn, 'what the store had taken in when the failed commit returned').toEqual(['pb']);
          await settle(c.db, c.names);
          expect(snapshot(c.names)).toEqual(before);
        },
      },
    ],
  },
  {
    from: `${X}::_test_global_deps`,
    note: 'disabled in pyroute2 (IPDB failed it); the README says netstate does it: a removed link comes back with its index, MAC, MTU, address, state and the route through it',
    setup: [
      ...dummySetup('gda'),
      'link set gda address 00:11:22:33:44:55',
      'link set gda mtu 1280',
      'addr add 172.16.178.2/24 dev gda',
      'link set gda up',
      'route add 172.16.179.0/24 via 172.16.178.1',
    ],
    steps: [
      {
        fails: (tx) => {
          tx.interface('gda').order(0).remove();
          dummy(tx, 'gdb').up().order(1).set({ address: '11:22:33:44:55:66' });
        },
        expect: (c) => {
          expect(c.k.link('gda')).toMatchObject({ mtu: 1280, address: '00:11:22:33:44:55' });
          expect(c.k.route('172.16.179.0/24')?.gateway).toBe('172.16.178.1');
          expect(c.k.link('gdb')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_global_rollback`,
    note: 'remove a link with a route through it, add a route, create a link with a multicast MAC: all rolled back',
    setup: [
      ...dummySetup('gra'),
      'addr add 172.16.182.2/24 dev gra',
      'link set gra up',
      'route add 172.16.183.0/24 via 172.16.182.1',
    ],
    steps: [
      {
        fails: (tx) => {
          tx.interface('gra').remove();
          tx.addRoute({ dst: '172.16.185.0/24', gateway: '172.16.184.1' });
          dummy(tx, 'grb').set({ mtu: 1500, address: '11:22:33:44:55:66' }).addIp('172.16.184.2/24');
        },
        expect: (c) => {
          expect(c.k.link('gra')).toBeDefined();
          expect(c.k.route('172.16.183.0/24')?.gateway).toBe('172.16.182.1');
          expect(c.k.link('grb')).toBeUndefined();
          expect(c.k.route('172.16.185.0/24')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_global_mixed`,
    note: 'vlan → macvlan (no 8021q here), dummy → veth: routes, links, stacked links and bridge ports in one commit',
    steps: [
      {
        commit: (tx) => {
          tx.addRoute({ dst: '172.18.1.0/24', gateway: '127.0.0.1' });
          tx.addRoute({ dst: '172.18.2.0/24', gateway: '127.0.0.1' });
          dummy(tx, 'gma');
          dummy(tx, 'gmb');
          tx.create({ kind: 'macvlan', ifname: 'gmav100', link: 'gma' });
          tx.create({ kind: 'macvlan', ifname: 'gmbv200', link: 'gmb' });
          tx.create({ kind: 'bridge', ifname: 'gmc' }).addPort('gmav100').addPort('gmbv200');
        },
        expect: (c) => {
          expect(c.k.route('172.18.1.0/24')?.gateway).toBe('127.0.0.1');
          expect(c.k.route('172.18.2.0/24')?.gateway).toBe('127.0.0.1');
          expect([c.k.link('gmav100')?.master, c.k.link('gmbv200')?.master]).toEqual(['gmc', 'gmc']);
        },
      },
      {
        commit: (tx) => {
          tx.route('172.18.1.0/24').remove();
          tx.route('172.18.2.0/24').remove();
        },
        expect: (c) => expect([c.k.route('172.18.1.0/24'), c.k.route('172.18.2.0/24')]).toEqual([undefined, undefined]),
      },
    ],
  },
  {
    from: `${X}::_test_commit_hook_positive`,
    note: 'disabled in pyroute2; a commit hook is a check (tx.check) here: it adds an address itself, through Rtnl, and both addresses stay',
    setup: dummySetup('d0'),
    steps: [
      {
        commit: (tx, c) => {
          tx.interface('d0').addIp('172.16.21.1/24');
          tx.check(async () => {
            const nl = await Rtnl.open({ netns: c.ns });
            try {
              await nl.addr('add', { ifname: 'd0', address: '172.16.22.1/24' });
            } finally {
              nl.close();
            }
            return true;
          });
        },
        expect: (c) => expect(c.k.addrs('d0')).toEqual(expect.arrayContaining(['172.16.21.1/24', '172.16.22.1/24'])),
      },
    ],
  },
  {
    from: `${X}::_test_commit_hook_negative`,
    note: 'disabled in pyroute2; a hook that always fails is a check that throws: the staged address is rolled back',
    setup: dummySetup('d0'),
    steps: [
      {
        fails: (tx) => {
          tx.interface('d0').addIp('172.16.21.1/24');
          tx.check(async () => {
            throw new Error('CBException');
          });
        },
        expect: (c, e) => {
          expect(e.message).toMatch(/CBException/);
          expect(c.k.addrs('d0')).toEqual([]);
        },
      },
    ],
  },
  {
    from: `${IPDB_2019}::TestExplicit::test_freeze`,
    note: 'freeze, a second freeze refused, outside removals reverted; after release the removals stay',
    setup: dummySetup('d0'),
    steps: [
      { commit: (tx) => tx.interface('d0').addIp('172.16.0.1/24').addIp('172.16.1.1/24').up() },
      {
        run: async (c) => {
          const frozen = c.db.interfaces.freeze('d0');
          expect(() => c.db.interfaces.freeze('d0')).toThrow(NetStateError);
          const both = ['172.16.0.1/24', '172.16.1.1/24'];
          for (const a of both) execIp(c, `addr del ${a} dev d0`);
          await until(c.db, 'both addresses back', () => both.every((a) => c.k.addrs('d0').includes(a)) && c.k.up('d0'));
          await frozen.settled();
          frozen.release();
          for (const a of both) execIp(c, `addr del ${a} dev d0`);
          await c.db.sync();
          await until(c.db, 'the removals to stay', () => c.k.addrs('d0').length === 0);
          expect(c.k.up('d0')).toBe(true);
        },
      },
    ],
  },
  {
    from: `${IPDB_2019}::TestExplicit::test_freeze_del`,
    note: 'a frozen link deleted from outside comes back with its addresses, up',
    setup: dummySetup('d0'),
    steps: [
      { commit: (tx) => tx.interface('d0').addIp('172.16.0.1/24').addIp('172.16.1.1/24').up() },
      {
        run: async (c) => {
          const frozen = c.db.interfaces.freeze('d0');
          execIp(c, 'link del d0');
          await until(
            c.db,
            'd0 recreated with its addresses, up',
            () => c.k.up('d0') && ['172.16.0.1/24', '172.16.1.1/24'].every((a) => c.k.addrs('d0').includes(a)),
          );
          await frozen.settled();
          frozen.release();
        },
      },
    ],
  },
  {
    from: `${IPDB_2019}::TestExplicit::test_json_dump`,
    note: "the interface's dump through JSON, the interface removed, another created: loading the dump brings the first back (netstate: db.dump() of the whole state, tx.load())",
    steps: [
      { commit: (tx) => dummy(tx, 'ja').addIp('172.16.0.1/24').up() },
      {
        run: async (c) => {
          const saved = JSON.parse(JSON.stringify(c.db.dump()));
          await commitWith(c.db, (tx) => tx.interface('ja').remove());
          await commitWith(c.db, (tx) => dummy(tx, 'jb'));
          await commitWith(c.db, (tx) => tx.interface('jb').down());
          await commitWith(c.db, (tx) => tx.load(saved));
          expect(c.k.addrs('ja')).toContain('172.16.0.1/24');
          expect(c.k.up('ja')).toBe(true);
          expect(c.k.link('jb')).toBeUndefined();
        },
      },
    ],
  },
  {
    from: `${X}::test_snapshots`,
    note: 'snapshot() is db.dump(), revert() is tx.load(): address, state and name come back',
    setup: dummySetup('d0'),
    steps: [
      { commit: (tx) => tx.interface('d0').addIp('172.16.0.1/24').up() },
      {
        run: async (c) => {
          const saved = c.db.dump();
          await commitWith(c.db, (tx) => tx.interface('d0').delIp('172.16.0.1/24').down());
          await commitWith(c.db, (tx) => tx.interface('d0').set({ ifname: 'sb' }));
          expect(c.k.link('sb')).toBeDefined();
          expect(c.k.link('d0')).toBeUndefined();
          await commitWith(c.db, (tx) => tx.load(saved));
          expect(c.k.link('sb')).toBeUndefined();
          expect(c.k.addrs('d0')).toContain('172.16.0.1/24');
          expect(c.k.up('d0')).toBe(true);
        },
      },
    ],
  },
];

/** An outside change: `ip -n <first namespace> ...`. */
function execIp(c: Ctx, command: string): void {
  ip(c.ns, ...command.split(' '));
}
