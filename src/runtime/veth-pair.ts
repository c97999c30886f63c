/**
 * VethPair: p4net's veth pair with explicit lifecycle and per-side
 * namespace tracking, as a thin facade on the store (each call a
 * transaction, or staged into `{ tx }`). Sides are 'a' and 'b' (or the
 * ends' names). Both ends start in the root namespace, as p4net makes them,
 * or in `netns`.
 *
 *   const v = new VethPair('h1-eth0', 's1-eth1', { netns: 'lab' });
 *   await v.create();
 *   await v.moveToNamespace('a', 'h1');
 *   await v.setAddress('a', '10.0.0.1/24');  await v.setUp('a');
 */
import { parsePrefix } from '../backends/netlink/codec/address.js';
import { ifnameProblem } from '../backends/schema.js';
import { ROOT } from '../db/source.js';
import { LinkError, ValidationError } from '../errors.js';
import type { Transaction } from '../transactions/transaction.js';
import { type FacadeOptions, transact } from './transact.js';

export type Side = 'a' | 'b';

export interface VethPairOptions extends FacadeOptions {
  /** Where both ends are made (default: the root namespace, as p4net). */
  netns?: string;
}

export class VethPair {
  private readonly where: Record<Side, string>;
  private created = false;

  constructor(
    readonly a: string,
    readonly b: string,
    private readonly options: VethPairOptions = {},
  ) {
    for (const [side, name] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const problem = ifnameProblem(name);
      if (problem) throw new ValidationError(`VethPair ${side}: ${problem}`, side);
    }
    if (a === b) throw new ValidationError('VethPair: the two ends need two names', 'b');
    const start = options.netns ?? ROOT;
    this.where = { a: start, b: start };
  }

  /** The end's interface name. */
  nameOf(side: Side | string): string {
    return this[this.side(side)];
  }

  /** The namespace the end is in ('localhost' for the root one). */
  namespaceOf(side: Side | string): string {
    return this.where[this.side(side)];
  }

  /** Makes the pair (`ip link add A type veth peer name B`); a LinkError if it exists or either name is taken. */
  async create(): Promise<void> {
    if (this.created) throw new LinkError(`veth pair ${this.a}/${this.b} was created already`);
    await this.change([this.where.a], (tx) =>
      tx.create({ kind: 'veth', ifname: this.a, peer: this.b, netns: this.where.a }),
    ).catch((e) => {
      throw e instanceof ValidationError ? new LinkError(`cannot create veth ${this.a}/${this.b}: ${e.message}`) : e;
    });
    this.created = true;
  }

  /** Removes the pair, wherever its ends are. */
  async destroy(): Promise<void> {
    await this.change([this.where.a], (tx) => tx.interface(this.a, { netns: this.where.a }).remove());
    this.created = false;
  }

  /** Moves one end to `netns` (or back to the root namespace with null). */
  async moveToNamespace(side: Side | string, netns: string | null): Promise<void> {
    const s = this.side(side);
    const to = netns ?? ROOT;
    await this.change([this.where[s], to], (tx) => tx.interface(this[s], { netns: this.where[s] }).set({ netns: to }));
    this.where[s] = to;
  }

  async setUp(side: Side | string): Promise<void> {
    await this.onSide(side, (h) => h.up());
  }

  async setDown(side: Side | string): Promise<void> {
    await this.onSide(side, (h) => h.down());
  }

  /** Adds an IPv4 address ('10.0.0.1/24'); an IPv6 one is refused (setAddress6). */
  async setAddress(side: Side | string, cidr: string): Promise<void> {
    this.family(cidr, 4, 'setAddress');
    await this.onSide(side, (h) => h.addIp(cidr));
  }

  /** Adds an IPv6 address ('fd00::1/64'); an IPv4 one is refused. */
  async setAddress6(side: Side | string, cidr: string): Promise<void> {
    this.family(cidr, 6, 'setAddress6');
    await this.onSide(side, (h) => h.addIp(cidr));
  }

  /** Sets the MTU: 68..65535, anything else refused (not clamped). */
  async setMtu(side: Side | string, mtu: number): Promise<void> {
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new ValidationError(`setMtu: ${JSON.stringify(mtu)} is outside 68..65535`, 'mtu');
    }
    await this.onSide(side, (h) => h.set({ mtu }));
  }

  /** Sets the MAC address (XX:XX:XX:XX:XX:XX). */
  async setMac(side: Side | string, mac: string): Promise<void> {
    await this.onSide(side, (h) => h.set({ address: mac }));
  }

  private side(side: Side | string): Side {
    if (side === 'a' || side === this.a) return 'a';
    if (side === 'b' || side === this.b) return 'b';
    throw new ValidationError(`side: ${JSON.stringify(side)} is neither 'a', 'b', ${this.a} nor ${this.b}`, 'side');
  }

  private family(cidr: string, want: 4 | 6, what: string): void {
    const p = typeof cidr === 'string' ? parsePrefix(cidr) : undefined;
    if (!p || !cidr.includes('/'))
      throw new ValidationError(`${what}: ${JSON.stringify(cidr)} is not an address with a prefix length`, 'address');
    if (p.family !== want) {
      throw new ValidationError(
        `${what}: ${cidr} is an IPv${p.family} address; use ${want === 4 ? 'setAddress6' : 'setAddress'}`,
        'address',
      );
    }
  }

  private onSide(side: Side | string, fn: (h: ReturnType<Transaction['interface']>) => unknown): Promise<void> {
    const s = this.side(side);
    return this.change([this.where[s]], (tx) => fn(tx.interface(this[s], { netns: this.where[s] })));
  }

  /** One transaction on a store that follows the namespaces it touches. */
  private change(namespaces: string[], stage: (tx: Transaction) => unknown): Promise<void> {
    return transact(this.options, stage, namespaces);
  }
}
