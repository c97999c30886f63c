/**
 * `netstate link|addr|route|neigh|rule`: the same lines `ip` prints for the
 * same words (iproute2 as the independent reader), the same records in
 * --json as `ip -j` gives, table names from rt_tables, multipath nexthops
 * with their devices and weights.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { BIN, ipText, netstate, netstateOk, records, runCommand } from '../../helpers/cli.js';
import { basicLab, ipAll } from '../../helpers/lab.js';
import { ipJson, noDad, useNetns } from '../../helpers/netns.js';

const ns = useNetns();

/** basicLab, a second link, a multipath route of each family, rules, a blackhole and a link-scope route. */
function lab(name: string): void {
  noDad(name);
  basicLab(name);
  ipAll(name, [
    'link add v2 type veth peer name v3',
    'link set v2 up',
    'link set v3 up',
    'addr add 10.0.1.1/24 dev v2',
    'route add 10.7.0.0/16 proto static nexthop via 10.0.0.2 dev v0 weight 1 nexthop via 10.0.1.2 dev v2 weight 3',
    '-6 route add 2001:db8:7::/48 nexthop via 2001:db8::2 dev v0 weight 2 nexthop via 2001:db8::3 dev v0',
    'rule add from 10.0.0.0/8 table 100 pref 100',
    'rule add fwmark 0x10/0xff iif v0 lookup main pref 200',
    'route add blackhole 10.66.0.0/16 metric 5',
    'route add 10.65.0.0/16 dev v0 scope link src 10.0.0.1',
    'route add 10.64.0.0/16 via 10.0.0.2 table local',
  ]);
}

beforeEach(() => lab(ns.name));

/** ip's text without what the store does not keep (the qdisc), as records in a stable order. */
const ipRecords = (args: string[]): string[] => records(ipText(ns.name, ...args).replace(/ qdisc \S+/g, ''));

describe('netstate link|addr|route|neigh|rule print what ip prints', () => {
  // Each row: the words given to both. The output is compared record by record (order aside: the store's order is not the kernel's).
  const FORMS = [
    'link',
    'link show v2',
    'addr',
    '-4 addr',
    'route',
    'route show table all',
    'route show table 100',
    'route show dev v0',
    'route show table all proto kernel scope host',
    '-6 route',
    'rule',
    'neigh show dev v0',
  ];

  it('for every show form, line for line', async () => {
    const ours = await Promise.all(FORMS.map((f) => netstateOk('-n', ns.name, ...f.split(' '))));
    FORMS.forEach((form, i) => {
      expect({ form, lines: records(ours[i] as string) }).toEqual({ form, lines: ipRecords(form.split(' ')) });
    });
  });

  it('shows a multipath route with each nexthop, its device and weight, and tables by name', async () => {
    const [route, all] = await Promise.all([
      netstateOk('-n', ns.name, 'route', 'show', '10.7.0.0/16'),
      netstateOk('-n', ns.name, 'r', 'show', 'table', 'all'),
    ]);
    expect(route).toBe(
      '10.7.0.0/16 proto static\n\tnexthop via 10.0.0.2 dev v0 weight 1\n\tnexthop via 10.0.1.2 dev v2 weight 3\n',
    );
    expect(all).toContain('10.64.0.0/16 via 10.0.0.2 dev v0 table local\n');
    expect(all).toContain('10.8.0.0/16 via 10.0.0.2 dev v0 table 100\n');
  });

  it('names a table as rt_tables does, as ip does with the same file', async () => {
    // The file is bind-mounted in a private mount namespace: only these two commands see it.
    const file = join('/tmp', `${ns.name}.rt_tables`);
    writeFileSync(file, '255 local\n254 main\n253 default\n100 vpn\n');
    const script = [
      `mount --bind ${file} /etc/iproute2/rt_tables`,
      `ip -n ${ns.name} route show table all > ${file}.ip`,
      `${process.execPath} ${BIN} -n ${ns.name} route show table all`,
      `${process.execPath} ${BIN} -n ${ns.name} route show table vpn`,
      `${process.execPath} ${BIN} -n ${ns.name} rule`,
      `${process.execPath} ${BIN} -n ${ns.name} show routes --table vpn`,
      `cat ${file}.ip`,
    ].join(' && ');
    const r = await runCommand('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]).finally(() => {
      for (const f of [file, `${file}.ip`]) rmSync(f, { force: true });
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.match(/^10\.8\.0\.0\/16 via 10\.0\.0\.2 dev v0 table vpn ?$/gm)).toHaveLength(2); // ours and ip's
    expect(r.stdout).toContain('\n10.8.0.0/16 via 10.0.0.2 dev v0\n'); // `table vpn` selected it
    expect(r.stdout).toContain('100:\tfrom 10.0.0.0/8 lookup vpn\n');
    expect(r.stdout).toMatch(/^vpn\s+10\.8\.0\.0\/16\s+10\.0\.0\.2\s+v0\s+boot$/m);
  });
});

describe('--json and the filters, checked with ip -j', () => {
  type Rec = Record<string, unknown>;
  const dsts = (rs: Rec[]): string[] => rs.map((r) => String(r.dst)).sort();
  const tableOf = (r: Rec): number =>
    r.table === undefined ? 254 : ({ main: 254, local: 255 }[r.table as string] ?? Number(r.table));
  const each =
    (fn: (r: Rec) => unknown) =>
    (rs: Rec[]): unknown[] =>
      rs.map(fn);
  // Each row: the words (the same for both), what to compare of each of our records, and what of ip's output.
  const CASES: [string, (r: Rec) => unknown, (rs: Rec[]) => unknown[]][] = [
    // ip -j writes a whole address without its length; records keep it (10.0.0.1/32).
    [
      'route show table all',
      (r) => `${String(r.dst).replace(/\/(32|128)$/, '')} ${r.table}`,
      each((r) => `${r.dst} ${tableOf(r)}`),
    ],
    ['route show dev v2', (r) => `${r.dst} ${r.dev}`, each((r) => `${r.dst} v2`)],
    // ip -j addr nests addresses under links.
    [
      '-4 addr',
      (r) => `${r.dev} ${r.local}/${r.prefixlen}`,
      (links) => links.flatMap((l) => (l.addr_info as Rec[]).map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)),
    ],
    ['link', (r) => r.ifname, each((r) => r.ifname)],
    ['neigh', (r) => `${r.dst} ${r.dev} ${r.lladdr}`, each((r) => `${r.dst} ${r.dev} ${r.lladdr}`)],
    ['rule', (r) => r.priority ?? 0, each((r) => r.priority)],
  ];

  it('are plain arrays of records, the same records ip -j gives', async () => {
    const ours = await Promise.all(CASES.map(([words]) => netstateOk('-n', ns.name, '--json', ...words.split(' '))));
    CASES.forEach(([words, mine, theirs], i) => {
      const got = JSON.parse(ours[i] as string) as Rec[];
      expect(Array.isArray(got)).toBe(true);
      const want = theirs(ipJson<Rec[]>(ns.name, ...words.split(' ')));
      expect({ words, records: got.map(mine).sort() }).toEqual({ words, records: [...want].sort() });
    });
  });

  it('a multipath route in JSON has each nexthop with its device and weight', async () => {
    const [route] = JSON.parse(await netstateOk('-n', ns.name, 'route', 'show', '10.7.0.0/16', '-j')) as Rec[];
    expect(route?.multipath).toMatchObject([
      { gateway: '10.0.0.2', dev: 'v0', weight: 1 },
      { gateway: '10.0.1.2', dev: 'v2', weight: 3 },
    ]);
    const [theirs] = ipJson<Rec[]>(ns.name, 'route', 'show', '10.7.0.0/16');
    expect(theirs?.nexthops).toMatchObject([
      { gateway: '10.0.0.2', dev: 'v0', weight: 1 },
      { gateway: '10.0.1.2', dev: 'v2', weight: 3 },
    ]);
  });

  it('-4 and -6 select a family; a device that is not there is a failure (1), -4 with -6 a usage error (2)', async () => {
    const [v4, v6, missing, both] = await Promise.all([
      netstateOk('-n', ns.name, '-4', 'neigh', '-j'),
      netstateOk('-n', ns.name, 'neigh', '-6', '-j'),
      netstate('-n', ns.name, 'route', 'show', 'dev', 'nope'),
      netstate('-n', ns.name, '-4', '-6', 'route'),
    ]);
    expect(dsts(JSON.parse(v4))).toEqual(dsts(ipJson(ns.name, '-4', 'neigh')));
    expect(dsts(JSON.parse(v6))).toEqual(dsts(ipJson(ns.name, '-6', 'neigh')));
    expect(missing).toMatchObject({ status: 1, stderr: `netstate: cannot find device "nope" in ${ns.name}\n` });
    expect(both).toMatchObject({ status: 2, stderr: 'netstate: -4 and -6 exclude each other\n' });
  });
});
