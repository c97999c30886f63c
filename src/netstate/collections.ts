/**
 * The store's collections as the NetState facade hands them out: the same
 * reading API, plus the ways of changing things that need transactions.
 * Interfaces, routes and rules can be frozen (pinned, and reverted when
 * other software changes them); interfaces can be edited in place.
 */
import { parseSpec, shown, spec, z } from '../backends/schema.js';
import { Collection, type Filter } from '../db/collection.js';
import { InterfaceCollection } from '../db/interface-collection.js';
import type { StoredRule } from '../db/records.js';
import { RouteCollection } from '../db/route-collection.js';
import { ValidationError } from '../errors.js';
import type { CommitReport } from '../transactions/commit.js';
import type { Frozen } from '../transactions/freeze.js';
import type { InterfaceHandle, Transaction } from '../transactions/transaction.js';

/** What freeze and edit take besides the object: the namespace (the first followed one when omitted). */
const NetnsOption = spec({ netns: z.string({ error: (i) => `a namespace name is a string, not ${shown(i.input)}` }).optional() });

function netnsOption(opts: unknown, what: string): string | undefined {
  return parseSpec(NetnsOption, opts, `${what} options`).netns;
}

/** How a kind's objects are frozen: by the spec a user gives, in a namespace (the first followed one when omitted). */
export interface Freezer<S> {
  freeze(spec: S, netns?: string): Frozen;
  unfreeze(spec: S, netns?: string): void;
}

/** Interfaces: read, frozen, and edited in place (one call, one transaction, one commit). */
export class Interfaces extends InterfaceCollection {
  constructor(
    private readonly freezer: Freezer<string>,
    private readonly open: () => Transaction,
    ...args: ConstructorParameters<typeof InterfaceCollection>
  ) {
    super(...args);
  }

  /** Pins the interface's state and reverts any outside change to it (see Frozen). */
  freeze(ifname: string, opts: { netns?: string } = {}): Frozen {
    return this.freezer.freeze(ifname, netnsOption(opts, 'freeze'));
  }

  unfreeze(ifname: string, opts: { netns?: string } = {}): void {
    this.freezer.unfreeze(ifname, netnsOption(opts, 'unfreeze'));
  }

  /**
   * Stages `fn`'s changes to one interface and commits when it returns;
   * drops them if it throws.
   *
   *   await db.interfaces.edit('v0', (i) => i.addIp('10.0.0.2/24').up());
   */
  async edit(ifname: string, fn: (i: InterfaceHandle) => unknown, opts: { netns?: string } = {}): Promise<CommitReport> {
    const tx = this.open();
    try {
      const handle = tx.interface(ifname, opts);
      if (typeof fn !== 'function') throw new ValidationError(`edit: expected a function, got ${shown(fn)}`, 'fn');
      await fn(handle);
    } catch (e) {
      tx.drop();
      throw e;
    }
    return tx.commit();
  }
}

/** Routes: read and frozen. */
export class Routes extends RouteCollection {
  constructor(
    private readonly freezer: Freezer<string | Filter>,
    ...args: ConstructorParameters<typeof RouteCollection>
  ) {
    super(...args);
  }

  /** Pins the route and reverts any outside change to it (see Frozen). */
  freeze(spec: string | Filter, opts: { netns?: string } = {}): Frozen {
    return this.freezer.freeze(spec, netnsOption(opts, 'freeze'));
  }

  unfreeze(spec: string | Filter, opts: { netns?: string } = {}): void {
    this.freezer.unfreeze(spec, netnsOption(opts, 'unfreeze'));
  }
}

/** Rules: read and frozen. */
export class Rules extends Collection<StoredRule> {
  constructor(
    private readonly freezer: Freezer<number | Filter>,
    ...args: ConstructorParameters<typeof Collection<StoredRule>>
  ) {
    super(...args);
  }

  /** Pins the rule and reverts any outside change to it (see Frozen). */
  freeze(spec: number | Filter, opts: { netns?: string } = {}): Frozen {
    return this.freezer.freeze(spec, netnsOption(opts, 'freeze'));
  }

  unfreeze(spec: number | Filter, opts: { netns?: string } = {}): void {
    this.freezer.unfreeze(spec, netnsOption(opts, 'unfreeze'));
  }
}
