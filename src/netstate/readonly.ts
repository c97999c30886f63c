/** `db.readonly()`: the reading API of a NetState, with every way to change something closed. */
import type { Observable } from 'rxjs';
import type { Collection, Filter } from '../db/collection.js';
import type { StoreEvent } from '../db/events.js';
import type {
  InterfaceRecord,
  StoredAddress,
  StoredFilter,
  StoredNeighbour,
  StoredQdisc,
  StoredRoute,
  StoredRule,
  StoreRecord,
} from '../db/records.js';
import type { SwitchCollection } from '../db/switches.js';
import { NetStateError } from '../errors.js';
import type { NetState, WaitKind, WaitOptions } from './netstate.js';

function refuse(): never {
  throw new NetStateError('this is a read-only view of the store: changes go through the NetState itself');
}

/** A collection that reads; `edit` refuses. */
function readOnly<R extends object>(c: Collection<R>): Collection<R> {
  return new Proxy(c, {
    get(target, prop, receiver) {
      if (prop === 'edit' || prop === 'freeze' || prop === 'unfreeze') return refuse;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export class ReadOnlyNetState {
  readonly interfaces: Collection<InterfaceRecord>;
  readonly addresses: Collection<StoredAddress>;
  readonly routes: Collection<StoredRoute>;
  readonly rules: Collection<StoredRule>;
  readonly neighbours: Collection<StoredNeighbour>;
  readonly qdiscs: Collection<StoredQdisc>;
  readonly filters: Collection<StoredFilter>;
  readonly events$: Observable<StoreEvent>;

  constructor(private readonly db: NetState) {
    this.interfaces = readOnly(db.interfaces);
    this.addresses = readOnly(db.addresses);
    this.routes = readOnly(db.routes);
    this.rules = readOnly(db.rules);
    this.neighbours = readOnly(db.neighbours);
    this.qdiscs = readOnly(db.qdiscs);
    this.filters = readOnly(db.filters);
    this.events$ = db.events$;
  }

  /** The switches' records: get, list, count (put, delete, freeze refused). */
  get switches(): Pick<SwitchCollection, 'get' | 'list' | 'count'> {
    const s = this.db.switches;
    return { get: (spec) => s.get(spec), list: (f) => s.list(f), count: (f) => s.count(f) };
  }

  get namespaces(): NetState['namespaces'] {
    return this.db.namespaces;
  }

  get followed(): string[] {
    return this.db.followed;
  }

  waitFor(kind: WaitKind, spec: string | number | Filter, options?: WaitOptions): Promise<StoreRecord | undefined> {
    return this.db.waitFor(kind, spec, options);
  }

  dump(): ReturnType<NetState['dump']> {
    return this.db.dump();
  }

  begin(): never {
    return refuse();
  }

  create(_spec: Record<string, unknown>): never {
    return refuse();
  }

  readonly(): this {
    return this;
  }
}
