/**
 * The checks that need the whole lab: an address used twice, link ends in
 * different subnets, MTUs too small for IPv6, routes whose gateway no
 * interface of the node can reach, and switches (P4 program, port numbers,
 * device ids and TCP ports, the CPU port). Duplicates are reported at the
 * use that comes later in the file, naming the line of the earlier one.
 */
import { type Cidr, inSubnet, isLinkLocal, isNetworkOrBroadcast } from './addresses.js';
import { AUTO_DEVICE_ID, AUTO_GRPC_PORT, AUTO_THRIFT_PORT, IPV6_MIN_MTU } from './format.js';
import type { Path } from './locate.js';
import type { Problems } from './problems.js';
import type { InterfaceDraft, LinksRead } from './read-links.js';
import type { NodeDraft } from './read-nodes.js';

/** Occurrences in file order (line, then column). */
function inFileOrder<T extends { path: Path }>(p: Problems, items: T[]): T[] {
  const keyed = items.map((item) => ({ item, at: p.position(item.path) }));
  keyed.sort((a, b) => a.at.line - b.at.line || a.at.col - b.at.col);
  return keyed.map((k) => k.item);
}

/** One address on two interfaces (or twice on one), anywhere in the lab. */
export function checkAddresses(p: Problems, read: LinksRead): void {
  const all = read.links.flatMap((l) => l.ends.flatMap((iface) => iface.addresses.map((a) => ({ ...a, iface }))));
  const seen = new Map<string, (typeof all)[number]>();
  for (const a of inFileOrder(p, all)) {
    const first = seen.get(a.cidr.address);
    if (first) {
      const where = first.iface === a.iface ? 'this interface' : `${first.iface.node}:${first.iface.name}`;
      p.error(
        a.path,
        `${a.cidr.address} is already on ${where} (line ${p.lineOf(first.path)}); an address is used once in a lab`,
      );
      continue;
    }
    seen.set(a.cidr.address, a);
    if (isNetworkOrBroadcast(a.cidr)) {
      p.warning(a.path, `${a.cidr.text} is the network or broadcast address of its subnet, rarely what a host should have`);
    }
  }
  for (const link of read.links) {
    const [x, y] = link.ends;
    for (const family of [4, 6] as const) {
      const ax = x.addresses.filter((a) => a.cidr.family === family && !isLinkLocal(a.cidr));
      const ay = y.addresses.filter((a) => a.cidr.family === family && !isLinkLocal(a.cidr));
      if (!ax.length || !ay.length) continue;
      if (!ax.some((a) => ay.some((b) => inSubnet(b.cidr, a.cidr) && inSubnet(a.cidr, b.cidr)))) {
        p.warning(
          (ay[0] as (typeof ay)[number]).path,
          `the two ends of this link have IPv${family} addresses in different subnets (${ax[0]?.cidr.text}, ${ay[0]?.cidr.text}): they cannot reach each other directly`,
        );
      }
    }
    if (
      link.mtu !== undefined &&
      link.mtu < IPV6_MIN_MTU &&
      link.ends.some((e) => e.addresses.some((a) => a.cidr.family === 6))
    ) {
      p.error(
        [...link.path, 'mtu'],
        `mtu ${link.mtu} is below ${IPV6_MIN_MTU}: the kernel turns IPv6 off on such an interface and drops its IPv6 addresses`,
      );
    }
  }
}

/**
 * A host's routes: `dev` is one of its interfaces; the gateway is on a
 * subnet of one of its interfaces (of `dev` when given) and not its own
 * address (the kernel refuses both with "Nexthop has invalid gateway");
 * one route per destination and metric.
 */
export function checkRoutes(p: Problems, nodes: Map<string, NodeDraft>, read: LinksRead): void {
  for (const node of nodes.values()) {
    const ifaces = read.interfaces.get(node.name) ?? new Map<string, InterfaceDraft>();
    const seen = new Map<string, Path>();
    for (const route of node.fields.routes ?? []) {
      const key = `${route.dst.text} metric ${route.metric ?? 0}`;
      const before = seen.get(key);
      if (before)
        p.error(
          route.path,
          `${node.name} already has a route to ${route.dst.text}${route.metric ? ` with metric ${route.metric}` : ''} (line ${p.lineOf(before)})`,
        );
      else seen.set(key, route.path);
      if (route.dev !== undefined && !ifaces.has(route.dev)) {
        const names = [...ifaces.keys()];
        p.error(
          [...route.path, 'dev'],
          `${node.name} has no interface "${route.dev}"${names.length ? ` (it has ${names.join(', ')})` : ''}`,
        );
        continue;
      }
      if (!route.via) continue;
      const via = route.via;
      const on = route.dev !== undefined ? [ifaces.get(route.dev) as InterfaceDraft] : [...ifaces.values()];
      const mine: Cidr[] = on.flatMap((i) => i.addresses.map((a) => a.cidr));
      if (mine.some((a) => a.address === via.address)) {
        p.error([...route.path, 'via'], `${via.address} is ${node.name}'s own address, not a gateway`);
      } else if (isLinkLocal(via)) {
        if (route.dev === undefined)
          p.error([...route.path, 'via'], `${via.address} is link-local: say which interface it is on with dev`);
      } else if (!mine.some((a) => inSubnet(via, a))) {
        const where = route.dev !== undefined ? `${node.name}:${route.dev}` : node.name;
        const subnets = mine.filter((a) => a.family === via.family).map((a) => a.text);
        p.error(
          [...route.path, 'via'],
          `the gateway ${via.address} is on none of ${where}'s subnets${subnets.length ? ` (${subnets.join(', ')})` : ` (it has no IPv${via.family} address)`}; the kernel would refuse the route`,
        );
      }
    }
  }
}

/** What numbering the switches of a lab got. */
export interface SwitchNumbers {
  deviceId: number;
  grpcPort: number;
  thriftPort: number;
}

/**
 * Switches: a P4 program or no-p4 (not both), each port number once, the CPU
 * port not a data port, device ids and TCP ports (gRPC and Thrift together)
 * once in the lab. What a file leaves out is numbered here, switch by
 * switch in file order, with the lowest value free from a base, so adding a
 * switch at the end renumbers none of the others.
 */
export function checkSwitches(p: Problems, nodes: Map<string, NodeDraft>, read: LinksRead): Map<string, SwitchNumbers> {
  const switches = [...nodes.values()].filter((n) => n.kind === 'bmv2');
  const deviceIds = new Map<number, Path>();
  const tcpPorts = new Map<number, Path>();
  const explicit: { path: Path; value: number; used: Map<number, Path>; what: string }[] = [];
  for (const s of switches) {
    const f = s.fields;
    if (f.program !== undefined && f.noP4) {
      p.error(f.where['no-p4'] as Path, `${s.name} has a program and no-p4: true; give one of them`);
    } else if (f.program === undefined && !f.noP4) {
      p.error(s.path, `switch ${s.name} needs a program (program: build/prog.json) or no-p4: true`, 'key');
    }
    if (f.deviceId !== undefined)
      explicit.push({ path: f.where['device-id'] as Path, value: f.deviceId, used: deviceIds, what: 'device-id' });
    if (f.grpcPort !== undefined)
      explicit.push({ path: f.where['grpc-port'] as Path, value: f.grpcPort, used: tcpPorts, what: 'TCP port' });
    if (f.thriftPort !== undefined)
      explicit.push({ path: f.where['thrift-port'] as Path, value: f.thriftPort, used: tcpPorts, what: 'TCP port' });

    const ports = new Map<number, InterfaceDraft>();
    const ifaces = [...(read.interfaces.get(s.name)?.values() ?? [])].filter((i) => i.port !== undefined);
    for (const iface of inFileOrder(p, ifaces)) {
      const port = iface.port as number;
      const before = ports.get(port);
      if (before)
        p.error(
          iface.path,
          `${s.name}:${iface.name} and ${s.name}:${before.name} (line ${p.lineOf(before.path)}) would both be port ${port}`,
        );
      else ports.set(port, iface);
    }
    if (f.cpuPort !== undefined && ports.has(f.cpuPort)) {
      const data = ports.get(f.cpuPort) as InterfaceDraft;
      p.error(f.where['cpu-port'] as Path, `cpu-port ${f.cpuPort} is also the data port ${s.name}:${data.name}`);
    }
  }
  for (const e of inFileOrder(p, explicit)) {
    const before = e.used.get(e.value);
    if (before)
      p.error(e.path, `${e.what} ${e.value} is already used on line ${p.lineOf(before)}; each switch of a lab needs its own`);
    else e.used.set(e.value, e.path);
  }
  const numbers = new Map<string, SwitchNumbers>();
  const free = (used: Map<number, Path>, from: number): number => {
    let n = from;
    while (used.has(n)) n++;
    used.set(n, []);
    return n;
  };
  for (const s of switches) {
    const f = s.fields;
    numbers.set(s.name, {
      deviceId: f.deviceId ?? free(deviceIds, AUTO_DEVICE_ID),
      grpcPort: f.grpcPort ?? free(tcpPorts, AUTO_GRPC_PORT),
      thriftPort: f.thriftPort ?? free(tcpPorts, AUTO_THRIFT_PORT),
    });
  }
  return numbers;
}
