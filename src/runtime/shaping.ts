/**
 * p4net's apply_netem / clear_qdisc, as transactions on the store: the
 * root qdisc of one interface (netem; tbf for a rate alone where the kernel
 * has no netem: see the README's Traffic control), its previous qdisc put
 * back by a rollback. Pass the root namespace as null.
 */
import { ROOT } from '../db/source.js';
import { type FacadeOptions, transact } from './transact.js';

export interface NetemOptions extends FacadeOptions {
  /** '10mbit' or bits per second. */
  rate?: string | number;
  /** '20ms' or ms. */
  delay?: string | number;
  /** '5ms' or ms; needs delay. */
  jitter?: string | number;
  /** Percent of packets lost, 0..100. */
  lossPct?: number;
  /** Packets in the queue. */
  limit?: number;
}

/** Shapes `iface`'s egress: at least one of rate, delay, jitter, lossPct (jitter needs delay). Can be called again. */
export function applyNetem(netns: string | null, iface: string, options: NetemOptions): Promise<void> {
  const { db, tx, lossPct, ...shape } = options;
  const ns = netns ?? ROOT;
  return transact(
    { db, tx },
    (t) => t.interface(iface, { netns: ns }).shape({ ...shape, ...(lossPct !== undefined ? { loss: lossPct } : {}) }),
    [ns],
  );
}

/** Back to the interface's default qdisc; nothing to do is not an error. */
export function clearQdisc(netns: string | null, iface: string, options: FacadeOptions = {}): Promise<void> {
  const ns = netns ?? ROOT;
  return transact(options, (t) => t.interface(iface, { netns: ns }).clearShape(), [ns]);
}
