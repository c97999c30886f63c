/**
 * The record types say what every record has: each field declared without
 * `?` is in every record of a dump, with the declared JavaScript type, for
 * links of several kinds, addresses of both families, routes, rules,
 * neighbours and qdiscs.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Rtnl } from '../../src/index.js';
import { useNetns } from '../helpers/netns.js';

const ns = useNetns();
let nl: Rtnl;

beforeEach(async () => {
  const ip = (cmd: string) => execFileSync('sh', ['-c', `ip -n ${ns.name} ${cmd}`]);
  for (const cmd of [
    'link add v0 type veth peer name v1',
    'link add br0 type bridge',
    'link set v1 master br0',
    'link add vx0 type vxlan id 5 dstport 4789',
    'link add mv0 link v0 type macvlan mode bridge',
    'link add ifb7 type ifb',
    'link set v0 up',
    'link set br0 up',
    'addr add 10.0.0.1/24 dev v0',
    'addr add 2001:db8::1/64 dev v0 nodad',
    'route add 10.5.0.0/16 via 10.0.0.2',
    'route add blackhole 10.6.0.0/16 table 100',
    'rule add from 10.1.0.0/16 table 100 pref 1000',
    'neigh add 10.0.0.9 lladdr 02:00:00:00:00:09 dev v0',
  ]) {
    ip(cmd);
  }
  execFileSync('ip', [
    'netns',
    'exec',
    ns.name,
    'tc',
    'qdisc',
    'add',
    'dev',
    'v0',
    'root',
    'tbf',
    'rate',
    '1mbit',
    'burst',
    '10kb',
    'latency',
    '50ms',
  ]);
  nl = await Rtnl.open({ netns: ns.name });
});
afterEach(() => nl.close());

type Shape = Record<string, string>;

/** The fields each record type declares without `?`, and their JavaScript types. */
const REQUIRED: [string, () => Promise<Record<string, unknown>[]>, Shape][] = [
  [
    'links',
    () => nl.link('dump'),
    {
      index: 'number',
      ifname: 'string',
      flags: 'number',
      state: 'string',
      ifi_type: 'number',
      operstate: 'string',
      mtu: 'number',
      txqlen: 'number',
      linkmode: 'number',
      group: 'number',
      promiscuity: 'number',
      num_tx_queues: 'number',
      num_rx_queues: 'number',
      carrier: 'number',
      proto_down: 'number',
    },
  ],
  [
    'addresses',
    () => nl.addr('dump'),
    {
      family: 'string',
      index: 'number',
      address: 'string',
      prefixlen: 'number',
      scope: 'string',
      flags: 'number',
      valid_lft: 'number',
      preferred_lft: 'number',
    },
  ],
  [
    'routes',
    () => nl.route('dump'),
    {
      family: 'string',
      dst: 'string',
      table: 'number',
      tos: 'number',
      type: 'string',
      proto: 'string',
      scope: 'string',
      flags: 'number',
    },
  ],
  [
    'rules',
    () => nl.rule('dump'),
    {
      family: 'string',
      table: 'number',
      action: 'string',
      proto: 'string',
      suppress_prefixlen: 'number',
      tos: 'number',
      flags: 'number',
    },
  ],
  [
    'neighbours',
    () => nl.neigh('dump'),
    { family: 'string', ifindex: 'number', state: 'string', flags: 'number', ndm_type: 'number' },
  ],
  ['qdiscs', () => nl.qdisc('dump'), { index: 'number', kind: 'string', handle: 'string', parent: 'string' }],
];

describe('record types', () => {
  it.each(REQUIRED)('every one of the %s has the fields its type requires', async (_what, dump, shape) => {
    const records = await dump();
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      const got = Object.fromEntries(Object.keys(shape).map((k) => [k, typeof r[k]]));
      expect(got).toEqual(shape);
    }
  });

  it('a state is up or down, and an MTU is a number, as LinkRecord says', async () => {
    const v0 = await nl.link('get', { ifname: 'v0' });
    expect(v0?.state).toBe('up');
    expect(v0?.mtu).toBe(1500);
    expect(v0?.kind).toBe('veth');
  });
});
