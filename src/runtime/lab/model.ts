/**
 * A lab as plain data: what a valid lab file means once every default is
 * resolved, every name given and every unit read. It is what the lab
 * runtime turns into one transaction, what `diffLabs` compares, what the
 * picture is drawn from and what `labToYaml` writes back. JSON-safe (no
 * Maps, no Buffers, no undefined values), so a running lab's model can be
 * stored and compared with a file later.
 *
 * Every interface of a lab is one end of a veth pair (a link); the
 * interfaces of a node live in that node's namespace.
 */

export const NODE_KINDS = ['host', 'bridge', 'bmv2'] as const;
/** host: a namespace with addresses and routes; bridge: a Linux bridge in a namespace of its own; bmv2: a simple_switch_grpc in a namespace of its own. */
export type NodeKind = (typeof NODE_KINDS)[number];

export interface LabModel {
  name: string;
  /** By node name, in the file's order. */
  nodes: Record<string, LabNode>;
  /** By link id, in the file's order. */
  links: Record<string, LabLink>;
}

export interface LabNode {
  name: string;
  kind: NodeKind;
  /** The namespace the node is (`labNamespace(lab, node)`: `demo.h1`). */
  namespace: string;
  /** By interface name; each is one end of a link. */
  interfaces: Record<string, LabInterface>;
  /** host nodes only (others have none). */
  routes: LabRoute[];
  /** net.* sysctls written in the node's namespace, values as strings ('1'). */
  sysctls: Record<string, string>;
  /** Commands run in the node's namespace once the lab is up, in order. */
  exec: string[];
  /** cgroup limits of the node's processes (its exec commands, its switch). */
  limits: LabLimits;
  /** kind bridge: the bridge device in the node's namespace (named after the node); every interface of the node is its port. */
  bridge?: { device: string };
  /** kind bmv2: the switch; every interface of the node is one of its ports. */
  switch?: LabSwitch;
}

export interface LabLimits {
  /** CPUs (0.5 = half of one CPU), as containerlab's `cpu`. */
  cpu?: number;
  memoryBytes?: number;
}

export interface LabInterface {
  name: string;
  /** The id of the link this interface is an end of. */
  link: string;
  /** The other end. */
  peer: LabEndpoint;
  /** 'address/length', normalised ('2001:db8::1/64'), IPv4 then IPv6, each in the file's order. */
  addresses: string[];
  mtu?: number;
  mac?: string;
  /** Shaping of what leaves through this interface (its root qdisc). */
  impair?: Impairment;
  /** kind bmv2: the switch port number this interface is. */
  port?: number;
}

export interface Impairment {
  rateBitPerSec?: number;
  delayUs?: number;
  jitterUs?: number;
  lossPercent?: number;
}

export interface LabRoute {
  /** A normalised prefix: '10.0.2.0/24', '0.0.0.0/0' for default. */
  dst: string;
  family: 4 | 6;
  via?: string;
  dev?: string;
  metric?: number;
}

export interface LabSwitch {
  deviceId: number;
  grpcPort: number;
  thriftPort: number;
  cpuPort?: number;
  /** The compiled P4 program (BMv2 JSON); absent with noP4. Relative paths were resolved against the lab file's directory. */
  program?: string;
  noP4: boolean;
  /** 'console', or a log file. */
  log?: string;
  logLevel?: LogLevel;
  /** A directory for per-port pcap files. */
  pcap?: string;
  /** Port number -> interface name: { 1: 'p1', 2: 'p2' }. */
  ports: Record<number, string>;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LabEndpoint {
  node: string;
  interface: string;
}

export interface LabLink {
  /** `a:x--b:y`, the two ends in sorted order: the same link whichever end a file writes first. */
  id: string;
  /** The two ends as the file writes them (the picture keeps that flow); their addresses, MTU and shaping are on the nodes' interfaces. */
  endpoints: [LabEndpoint, LabEndpoint];
  mtu?: number;
}

/** `node:interface`, the way a lab file writes an endpoint. */
export function endpointText(e: LabEndpoint): string {
  return `${e.node}:${e.interface}`;
}

/** The id of the link between two endpoints, whichever is written first. */
export function linkId(a: LabEndpoint, b: LabEndpoint): string {
  const [x, y] = [endpointText(a), endpointText(b)].sort();
  return `${x}--${y}`;
}
