/**
 * How the thin facades (Namespace, VethPair, applyNetem, ...) change the
 * host: one transaction per call on the given store (or a store opened for
 * the call, following only what it needs, closed after), or staged into an
 * open transaction the caller commits.
 */
import { ROOT } from '../db/source.js';
import { NetState } from '../netstate/netstate.js';
import type { Transaction } from '../transactions/transaction.js';

export interface FacadeOptions {
  /** The store to work through (default: one opened for the call, following nothing else, closed after). */
  db?: NetState;
  /** Stage into this open transaction instead of committing one. */
  tx?: Transaction;
}

/** Runs `stage` in `options.tx`, or in a transaction of its own on a store that follows `namespaces`. */
export async function transact(
  options: FacadeOptions,
  stage: (tx: Transaction) => unknown,
  namespaces: readonly string[] = [],
): Promise<void> {
  if (options.tx) {
    stage(options.tx);
    return;
  }
  const db = options.db ?? (await NetState.open({ netns: [] }));
  try {
    for (const n of new Set(namespaces)) if (!db.followed.includes(n)) await db.follow(n === ROOT ? undefined : n);
    const tx = db.begin();
    try {
      stage(tx);
    } catch (e) {
      tx.drop();
      throw e;
    }
    await tx.commit();
  } finally {
    if (!options.db) await db.close();
  }
}
