/**
 * What a transaction stages: the target state of each object it touched,
 * as plain immutable data (immer), next to the state it started from. Field
 * names are the records' (pyroute2/iproute2), with names instead of indexes
 * (`master: 'br0'`, `dev: 'v0'`) so a target can be written by hand. Values
 * are in the form the store's records show them (names for the kernel's
 * numbers, prefixes as the kernel prints them), so a target compares equal
 * to what the kernel will report.
 */
import type { Draft } from 'immer';

/** Attributes of one address besides its prefix (`ip addr add ... label v0:1 nodad`). */
export interface AddressAttributes {
  label?: string;
  broadcast?: string;
  scope?: string | number;
  /** IFA_F_* names: nodad, noprefixroute, ... */
  flags?: string[];
  valid_lft?: number | 'forever';
  preferred_lft?: number | 'forever';
  metric?: number;
}

/** A tun/tap device's options (`ip tuntap add ... mode tap user U group G multi_queue`). */
export interface TuntapOptions {
  mode: 'tun' | 'tap';
  owner?: number;
  group?: number;
  multi_queue?: boolean;
  pi?: boolean;
  vnet_hdr?: boolean;
}

export interface InterfaceTarget {
  netns: string;
  ifname: string;
  /** The index it has (existing interfaces): a rollback or a freeze recreates a link with it. */
  index?: number;
  kind?: string;
  state: 'up' | 'down';
  mtu?: number;
  address?: string;
  master?: string;
  ifalias?: string;
  txqlen?: number;
  /** How the kernel makes IPv6 link-local addresses: eui64 (its default), none, stable_secret, random. */
  addr_gen_mode?: string;
  /** The link a stacked kind sits on (macvlan, vlan, vxlan's device), by name. */
  link?: string;
  /** The veth peer: name, and its namespace when elsewhere. */
  peer?: { ifname: string; netns?: string; index?: number };
  /** Set on the peer of a created veth: it comes into being with that veth, not by itself. */
  peerOf?: string;
  /** kind-specific options (IFLA_INFO_DATA), as the backend takes them. */
  data?: Record<string, unknown>;
  /** tun/tap devices: how to make one again. */
  tuntap?: TuntapOptions;
  /** Bridge port options (IFLA_BRPORT_*), when it is a bridge port: cost, priority, learning, ... */
  brport?: Record<string, number>;
  /** Alternative names (`ip link property add dev X altname Y`), in the kernel's order. */
  altnames?: string[];
  /** Addresses, 'a/len'. */
  ipaddr: string[];
  /** Attributes of addresses being added, by 'a/len' (only where some were given). */
  ipattrs?: Record<string, AddressAttributes>;
  /** Names of the interfaces whose master this is. */
  ports: string[];
}

export interface NexthopTarget {
  gateway?: string;
  dev?: string;
  /** rtnh_hops (iproute2's weight - 1). */
  hops: number;
  onlink?: boolean;
}

export interface RouteTarget {
  netns: string;
  family: 'inet' | 'inet6';
  table: number;
  dst: string;
  priority?: number;
  tos?: number;
  type?: string;
  scope?: string;
  proto?: string;
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  metrics?: Record<string, number | string>;
  /** RTNH_F_ONLINK: the gateway is on the link even without a route to it. */
  onlink?: boolean;
  multipath: NexthopTarget[];
}

export interface RuleTarget {
  netns: string;
  family: 'inet' | 'inet6';
  [field: string]: unknown;
}

export interface NeighbourTarget {
  netns: string;
  family: 'inet' | 'inet6';
  dev: string;
  dst: string;
  lladdr?: string;
  state?: string;
  proxy?: boolean;
  router?: boolean;
}

/** A named network namespace (`ip netns add NAME`). */
export interface NamespaceTarget {
  name: string;
  /** Its loopback: up (the default, as a container's) or down (as `ip netns add` leaves it). */
  loopback?: 'up' | 'down';
  /** What goes with it when it is removed, for the review: its interfaces and processes. */
  interfaces?: string[];
  processes?: string[];
}

/** One sysctl of a namespace, as /proc/sys shows it (a string). */
export interface SysctlTarget {
  netns: string;
  /** Dotted form: net.ipv6.conf.v0.disable_ipv6. */
  key: string;
  value: string;
}

/** A process a commit starts inside a namespace. */
export interface ProcessTarget {
  netns: string;
  /** Its name in the transaction (unique per transaction): what the commit report hands it back under. */
  name: string;
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** cpu (fraction of one CPU) and memory (bytes) limits: a cgroup of its own. */
  limits?: { cpu?: number; memory?: number };
  /** The cgroup (under netstate/) it starts in, and what its undo removes: every process in it. */
  cgroup: string;
  /** The cgroup is shared with other processes of the commit (a lab node's): joined if it exists. */
  shared?: boolean;
  /** A file its stdout and stderr are appended to (discarded when omitted). */
  log?: string;
  /** A command run to its end (it must exit 0 within `timeout` ms), not a process left running. */
  run?: boolean;
  timeout?: number;
}

export type Target = InterfaceTarget | RouteTarget | RuleTarget | NeighbourTarget;
export type Drafted<T> = Draft<T>;

/** One touched object: where it started (undefined: created) and where it is going (undefined: removed). */
export interface Staged<T> {
  base?: T;
  target?: T;
  /** An explicit priority (`handle.order(n)`): its steps go before every unordered one, lowest first. */
  order?: number;
  /**
   * Made anew where one of that name is removed in the same transaction
   * (another kind, or a tun where a tap was): committed as a removal and a
   * creation.
   */
  replaced?: boolean;
}
