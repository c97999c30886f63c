/** A small lab inside a test namespace, built with iproute2 (an outside writer). */
import { afterEach, beforeEach } from 'vitest';
import { NetState } from '../../src/index.js';
import { ip, useNetns } from './netns.js';

/** A veth pair, both ends up (v0<->v1 unless named). */
export function vethUp(ns: string, a = 'v0', b = 'v1'): void {
  ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  ip(ns, 'link', 'set', a, 'up');
  ip(ns, 'link', 'set', b, 'up');
}

/** v0<->v1 veth, both up, 10.0.0.1/24 and 2001:db8::1/64 on v0, a gateway route in main and table 100. */
export function basicLab(ns: string): void {
  vethUp(ns);
  ip(ns, 'addr', 'add', '10.0.0.1/24', 'dev', 'v0');
  ip(ns, 'addr', 'add', '2001:db8::1/64', 'dev', 'v0', 'nodad');
  ip(ns, 'route', 'add', '10.9.0.0/16', 'via', '10.0.0.2');
  ip(ns, 'route', 'add', '10.8.0.0/16', 'via', '10.0.0.2', 'table', '100');
  ip(ns, '-6', 'route', 'add', '2001:db8:9::/48', 'via', '2001:db8::2');
  ip(ns, 'neigh', 'add', '10.0.0.7', 'lladdr', '02:00:00:00:00:07', 'dev', 'v0');
}

/** Runs several `ip -n ns ...` commands given as strings. */
export function ipAll(ns: string, commands: readonly string[]): void {
  for (const c of commands) ip(ns, ...c.split(' ').filter(Boolean));
}

/**
 * A fresh `nst-` namespace with the basic lab, and a store following it,
 * for each test: `const lab = useLabStore(); ... lab.db.begin()`. With
 * `namespaces: n`, n namespaces (the lab in the first) all followed by the
 * store. `before` runs before the lab is built, `after` once it is. The store
 * is closed before the namespaces go.
 */
export function useLabStore(
  options: { before?: (ns: string) => void; after?: (names: string[]) => void; namespaces?: number } = {},
): {
  ns: ReturnType<typeof useNetns>;
  db: NetState;
} {
  const ns = useNetns(options.namespaces ?? 1);
  const handle = { ns, db: undefined as unknown as NetState };
  beforeEach(async () => {
    options.before?.(ns.name);
    basicLab(ns.name);
    options.after?.(ns.names);
    handle.db = await NetState.open({ netns: ns.names });
  });
  afterEach(async () => {
    await handle.db?.close();
  });
  return handle;
}
