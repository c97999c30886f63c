/**
 * The lab file format: containerlab's shape (`name`, `topology.defaults`,
 * `topology.kinds`, `topology.nodes`, `topology.links` with
 * `endpoints: ["node:iface", ...]`, kebab-case keys), netstate's kinds and
 * fields. docs/labs.md is the user's description; this is the list the
 * validator checks against (every key not listed here is refused, with a
 * "did you mean").
 *
 * ```yaml
 * name: demo                          # a-z 0-9 '-', <= 16: namespaces are demo.h1, demo.s1...
 * topology:
 *   defaults: { kind: host, cpu: 1, memory: 256M, sysctls: {...}, exec: [...] }   # every node
 *   kinds:                            # every node of one kind
 *     bmv2: { program: build/demo.json, log-level: info }
 *   nodes:
 *     h1:
 *       kind: host                    # host (default) | bridge | bmv2
 *       exec: ["ping -c1 10.0.2.2"]   # run in the node's namespace once the lab is up
 *       cpu: 0.5                      # CPUs for its processes
 *       memory: 256M                  # K/M/G/T, binary
 *       sysctls: { net.ipv4.ip_forward: 1 }     # net.* only: others are host-wide
 *       routes: [{ dst: 10.0.2.0/24, via: 10.0.1.254 }]   # host only; dst, via, dev, metric
 *     br1: { kind: bridge }           # a Linux bridge br1 in namespace demo.br1; its interfaces are its ports
 *     s1:
 *       kind: bmv2                    # simple_switch_grpc in namespace demo.s1
 *       program: build/demo.json      # or no-p4: true
 *       device-id: 1                  # default: the lowest free, from 0, in file order
 *       grpc-port: 9559               # default: the lowest free from 9559
 *       thrift-port: 9090             # default: the lowest free from 9090
 *       cpu-port: 255                 # optional; not a data port
 *       log: console                  # or a file; log-level: trace|debug|info|warn|error|off
 *       pcap: captures/               # a directory
 *   links:
 *     - endpoints: ["h1:eth0", "s1:p1"]        # s1:p1 is port 1 of s1 (the name's trailing number)
 *       ipv4: [10.0.1.1/24, null]              # one entry per endpoint, null for none
 *       ipv6: [2001:db8:1::1/64, null]
 *       mtu: 1400
 *       impair: { rate: 10mbit, delay: 10ms, jitter: 2ms, loss: 1% }   # both directions
 *     - endpoints:                             # the extended form: per-endpoint fields
 *         - { node: h2, interface: eth0, ipv4: 10.0.2.2/24, mac: 02:00:00:00:02:01, impair: { rate: 1mbit } }
 *         - s1:p2
 * ```
 */
import type { NodeKind } from './model.js';

export const TOP_KEYS = ['name', 'topology'] as const;
export const TOPOLOGY_KEYS = ['defaults', 'kinds', 'nodes', 'links'] as const;

/** Fields every kind of node takes. */
export const COMMON_NODE_KEYS = ['kind', 'exec', 'cpu', 'memory', 'sysctls'] as const;
/** bmv2 fields that must differ from switch to switch: not taken in `kinds.bmv2`. */
export const PER_SWITCH_KEYS = ['device-id', 'grpc-port', 'thrift-port'] as const;
export const SWITCH_KEYS = [...PER_SWITCH_KEYS, 'program', 'no-p4', 'cpu-port', 'log', 'log-level', 'pcap'] as const;

export const NODE_KEYS: Record<NodeKind, readonly string[]> = {
  host: [...COMMON_NODE_KEYS, 'routes'],
  bridge: [...COMMON_NODE_KEYS],
  bmv2: [...COMMON_NODE_KEYS, ...SWITCH_KEYS],
};

/** `topology.defaults`: what applies to every node, whatever its kind. */
export const DEFAULTS_KEYS: readonly string[] = [...COMMON_NODE_KEYS];

/** `topology.kinds.<kind>`: a kind's node fields, but its kind and the per-switch numbers. */
export const KIND_DEFAULTS_KEYS: Record<NodeKind, readonly string[]> = {
  host: NODE_KEYS.host.filter((k) => k !== 'kind'),
  bridge: NODE_KEYS.bridge.filter((k) => k !== 'kind'),
  bmv2: NODE_KEYS.bmv2.filter((k) => k !== 'kind' && !(PER_SWITCH_KEYS as readonly string[]).includes(k)),
};

export const LINK_KEYS = ['endpoints', 'ipv4', 'ipv6', 'mtu', 'impair'] as const;
export const ENDPOINT_KEYS = ['node', 'interface', 'ipv4', 'ipv6', 'mac', 'impair'] as const;
export const IMPAIR_KEYS = ['rate', 'delay', 'jitter', 'loss'] as const;
export const ROUTE_KEYS = ['dst', 'via', 'dev', 'metric'] as const;

/** Base of the automatic bmv2 numbers (the lowest free value from here, switch by switch in file order). */
export const AUTO_DEVICE_ID = 0;
export const AUTO_GRPC_PORT = 9559;
export const AUTO_THRIFT_PORT = 9090;

/** BMv2's data ports: 0..510 (511 is simple_switch's default drop port). */
export const MAX_SWITCH_PORT = 510;
/** veth MTU bounds (ETH_MIN_MTU, ETH_MAX_MTU). */
export const MIN_MTU = 68;
export const MAX_MTU = 65535;
/** Below this the kernel turns IPv6 off on the interface and drops its IPv6 addresses. */
export const IPV6_MIN_MTU = 1280;
