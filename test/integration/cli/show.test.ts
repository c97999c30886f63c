/** `netstate show`: aligned columns with names (tables, devices), a row per nexthop, filters, several namespaces. */
import { describe, expect, it } from 'vitest';
import { netstate, netstateOk } from '../../helpers/cli.js';
import { basicLab, ipAll } from '../../helpers/lab.js';
import { ipJson, useNetns } from '../../helpers/netns.js';

const ns = useNetns(2);

describe('netstate show', () => {
  it('prints aligned columns, tables by name, a multipath route with a row per nexthop', async () => {
    basicLab(ns.name);
    ipAll(ns.name, [
      'link add v2 type veth peer name v3',
      'link set v2 up',
      'link set v3 up',
      'addr add 10.0.1.1/24 dev v2',
      'route add 10.7.0.0/16 nexthop via 10.0.0.2 dev v0 weight 1 nexthop via 10.0.1.2 dev v2 weight 3',
    ]);
    const out = (await netstateOk('show', 'routes', '--netns', ns.name)).split('\n');
    expect(out[0]).toMatch(/^table\s+type\s+dst\s+gateway\s+dev\s+weight\s+proto\s+scope\s+metric\s+src\s+flags$/);
    const at = out.findIndex((l) => l.includes('10.7.0.0/16'));
    expect(out.slice(at, at + 3).map((l) => l.trim().split(/\s+/))).toEqual([
      ['main', '10.7.0.0/16', 'boot'],
      ['10.0.0.2', 'v0', '1'],
      ['10.0.1.2', 'v2', '3'],
    ]);
    expect(out.find((l) => l.includes('10.9.0.0/16'))?.split(/\s+/)).toEqual(['main', '10.9.0.0/16', '10.0.0.2', 'v0', 'boot']);
    // Columns line up: every row's cells start where their header's do.
    for (const header of ['dst', 'gateway', 'dev', 'weight', 'proto']) {
      const col = (out[0] as string).indexOf(header);
      for (const l of out.slice(1).filter((l) => l.length > col)) expect([header, l[col - 1]]).toEqual([header, ' ']);
    }
  });

  it('--table, --dev, -6 and --json select records, as ip -j sees them', async () => {
    basicLab(ns.name);
    const [table100, dev, v6, all] = await Promise.all([
      netstateOk('show', 'routes', '-n', ns.name, '--table', '100', '--json'),
      netstateOk('show', 'addresses', '-n', ns.name, '--dev', 'v0', '-4', '-j'),
      netstateOk('-6', 'show', 'routes', '-n', ns.name, '-j'),
      netstateOk('show', 'routes', '-n', ns.name, '-t', 'all'),
    ]);
    const dsts = (rs: { dst: string }[]) => rs.map((r) => r.dst).sort();
    expect(dsts(JSON.parse(table100))).toEqual(dsts(ipJson(ns.name, 'route', 'show', 'table', '100')));
    expect(JSON.parse(table100)[0]).toMatchObject({ netns: ns.name, table: 100, gateway: '10.0.0.2', dev: 'v0' });
    expect(JSON.parse(dev).map((a: { local: string; dev: string }) => `${a.dev} ${a.local}`)).toEqual(['v0 10.0.0.1']);
    expect(dsts(JSON.parse(v6))).toEqual(dsts(ipJson(ns.name, '-6', 'route')));
    expect(all).toMatch(/^100\s+10\.8\.0\.0\/16\s+10\.0\.0\.2\s+v0\s+boot$/m);
    expect(all).toMatch(/^local\s+local\s+10\.0\.0\.1\/32\s+v0\s+kernel\s+host\s+10\.0\.0\.1$/m);
  });

  it('shows several namespaces with a netns column, every kind', async () => {
    basicLab(ns.names[0] as string);
    const [links, ...rest] = await Promise.all([
      netstateOk('show', 'links', '-n', ns.names[0] as string, '-n', ns.names[1] as string),
      ...['addresses', 'rules', 'neigh'].map((what) => netstate('show', what, '-n', ns.name)),
    ]);
    expect(links.split('\n')[0]).toMatch(/^netns\s+index\s+ifname/);
    expect(links).toMatch(new RegExp(`^${ns.names[1]}\\s+1\\s+lo\\s`, 'm'));
    expect(rest.map((r) => r.status)).toEqual([0, 0, 0]);
    expect(rest[2]?.stdout).toMatch(/^v0\s+10\.0\.0\.7\s+02:00:00:00:00:07\s+PERMANENT$/m);
  });
});
