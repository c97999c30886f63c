/**
 * p4net's enable_ipv6 / disable_ipv6, as transactions: the sysctls of one
 * interface written inside its namespace (the old values kept for a
 * rollback). Pass the root namespace as null.
 */
import { sysctlKey } from '../backends/sysctl.js';
import { ROOT } from '../db/source.js';
import { type FacadeOptions, transact } from './transact.js';

export interface EnableIpv6Options extends FacadeOptions {
  /** Take router advertisements (default false: only the addresses given). */
  acceptRa?: boolean;
  /** SLAAC addresses (default false). */
  autoconf?: boolean;
}

/** disable_ipv6=0, accept_ra and autoconf on `iface` (both off by default, so only the addresses given are there). */
export function enableIpv6(netns: string | null, iface: string, options: EnableIpv6Options = {}): Promise<void> {
  const ns = netns ?? ROOT;
  const key = (leaf: string) => sysctlKey('net', 'ipv6', 'conf', iface, leaf);
  return transact(
    options,
    (tx) =>
      tx
        .sysctl(key('disable_ipv6'), 0, { netns: ns })
        .sysctl(key('accept_ra'), options.acceptRa ? 1 : 0, { netns: ns })
        .sysctl(key('autoconf'), options.autoconf ? 1 : 0, { netns: ns }),
    [ns],
  );
}

/** disable_ipv6=1 on `iface`: its IPv6 addresses go, link-local included. */
export function disableIpv6(netns: string | null, iface: string, options: FacadeOptions = {}): Promise<void> {
  const ns = netns ?? ROOT;
  return transact(options, (tx) => tx.sysctl(sysctlKey('net', 'ipv6', 'conf', iface, 'disable_ipv6'), 1, { netns: ns }), [ns]);
}
