/**
 * Hosts talking through a switch: two host namespaces, each with a veth
 * into the switch's namespace, all made in one transaction with the switch
 * on the two ends there. ICMP passes as it is; TCP passes only once the
 * hosts' veths have TX checksum offload off (setTxChecksum): with it on,
 * the sender leaves the checksum to "the hardware", the switch copies the
 * frame through an AF_PACKET socket as it is, and the receiver drops it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getTxChecksum, setTxChecksum } from '../../../src/backends/ethtool.js';
import { echo } from '../../../src/backends/icmp.js';
import { exec, NetState, type NsProcess, spawn } from '../../../src/index.js';
import { STANDIN } from '../../helpers/bmv2-standin.js';
import { useNetns } from '../../helpers/netns.js';
import { useRuntimeCleanup } from '../../helpers/runtime.js';

const SERVER = `require('net').createServer((s) => s.on('data', (d) => s.end('pong ' + d))).listen(7000, '10.0.0.2', () => console.log('listening'))`;
const CLIENT = `const s = require('net').connect(7000, '10.0.0.2', () => s.write('ping'));
s.setTimeout(Number(process.argv[1]), () => { console.log('timeout'); process.exit(2); });
s.on('data', (d) => { console.log(String(d)); process.exit(0); });`;

/** A TCP exchange from h1 to h2's server: its answer, or 'timeout'. */
async function tcp(h1: string, timeout: number): Promise<string> {
  const r = await exec(h1, [process.execPath, '-e', CLIENT, String(timeout)], { check: false, timeout: timeout + 5000 });
  return r.stdout.trim();
}

describe('hosts through a switch', () => {
  const ns = useNetns(3); // the switch, h1, h2
  let db: NetState;
  let server: NsProcess | undefined;
  beforeEach(async () => {
    db = await NetState.open({ netns: ns.names, journal: false });
  });
  afterEach(async () => {
    await server?.stop({ timeout: 1000 });
    server = undefined;
    await db.close();
  });
  useRuntimeCleanup(() => ns.names);

  it('ping passes at once; TCP once the hosts turn TX checksum offload off', async () => {
    const [sw, h1, h2] = ns.names as [string, string, string];
    const tx = db.begin();
    [h1, h2].forEach((h, i) => {
      tx.create({ kind: 'veth', ifname: `p${i + 1}`, netns: sw, peer: { ifname: 'eth0', netns: h } }).up();
      tx.interface('eth0', { netns: h })
        .up()
        .addIp(`10.0.0.${i + 1}/24`);
    });
    tx.addSwitch({ name: 's1', netns: sw, binary: STANDIN, noP4: true, ports: { 1: 'p1', 2: 'p2' } });
    await tx.commit();
    expect(db.switches.get('s1')?.state).toBe('running');
    await echo(h1, '10.0.0.2', { timeout: 3000 });
    await echo(h2, '10.0.0.1', { timeout: 3000 });

    server = spawn(h2, [process.execPath, '-e', SERVER], { capture: true });
    await new Promise<void>((resolve) =>
      server?.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
    );
    expect([getTxChecksum(h1, 'eth0'), getTxChecksum(h2, 'eth0')]).toEqual([true, true]);
    expect(await tcp(h1, 800)).toBe('timeout');
    for (const h of [h1, h2]) setTxChecksum(h, 'eth0', false);
    expect(await tcp(h1, 3000)).toBe('pong ping');
  });
});
