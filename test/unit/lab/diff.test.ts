/**
 * diffLabs: a table of edits to a lab file and the difference each must
 * give; and, on seeded random labs with random edits, the property that
 * applying the difference to the running model gives the desired one (so
 * nothing is missed) while an unchanged lab gives an empty difference.
 */
import { describe, expect, test } from 'vitest';
import { diffLabs, isEmptyDiff, type LabDiff } from '../../../src/runtime/lab/diff.js';
import type { LabInterface, LabModel, LabNode } from '../../../src/runtime/lab/model.js';
import { parseLab } from '../../../src/runtime/lab/parse.js';
import { Random, seedFrom } from '../../helpers/random.js';
import { randomLab } from '../../helpers/random-lab.js';

const BASE = `name: d
topology:
  nodes:
    h1: { sysctls: { net.ipv4.ip_forward: 1 } }
    h2:
      routes: [{ dst: 10.9.0.0/16, via: 10.0.0.1 }]
    s1: { kind: bmv2, no-p4: true }
  links:
    - endpoints: [h1:eth0, h2:eth0]
      ipv4: [10.0.0.1/24, 10.0.0.2/24]
    - endpoints: [h1:eth1, s1:p1]
      impair: { rate: 10mbit }
`;

const model = (text: string) => parseLab(text).model;
/** BASE with `from` replaced by `to`. */
const edit = (from: string, to: string) => {
  expect(BASE).toContain(from);
  return model(BASE.replace(from, to));
};

/** Only the lists that are not empty, by name and with the objects shortened to what identifies them. */
function summary(d: LabDiff): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const put = (key: string, items: string[]) => items.length && (out[key] = items);
  put(
    'addedNodes',
    d.addedNodes.map((n) => n.name),
  );
  put(
    'removedNodes',
    d.removedNodes.map((n) => n.name),
  );
  put(
    'changedNodes',
    d.changedNodes.map(
      (c) =>
        `${c.node}: ${Object.keys(c)
          .filter((k) => k !== 'node')
          .join(',')}`,
    ),
  );
  put(
    'addedLinks',
    d.addedLinks.map((l) => l.id),
  );
  put(
    'removedLinks',
    d.removedLinks.map((l) => l.id),
  );
  put(
    'changedLinks',
    d.changedLinks.map(
      (c) =>
        `${c.link}: ${Object.keys(c)
          .filter((k) => k !== 'link')
          .join(',')}`,
    ),
  );
  put(
    'addedAddresses',
    d.addedAddresses.map((a) => `${a.node}:${a.interface} ${a.address}`),
  );
  put(
    'removedAddresses',
    d.removedAddresses.map((a) => `${a.node}:${a.interface} ${a.address}`),
  );
  put(
    'addedRoutes',
    d.addedRoutes.map((r) => `${r.node} ${r.route.dst} via ${r.route.via}`),
  );
  put(
    'removedRoutes',
    d.removedRoutes.map((r) => `${r.node} ${r.route.dst} via ${r.route.via}`),
  );
  put(
    'impairments',
    d.impairments.map((i) => `${i.node}:${i.interface} ${JSON.stringify(i.before)} -> ${JSON.stringify(i.after)}`),
  );
  return out;
}

describe('diffLabs, edit by edit', () => {
  test('the same lab: nothing', () => {
    expect(isEmptyDiff(diffLabs(model(BASE), model(BASE)))).toBe(true);
  });

  test('endpoints written the other way round: the same link', () => {
    expect(
      isEmptyDiff(
        diffLabs(
          model(BASE),
          edit(
            '[h1:eth0, h2:eth0]\n      ipv4: [10.0.0.1/24, 10.0.0.2/24]',
            '[h2:eth0, h1:eth0]\n      ipv4: [10.0.0.2/24, 10.0.0.1/24]',
          ),
        ),
      ),
    ).toBe(true);
  });

  const rows: [string, () => LabModel, Record<string, string[]>][] = [
    [
      'an address changed',
      () => edit('10.0.0.2/24]', '10.0.0.3/24]'),
      { addedAddresses: ['h2:eth0 10.0.0.3/24'], removedAddresses: ['h2:eth0 10.0.0.2/24'] },
    ],
    [
      'an IPv6 address added',
      () => edit('ipv4: [10.0.0.1/24, 10.0.0.2/24]', 'ipv4: [10.0.0.1/24, 10.0.0.2/24]\n      ipv6: [2001:db8::1/64, null]'),
      { addedAddresses: ['h1:eth0 2001:db8::1/64'] },
    ],
    [
      'a route changed gateway',
      () => edit('via: 10.0.0.1 }', 'via: 10.0.0.7 }'),
      { addedRoutes: ['h2 10.9.0.0/16 via 10.0.0.7'], removedRoutes: ['h2 10.9.0.0/16 via 10.0.0.1'] },
    ],
    [
      'shaping changed',
      () => edit('rate: 10mbit', 'rate: 20mbit'),
      {
        impairments: [
          'h1:eth1 {"rateBitPerSec":10000000} -> {"rateBitPerSec":20000000}',
          's1:p1 {"rateBitPerSec":10000000} -> {"rateBitPerSec":20000000}',
        ],
      },
    ],
    [
      'shaping removed',
      () => edit('\n      impair: { rate: 10mbit }', ''),
      { impairments: ['h1:eth1 {"rateBitPerSec":10000000} -> undefined', 's1:p1 {"rateBitPerSec":10000000} -> undefined'] },
    ],
    [
      'an MTU set',
      () => edit('[h1:eth0, h2:eth0]', '[h1:eth0, h2:eth0]\n      mtu: 9000'),
      { changedLinks: ['h1:eth0--h2:eth0: mtu'] },
    ],
    ['a sysctl changed', () => edit('ip_forward: 1', 'ip_forward: 0'), { changedNodes: ['h1: sysctls'] }],
    ['a limit set', () => edit('h1: {', 'h1: { cpu: 1,'), { changedNodes: ['h1: limits'] }],
    ['exec changed', () => edit('h1: {', 'h1: { exec: ["true"],'), { changedNodes: ['h1: exec'] }],
    [
      'a switch setting changed: restart it',
      () => edit('no-p4: true }', 'no-p4: true, device-id: 9 }'),
      { changedNodes: ['s1: switch'] },
    ],
    [
      'a node added with a link: the switch gets a port (restart)',
      () => model(`${BASE.replace('    s1:', '    h3: {}\n    s1:')}    - endpoints: [h3:eth0, s1:p2]\n`),
      { addedNodes: ['h3'], changedNodes: ['s1: switch'], addedLinks: ['h3:eth0--s1:p2'] },
    ],
    [
      'a node removed: its links go with it',
      () =>
        model(
          BASE.replace('    s1: { kind: bmv2, no-p4: true }\n', '').replace(
            '    - endpoints: [h1:eth1, s1:p1]\n      impair: { rate: 10mbit }\n',
            '',
          ),
        ),
      { removedNodes: ['s1'], removedLinks: ['h1:eth1--s1:p1'] },
    ],
    [
      "a node's kind changed: removed and added again, with its links",
      () => edit('s1: { kind: bmv2, no-p4: true }', 's1: { kind: bridge }'),
      { addedNodes: ['s1'], removedNodes: ['s1'], addedLinks: ['h1:eth1--s1:p1'], removedLinks: ['h1:eth1--s1:p1'] },
    ],
    [
      "an interface renamed: another link (and the switch's port veth is new: restart it)",
      () => edit('[h1:eth1, s1:p1]', '[h1:eth2, s1:p1]'),
      { changedNodes: ['s1: switch'], addedLinks: ['h1:eth2--s1:p1'], removedLinks: ['h1:eth1--s1:p1'] },
    ],
  ];
  test.each(rows)('%s', (_what, desired, want) => {
    expect(summary(diffLabs(model(BASE), desired()))).toEqual(want);
  });

  test('another lab name is another lab', () => {
    expect(() => diffLabs(model(BASE), model(BASE.replace('name: d', 'name: e')))).toThrow(/is not lab "d"/);
  });
});

function ifaceOf(m: LabModel, node: string, name: string): LabInterface {
  const i = m.nodes[node]?.interfaces[name];
  if (!i) throw new Error(`no interface ${node}:${name}`);
  return i;
}

/** Applies `d` to a copy of `running`, taking what is added from `desired`: what a lab runtime would do. */
function apply(running: LabModel, desired: LabModel, d: LabDiff): LabModel {
  const m = structuredClone(running);
  const dropInterface = (node: string, iface: string) => {
    const n = m.nodes[node];
    if (n) delete n.interfaces[iface];
    if (n?.switch) n.switch.ports = Object.fromEntries(Object.entries(n.switch.ports).filter(([, v]) => v !== iface));
  };
  for (const l of d.removedLinks) {
    delete m.links[l.id];
    for (const e of l.endpoints) dropInterface(e.node, e.interface);
  }
  for (const n of d.removedNodes) delete m.nodes[n.name];
  for (const n of d.addedNodes) m.nodes[n.name] = structuredClone(n);
  for (const l of d.addedLinks) {
    m.links[l.id] = structuredClone(l);
    for (const e of l.endpoints) {
      const node = m.nodes[e.node] as LabNode;
      node.interfaces[e.interface] = structuredClone(desired.nodes[e.node]?.interfaces[e.interface] as LabInterface);
    }
  }
  for (const c of d.changedLinks) {
    const link = m.links[c.link];
    if (!link) throw new Error(`changed link ${c.link} is not running`);
    if (c.mtu) {
      if (c.mtu.after === undefined) delete link.mtu;
      else link.mtu = c.mtu.after;
      for (const e of link.endpoints) {
        const i = ifaceOf(m, e.node, e.interface);
        if (c.mtu.after === undefined) delete i.mtu;
        else i.mtu = c.mtu.after;
      }
    }
    for (const mac of c.macs ?? []) {
      const i = ifaceOf(m, mac.node, mac.interface);
      if (mac.after === undefined) delete i.mac;
      else i.mac = mac.after;
    }
  }
  for (const a of d.removedAddresses) {
    const i = ifaceOf(m, a.node, a.interface);
    i.addresses = i.addresses.filter((x) => x !== a.address);
  }
  for (const a of d.addedAddresses) ifaceOf(m, a.node, a.interface).addresses.push(a.address);
  for (const c of d.impairments) {
    const i = ifaceOf(m, c.node, c.interface);
    if (c.after === undefined) delete i.impair;
    else i.impair = c.after;
  }
  for (const r of d.removedRoutes) {
    const n = m.nodes[r.node] as LabNode;
    n.routes = n.routes.filter((x) => JSON.stringify(x) !== JSON.stringify(r.route));
  }
  for (const r of d.addedRoutes) (m.nodes[r.node] as LabNode).routes.push(r.route);
  for (const c of d.changedNodes) {
    const n = m.nodes[c.node] as LabNode;
    for (const s of c.sysctls ?? []) {
      if (s.after === undefined) delete n.sysctls[s.key];
      else n.sysctls[s.key] = s.after;
    }
    if (c.exec) n.exec = c.exec.after;
    if (c.limits) n.limits = c.limits.after;
    if (c.switch) n.switch = c.switch.after;
  }
  return m;
}

/** Order-free form for comparison: records sorted by key, addresses and routes sorted. */
function canonical(m: LabModel): unknown {
  const sortKeys = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  const nodes = Object.values(m.nodes).map((n) => ({
    ...n,
    interfaces: sortKeys(
      Object.fromEntries(Object.entries(n.interfaces).map(([k, i]) => [k, { ...i, addresses: [...i.addresses].sort() }])),
    ),
    routes: n.routes.map((r) => JSON.stringify(r)).sort(),
    sysctls: sortKeys(n.sysctls),
  }));
  const links = Object.values(m.links).map((l) => ({
    ...l,
    endpoints: [...l.endpoints].sort((a, b) => `${a.node}:${a.interface}`.localeCompare(`${b.node}:${b.interface}`)),
  }));
  return {
    name: m.name,
    nodes: sortKeys(Object.fromEntries(nodes.map((n) => [n.name, n]))),
    links: sortKeys(Object.fromEntries(links.map((l) => [l.id, l]))),
  };
}

/** Random edits of a model (it need not stay a valid lab: the diff does not care). */
function randomEdits(r: Random, base: LabModel, count: number): LabModel {
  const m = structuredClone(base);
  const names = () => Object.keys(m.nodes);
  const edits: (() => void)[] = [
    () => {
      const n = m.nodes[r.pick(names())] as LabNode;
      n.sysctls[`net.ipv4.conf.all.arp_ignore`] = String(r.int(0, 2));
    },
    () => {
      const n = m.nodes[r.pick(names())] as LabNode;
      n.limits = r.chance(0.5) ? {} : { cpu: r.pick([0.5, 1]), memoryBytes: 64 * 2 ** 20 };
    },
    () => {
      (m.nodes[r.pick(names())] as LabNode).exec = ['sleep 9'];
    },
    () => {
      const n = m.nodes[r.pick(names())] as LabNode;
      const i = Object.values(n.interfaces)[0];
      if (i) i.addresses = r.chance(0.5) ? [] : [...i.addresses, `192.168.${r.int(0, 255)}.${r.int(1, 254)}/24`];
    },
    () => {
      const n = m.nodes[r.pick(names())] as LabNode;
      const i = Object.values(n.interfaces)[0];
      if (i) i.impair = r.chance(0.3) ? undefined : { rateBitPerSec: r.pick([1e6, 5e6]) };
      if (i && i.impair === undefined) delete i.impair;
    },
    () => {
      const n = m.nodes[r.pick(names())] as LabNode;
      if (n.routes.length && r.chance(0.5)) n.routes.pop();
      else n.routes.push({ dst: `172.31.${r.int(0, 255)}.0/24`, family: 4, via: '10.255.0.1' });
    },
    () => {
      // A lab may have no link left (or none at all): nothing to pick from.
      const ids = Object.keys(m.links);
      if (ids.length === 0) return;
      const l = m.links[r.pick(ids)];
      if (!l) return;
      const mtu = r.chance(0.3) ? undefined : r.pick([1400, 9000]);
      for (const e of l.endpoints) {
        const i = ifaceOf(m, e.node, e.interface);
        if (mtu === undefined) delete i.mtu;
        else i.mtu = mtu;
      }
      if (mtu === undefined) delete l.mtu;
      else l.mtu = mtu;
    },
    () => {
      // Remove a link, and its interfaces (and switch ports).
      // A lab may have no link left (or none at all): nothing to pick from.
      const ids = Object.keys(m.links);
      if (ids.length === 0) return;
      const l = m.links[r.pick(ids)];
      if (!l) return;
      delete m.links[l.id];
      for (const e of l.endpoints) {
        const n = m.nodes[e.node] as LabNode;
        delete n.interfaces[e.interface];
        if (n.switch) n.switch.ports = Object.fromEntries(Object.entries(n.switch.ports).filter(([, v]) => v !== e.interface));
      }
    },
    () => {
      // Remove a node, with its links.
      if (names().length < 2) return;
      const gone = r.pick(names());
      for (const l of Object.values(m.links)) {
        if (!l.endpoints.some((e) => e.node === gone)) continue;
        delete m.links[l.id];
        for (const e of l.endpoints) {
          const n = m.nodes[e.node] as LabNode;
          if (e.node === gone) continue;
          delete n.interfaces[e.interface];
          if (n.switch) n.switch.ports = Object.fromEntries(Object.entries(n.switch.ports).filter(([, v]) => v !== e.interface));
        }
      }
      delete m.nodes[gone];
    },
    () => {
      // A new host linked to an existing node.
      const peer = m.nodes[r.pick(names())] as LabNode;
      const name = `new${r.int(0, 1e6)}`;
      const id = `${name}:eth0--${peer.name}:x${name}`.split('--').sort().join('--');
      m.nodes[name] = {
        name,
        kind: 'host',
        namespace: `${m.name}.${name}`,
        interfaces: {
          eth0: { name: 'eth0', link: id, peer: { node: peer.name, interface: `x${name}` }, addresses: ['10.254.0.1/24'] },
        },
        routes: [],
        sysctls: {},
        exec: [],
        limits: {},
      };
      peer.interfaces[`x${name}`] = { name: `x${name}`, link: id, peer: { node: name, interface: 'eth0' }, addresses: [] };
      m.links[id] = {
        id,
        endpoints: [
          { node: name, interface: 'eth0' },
          { node: peer.name, interface: `x${name}` },
        ],
      };
    },
    () => {
      // A kind change (recreate): a host becomes a bridge.
      const n = Object.values(m.nodes).find((x) => x.kind === 'host');
      if (n) {
        n.kind = 'bridge';
        n.bridge = { device: n.name };
        n.routes = [];
      }
    },
  ];
  for (let i = 0; i < count; i++) r.pick(edits)();
  return m;
}

describe('diffLabs on random labs', () => {
  const seed = seedFrom('LAB_DIFF_SEED', 'lab diffs');
  const r = new Random(seed);
  const cases = Array.from({ length: 30 }, (_, i) => {
    const running = model(randomLab(r, r.int(2, 30), `d${i}`).text);
    return { i, running, desired: randomEdits(r, running, r.int(0, 6)) };
  });

  test.each(cases)(
    `lab $i: applying the diff to the running lab gives the desired one (seed ${seed})`,
    ({ running, desired }) => {
      const d = diffLabs(running, desired);
      expect(canonical(apply(running, desired, d))).toEqual(canonical(desired));
      expect(isEmptyDiff(diffLabs(desired, desired))).toBe(true);
      // And back again.
      expect(canonical(apply(desired, running, diffLabs(desired, running)))).toEqual(canonical(running));
    },
  );
});
