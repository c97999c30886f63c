/**
 * A LabModel written back as a lab file (what `lab up` was given, after
 * defaults are resolved and switches numbered): everything explicit, so
 * that reading the text gives the same model. Links use containerlab's
 * brief form (`endpoints: [a, b]`, `ipv4: [x, y]`) unless an end needs the
 * extended one (a MAC, several addresses of one family, shaping of its own).
 */
import { Document, isCollection, isScalar, visit } from 'yaml';
import type { Impairment, LabInterface, LabModel, LabNode } from './model.js';
import { formatLoss, formatMemory, formatRate, formatTime } from './units.js';

/** YAML text of `model` (a lab file `parseLab` reads back into an equal model). */
export function labToYaml(model: LabModel): string {
  const doc = new Document({ name: model.name, topology: { nodes: nodesOf(model), links: linksOf(model) } });
  // Short lists and maps on one line, as people write them.
  visit(doc, {
    Pair(_, pair) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (!isCollection(pair.value)) return;
      if (key === 'ipv4' || key === 'ipv6' || key === 'impair' || key === 'exec') pair.value.flow = true;
      if (key === 'endpoints' && pair.value.items.every((i) => isScalar(i))) pair.value.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

function nodesOf(model: LabModel): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const node of Object.values(model.nodes)) out[node.name] = nodeOf(node);
  return out;
}

function nodeOf(node: LabNode): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: node.kind };
  const s = node.switch;
  if (s) {
    if (s.program !== undefined) out.program = s.program;
    if (s.noP4) out['no-p4'] = true;
    out['device-id'] = s.deviceId;
    out['grpc-port'] = s.grpcPort;
    out['thrift-port'] = s.thriftPort;
    if (s.cpuPort !== undefined) out['cpu-port'] = s.cpuPort;
    if (s.log !== undefined) out.log = s.log;
    if (s.logLevel !== undefined) out['log-level'] = s.logLevel;
    if (s.pcap !== undefined) out.pcap = s.pcap;
  }
  if (node.exec.length) out.exec = [...node.exec];
  if (node.limits.cpu !== undefined) out.cpu = node.limits.cpu;
  if (node.limits.memoryBytes !== undefined) out.memory = formatMemory(node.limits.memoryBytes);
  if (Object.keys(node.sysctls).length) {
    out.sysctls = Object.fromEntries(Object.entries(node.sysctls).map(([k, v]) => [k, /^-?\d+$/.test(v) ? Number(v) : v]));
  }
  if (node.routes.length) {
    out.routes = node.routes.map((r) => ({
      dst: r.dst,
      ...(r.via !== undefined && { via: r.via }),
      ...(r.dev !== undefined && { dev: r.dev }),
      ...(r.metric !== undefined && { metric: r.metric }),
    }));
  }
  return out;
}

function linksOf(model: LabModel): Record<string, unknown>[] {
  return Object.values(model.links).map((link) => {
    const ends = link.endpoints.map((e) => model.nodes[e.node]?.interfaces[e.interface] as LabInterface);
    const [a, b] = ends as [LabInterface, LabInterface];
    const text = link.endpoints.map((e) => `${e.node}:${e.interface}`);
    const v4 = ends.map((i) => i.addresses.filter((x) => !x.includes(':')));
    const v6 = ends.map((i) => i.addresses.filter((x) => x.includes(':')));
    const brief =
      ends.every((i) => i.mac === undefined) &&
      [...v4, ...v6].every((list) => list.length <= 1) &&
      JSON.stringify(a.impair) === JSON.stringify(b.impair);
    const out: Record<string, unknown> = {};
    if (brief) {
      out.endpoints = text;
      if (v4.some((l) => l.length)) out.ipv4 = v4.map((l) => l[0] ?? null);
      if (v6.some((l) => l.length)) out.ipv6 = v6.map((l) => l[0] ?? null);
      if (a.impair) out.impair = impairOf(a.impair);
    } else {
      out.endpoints = link.endpoints.map((e, i) => {
        const iface = ends[i] as LabInterface;
        const ep: Record<string, unknown> = { node: e.node, interface: e.interface };
        const four = v4[i] as string[];
        const six = v6[i] as string[];
        if (four.length) ep.ipv4 = four.length === 1 ? four[0] : four;
        if (six.length) ep.ipv6 = six.length === 1 ? six[0] : six;
        if (iface.mac !== undefined) ep.mac = iface.mac;
        if (iface.impair) ep.impair = impairOf(iface.impair);
        return ep;
      });
    }
    if (link.mtu !== undefined) out.mtu = link.mtu;
    return out;
  });
}

function impairOf(i: Impairment): Record<string, string> {
  return {
    ...(i.rateBitPerSec !== undefined && { rate: formatRate(i.rateBitPerSec) }),
    ...(i.delayUs !== undefined && { delay: formatTime(i.delayUs) }),
    ...(i.jitterUs !== undefined && { jitter: formatTime(i.jitterUs) }),
    ...(i.lossPercent !== undefined && { loss: formatLoss(i.lossPercent) }),
  };
}
