/**
 * Seeded random lab files (hosts, bridges and BMv2 switches on a random
 * connected graph, with addresses, routes, limits, sysctls and shaping),
 * written line by line so that the generator knows where each value is.
 * Each lab comes with the single mutations that break it, each with the
 * line, column and message the validator must report: the positions come
 * from the writer, not from the validator's own locator.
 */
import type { Random } from './random.js';

type Kind = 'host' | 'bridge' | 'bmv2';

interface GenNode {
  name: string;
  kind: Kind;
  next: number;
  v4: { address: string; subnet: string }[];
  explicitDeviceId?: number;
}

interface GenEnd {
  node: GenNode;
  iface: string;
  v4: string[];
  v6: string[];
}

/** One way to break a valid lab: the changed lines and what the validator must then say, where. */
export interface Mutation {
  name: string;
  apply(lines: string[]): string[];
  line: number;
  col: number;
  message: string;
}

export interface RandomLab {
  text: string;
  nodes: string[];
  /** Every address written, as 'a/len'. */
  addresses: string[];
  mutations: Mutation[];
}

/** A valid lab of `size` nodes (2..), with the mutations that each make it invalid at a known place. */
export function randomLab(r: Random, size: number, name: string): RandomLab {
  const nodes: GenNode[] = [];
  const counters: Record<Kind, number> = { host: 0, bridge: 0, bmv2: 0 };
  for (let i = 0; i < size; i++) {
    const kind: Kind = i < 2 ? 'host' : r.chance(0.6) ? 'host' : r.chance(0.5) ? 'bridge' : 'bmv2';
    counters[kind]++;
    const prefix = kind === 'host' ? 'h' : kind === 'bridge' ? 'br' : 's';
    nodes.push({ name: `${prefix}${counters[kind]}`, kind, next: kind === 'host' ? 0 : 1, v4: [] });
  }
  // A spanning tree, then a few more links.
  const pairs: [GenNode, GenNode][] = [];
  for (let i = 1; i < size; i++) pairs.push([nodes[i] as GenNode, nodes[r.int(0, i - 1)] as GenNode]);
  for (let extra = r.int(0, Math.floor(size / 4)); extra > 0; extra--) {
    const [a, b] = r.sample(nodes, 2) as [GenNode, GenNode];
    pairs.push([a, b]);
  }
  const links = pairs.map(([a, b], l) => {
    const net = `10.${l >> 8}.${l & 255}`;
    const six = r.chance(0.5);
    const end = (n: GenNode, host: number): GenEnd => {
      const iface = n.kind === 'host' ? `eth${n.next++}` : `p${n.next++}`;
      const e: GenEnd = { node: n, iface, v4: [], v6: [] };
      if (n.kind === 'host') {
        e.v4.push(`${net}.${host}/24`);
        n.v4.push({ address: `${net}.${host}`, subnet: net });
        if (six) e.v6.push(`2001:db8:${(l + 1).toString(16)}::${host}/64`);
      }
      return e;
    };
    const ends: [GenEnd, GenEnd] = [end(a, 1), end(b, 2)];
    const extended = r.chance(0.15) && ends.some((e) => e.node.kind === 'host');
    if (extended) {
      for (const e of ends) if (e.node.kind === 'host' && r.chance(0.5)) e.v4.push(`${net}.${e === ends[0] ? 3 : 4}/24`);
    }
    const mtu = r.chance(0.2) ? r.pick([1400, 1500, 9000]) : undefined;
    let impair: string | undefined;
    if (r.chance(0.3)) {
      const parts = [`rate: ${r.pick(['1mbit', '10mbit', '100mbit'])}`];
      if (r.chance(0.5)) {
        parts.push(`delay: ${r.pick(['1ms', '10ms'])}`);
        if (r.chance(0.5)) parts.push(`jitter: ${r.pick(['100us', '1ms'])}`);
      }
      if (r.chance(0.3)) parts.push(`loss: ${r.pick(['0.1%', '1%'])}`);
      impair = `{ ${parts.join(', ')} }`;
    }
    return { ends, extended, mtu, impair, mac: extended && r.chance(0.5) };
  });

  const lines: string[] = [];
  const mutations: Mutation[] = [];
  const addresses: string[] = [];
  const add = (text: string): number => lines.push(text); // the 1-based line just written
  const col = (line: number, token: string, from = 0) => (lines[line - 1] as string).indexOf(token, from) + 1;
  /** A mutation replacing `token` (its first place from `from`) on `line` by `by`, reported there (or at column `report`). */
  const swap = (name: string, line: number, token: string, by: string, message: string, from = 0, report?: number) => {
    const at = col(line, token, from);
    mutations.push({
      name,
      line,
      col: report ?? at,
      message,
      apply: (ls) => ls.map((t, i) => (i === line - 1 ? t.slice(0, at - 1) + by + t.slice(at - 1 + token.length) : t)),
    });
  };

  add(`name: ${name}`);
  add('topology:');
  add('  nodes:');
  const deviceIds: { line: number; value: number }[] = [];
  for (const n of nodes) {
    add(`    ${n.name}:`);
    const k = add(`      kind: ${n.kind}`);
    swap('unknown kind', k, n.kind, `${n.kind}x`, 'unknown kind', 8);
    if (n.kind === 'bmv2') {
      add(r.chance(0.5) ? '      no-p4: true' : `      program: build/${n.name}.json`);
      if (r.chance(0.5)) {
        const value = 100 + deviceIds.length * 3;
        const line = add(`      device-id: ${value}`);
        const earlier = deviceIds[0];
        if (earlier)
          swap('device-id twice', line, String(value), String(earlier.value), `device-id ${earlier.value} is already used`, 17);
        deviceIds.push({ line, value });
      }
      if (r.chance(0.3)) add(`      grpc-port: ${50000 + nodes.indexOf(n)}`);
      if (r.chance(0.3)) add(`      thrift-port: ${19000 + nodes.indexOf(n)}`);
    }
    if (r.chance(0.3)) {
      const line = add(`      cpu: ${r.pick([0.25, 0.5, 1, 2])}`);
      swap('cpu zero', line, (lines[line - 1] as string).slice(11), '0', 'cpu is a number', 11);
      swap('unknown key', line, 'cpu', 'cpus', 'unknown field "cpus" (did you mean "cpu"?)', 6);
    }
    if (r.chance(0.3)) {
      const value = r.pick(['64M', '128M', '1G']);
      const line = add(`      memory: ${value}`);
      swap('bad memory', line, value, '12Q', 'not a memory size', 14);
    }
    if (r.chance(0.3)) {
      add('      sysctls:');
      const line = add('        net.ipv4.ip_forward: 1');
      swap('host-wide sysctl', line, 'net.ipv4.ip_forward', 'kernel.pid_max', 'whole host');
    }
    if (r.chance(0.2)) add('      exec: ["sleep 1", "ip link show"]');
    if (n.kind === 'host' && n.v4.length && r.chance(0.5)) {
      add('      routes:');
      const count = r.int(1, 2);
      for (let k = 0; k < count; k++) {
        const gw = r.pick(n.v4);
        const line = add(`        - { dst: 172.${16 + k}.${nodes.indexOf(n) & 255}.0/24, via: ${gw.subnet}.254 }`);
        swap('unreachable gateway', line, `${gw.subnet}.254`, '192.0.2.77', 'is on none of', 30);
      }
    }
  }
  add('  links:');
  const endpointsWritten: { line: number; col: number; text: string; node: GenNode }[] = [];
  links.forEach((link, l) => {
    const texts = link.ends.map((e) => `${e.node.name}:${e.iface}`);
    for (const e of link.ends) addresses.push(...e.v4, ...e.v6);
    if (link.extended) {
      add('    - endpoints:');
      link.ends.forEach((e, i) => {
        const fields = [`node: ${e.node.name}`, `interface: ${e.iface}`];
        if (e.v4.length) fields.push(`ipv4: ${e.v4.length === 1 ? e.v4[0] : `[${e.v4.join(', ')}]`}`);
        if (e.v6.length) fields.push(`ipv6: ${e.v6[0]}`);
        const hex = (b: number) => b.toString(16).padStart(2, '0');
        if (link.mac && e.node.kind === 'host') fields.push(`mac: 02:00:00:0${i}:${hex(l >> 8)}:${hex(l & 255)}`);
        add(`        - { ${fields.join(', ')} }`);
      });
    } else {
      const line = add(`    - endpoints: ["${texts[0]}", "${texts[1]}"]`);
      link.ends.forEach((e, i) => {
        const at = col(line, `"${texts[i]}"`);
        const from = at - 1;
        swap('unknown node', line, `"${e.node.name}:`, `"zz${l}:`, `no node "zz${l}"`, from);
        swap('long interface name', line, `:${e.iface}"`, `:${'x'.repeat(16)}"`, 'longer than 15 bytes', from, at);
        // Only the later use of an interface is reported, and only when it would not make a self-loop.
        const other = link.ends[1 - i] as GenEnd;
        const before = endpointsWritten.find((w) => w.node !== other.node && w.node !== e.node);
        if (before) {
          mutations.push({
            name: 'interface used twice',
            line,
            col: at,
            message: `${before.text} is already an end of the link on line ${before.line}`,
            apply: (ls) => ls.map((t, k) => (k === line - 1 ? t.replace(`"${texts[i]}"`, `"${before.text}"`) : t)),
          });
        }
        endpointsWritten.push({ line, col: at, text: texts[i] as string, node: e.node });
      });
      for (const family of ['v4', 'v6'] as const) {
        const list = link.ends.map((e) => e[family][0]);
        if (list.every((a) => a === undefined)) continue;
        const key = family === 'v4' ? 'ipv4' : 'ipv6';
        const al = add(`      ${key}: [${list.map((a) => a ?? 'null').join(', ')}]`);
        const first = list.find((a) => a !== undefined) as string;
        if (family === 'v4') {
          swap('IPv6 in ipv4', al, first, '2001:db8:ffff::1/64', 'IPv6 address in an ipv4 field');
          const earlier = addresses.find((a) => !a.includes(':') && !link.ends.some((e) => e.v4.includes(a)));
          if (earlier) swap('address twice', al, first, earlier, `${earlier.split('/')[0]} is already on`);
        }
      }
    }
    if (link.mtu !== undefined) {
      const line = add(`      mtu: ${link.mtu}`);
      swap('mtu too small', line, String(link.mtu), '10', 'mtu is an integer in 68..65535');
      swap('unknown link key', line, 'mtu', 'mut', 'unknown field "mut" (did you mean "mtu"?)');
    }
    if (link.impair) {
      const line = add(`      impair: ${link.impair}`);
      const loss = /loss: ([\d.]+%)/.exec(link.impair)?.[1];
      if (loss) swap('loss above 100%', line, loss, '150%', 'a loss is a percentage in 0..100', col(line, 'loss:'));
      const delay = /delay: \w+, /.exec(link.impair)?.[0];
      if (delay && link.impair.includes('jitter')) {
        const without = (lines[line - 1] as string).replace(delay, '');
        mutations.push({
          name: 'jitter without delay',
          line,
          col: without.indexOf('jitter: ') + 'jitter: '.length + 1,
          message: 'jitter varies a delay',
          apply: (ls) => ls.map((t, k) => (k === line - 1 ? without : t)),
        });
      }
    }
  });
  return { text: `${lines.join('\n')}\n`, nodes: nodes.map((n) => n.name), addresses, mutations };
}
