/**
 * TX checksum offload through SIOCETHTOOL inside a namespace, read back
 * with ETHTOOL_GTXCSUM (ethtool is not installed here; the effect itself,
 * TCP through a switch, is checked in switch/forwarding.test.ts), and the
 * interface flags the switch start checks its ports with.
 */
import { describe, expect, it } from 'vitest';
import { getTxChecksum, setTxChecksum } from '../../../src/backends/ethtool.js';
import { IFF_UP, interfaceFlags } from '../../../src/backends/ifreq.js';
import { LinkError, ValidationError } from '../../../src/errors.js';
import { ip, useNetns } from '../../helpers/netns.js';

describe('TX checksum offload (SIOCETHTOOL)', () => {
  const ns = useNetns();

  it('turns it off and on again on one end of a veth (va), leaving the peer as it was', () => {
    ip(ns.name, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
    expect([getTxChecksum(ns.name, 'va'), getTxChecksum(ns.name, 'vb')]).toEqual([true, true]);
    setTxChecksum(ns.name, 'va', false);
    expect([getTxChecksum(ns.name, 'va'), getTxChecksum(ns.name, 'vb')]).toEqual([false, true]);
    setTxChecksum(ns.name, 'va', true);
    expect(getTxChecksum(ns.name, 'va')).toBe(true);
  });

  it('a missing interface is a LinkError naming it; a bad name a ValidationError', () => {
    expect(() => setTxChecksum(ns.name, 'nope0', false)).toThrow(LinkError);
    expect(() => getTxChecksum(ns.name, 'nope0')).toThrow(/no interface "nope0" in namespace/);
    expect(() => setTxChecksum(ns.name, 'a/b', false)).toThrow(ValidationError);
  });

  it('interface flags: up or not, and undefined for none', () => {
    ip(ns.name, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
    expect((interfaceFlags(ns.name, 'va') as number) & IFF_UP).toBe(0);
    ip(ns.name, 'link', 'set', 'va', 'up');
    expect((interfaceFlags(ns.name, 'va') as number) & IFF_UP).toBe(IFF_UP);
    expect(interfaceFlags(ns.name, 'nope0')).toBeUndefined();
  });
});
