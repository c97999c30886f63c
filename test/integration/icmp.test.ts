/**
 * echo(): an ICMP echo from inside a namespace, as `ping -c1 -W` would
 * send it. The IPv6 case that once failed: addresses still in duplicate
 * address detection (tentative) when the echo starts, answered once DAD is
 * over; and replies to someone else's echo with the same id never count.
 */
import { describe, expect, it } from 'vitest';
import { echo } from '../../src/backends/icmp.js';
import { TimeoutError, ValidationError } from '../../src/index.js';
import { ip, ipJson, useNetns } from '../helpers/netns.js';

const ns = useNetns(2);

function pair(v6: boolean): void {
  const [a, b] = ns.names as [string, string];
  ip(a, 'link', 'add', 'e0', 'type', 'veth', 'peer', 'name', 'e0', 'netns', b);
  ip(a, 'addr', 'add', v6 ? '2001:db8::1/64' : '10.0.0.1/24', 'dev', 'e0');
  ip(b, 'addr', 'add', v6 ? '2001:db8::2/64' : '10.0.0.2/24', 'dev', 'e0');
  ip(a, 'link', 'set', 'e0', 'up');
  ip(b, 'link', 'set', 'e0', 'up');
}

describe('echo', () => {
  it('IPv4: answered, with the round trip in ms', async () => {
    pair(false);
    const ms = await echo(ns.names[0], '10.0.0.2');
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(2000);
  });

  it('IPv6 started while both addresses are tentative: answered once DAD is over', async () => {
    pair(true);
    const tentative = ipJson<{ addr_info: { local: string; tentative?: boolean }[] }[]>(ns.names[0], 'addr', 'show', 'e0');
    // The premise: the echo starts before duplicate address detection ended.
    expect(tentative[0]?.addr_info.find((a) => a.local === '2001:db8::1')?.tentative).toBe(true);
    expect(await echo(ns.names[0], '2001:db8::2', { timeout: 5000 })).toBeGreaterThan(0);
  });

  it('an address nobody has times out; a bad address is refused before anything is sent', async () => {
    pair(false);
    await expect(echo(ns.names[0], '10.0.0.9', { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
    expect(() => echo(ns.names[0], '10.0.0.0/24')).toThrow(ValidationError);
  });
});
