/**
 * What a transaction stages: the target state of each object it touched,
 * as plain immutable data (immer), next to the state it started from. Field
 * names are the records' (pyroute2/iproute2), with names instead of indexes
 * (`master: 'br0'`, `dev: 'v0'`) so a target can be written by hand.
 */
import type { Draft } from 'immer';

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
  /** The link a stacked kind sits on (macvlan, vlan, vxlan's dev), by name. */
  link?: string;
  /** The veth peer: name, and its namespace when elsewhere. */
  peer?: { ifname: string; netns?: string; index?: number };
  /** Set on the peer of a created veth: it comes into being with that veth, not by itself. */
  peerOf?: string;
  /** kind-specific options (IFLA_INFO_DATA), as the backend takes them. */
  data?: Record<string, unknown>;
  /** Addresses, 'a/len'. */
  ipaddr: string[];
  /** Names of the interfaces whose master this is. */
  ports: string[];
}

export interface NexthopTarget {
  gateway?: string;
  dev?: string;
  /** rtnh_hops (iproute2's weight - 1). */
  hops: number;
}

export interface RouteTarget {
  netns: string;
  family: 'inet' | 'inet6';
  table: number;
  dst: string;
  priority?: number;
  type?: string;
  scope?: string;
  proto?: string;
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  metrics?: Record<string, number | string>;
  multipath: NexthopTarget[];
}

export interface RuleTarget {
  netns: string;
  [field: string]: unknown;
}

export interface NeighbourTarget {
  netns: string;
  family: 'inet' | 'inet6';
  dev: string;
  dst: string;
  lladdr?: string;
  state?: string;
}

export type Target = InterfaceTarget | RouteTarget | RuleTarget | NeighbourTarget;
export type Drafted<T> = Draft<T>;

/** One touched object: where it started (undefined: created) and where it is going (undefined: removed). */
export interface Staged<T> {
  base?: T;
  target?: T;
  /** An explicit priority (`handle.order(n)`): its steps go before every unordered one, lowest first. */
  order?: number;
}
