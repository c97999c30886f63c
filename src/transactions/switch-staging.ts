/**
 * BMv2 switches staged in a transaction: started by the commit once the
 * links and ports they use exist and are up, stopped by `tx.switch(name)
 * .remove()` (or a rollback).
 *
 *   tx.addSwitch({ name: 's1', netns: 'lab', program: 'build/demo.json', ports: { 1: 'p1', 2: 'p2' },
 *                  deviceId: 1, thriftPort: 9091, grpcPort: 50051, restart: 'on-failure' });
 *   tx.switch('s0', { netns: 'lab' }).remove();
 *
 * Refused here, before anything runs: bad options (a ValidationError
 * naming the field), a binary that is not there (Bmv2NotFoundError), two
 * switches of one namespace (running or staged) on one TCP port (Thrift
 * or gRPC) or with one device id, a port naming an interface that neither
 * exists nor is staged, or is down and not staged up, and an interface
 * that is a port of two switches.
 */
import { randomBytes } from 'node:crypto';
import { Bmv2Options, type Bmv2OptionsInput, parseBmv2Options, switchName } from '../backends/bmv2/options.js';
import type { BackoffOptions } from '../backends/bmv2/supervisor.js';
import { findBmv2Binary } from '../backends/bmv2/switch.js';
import { validateCgroupName } from '../backends/cgroup.js';
import { int, parseSpec, spec, z } from '../backends/schema.js';
import type { Database } from '../db/database.js';
import { ROOT } from '../db/source.js';
import type { SwitchRecord } from '../db/switches.js';
import { ValidationError } from '../errors.js';
import type { Staged } from './staged.js';

const { cgroup: _cgroup, name: _name, ...optionFields } = Bmv2Options.shape;

/** `tx.addSwitch(spec)`: a Bmv2Switch's options (but an existing cgroup), its name, and supervision. */
export const SwitchSpec = spec({
  ...optionFields,
  name: switchName,
  /** 'on-failure': started again when it ends on its own, with growing delays (default 'no'). */
  restart: z.enum(['no', 'on-failure']).optional(),
  /** The delays of those restarts (ms): initial 500, doubling up to max 30 000, reset after a run of resetAfter 10 000. */
  backoff: spec({
    initial: int(1, 3_600_000, 'milliseconds').optional(),
    max: int(1, 3_600_000, 'milliseconds').optional(),
    resetAfter: int(1, 86_400_000, 'milliseconds').optional(),
  }).optional(),
});
export type SwitchSpec = z.input<typeof SwitchSpec>;

/** A switch a commit starts: plain data (the journal writes it down). */
export interface SwitchTarget {
  /** Its namespace as records name it ('localhost' for the root one). */
  netns: string;
  name: string;
  /** Bmv2Switch options without name, netns and cgroup. */
  options: Omit<Bmv2OptionsInput, 'name' | 'netns' | 'cgroup'>;
  /** The cgroup (under netstate/) it runs in: what its undo removes, with everything in it. */
  cgroup: string;
  restart: 'no' | 'on-failure';
  backoff?: BackoffOptions;
}

/** What a switch holds: its TCP ports, device id and interfaces. */
interface Claims {
  name: string;
  tcp: number[];
  deviceId: number;
  interfaces: string[];
}

/** What the staging needs of the transaction it belongs to. */
export interface SwitchStagingContext {
  /** A namespace a spec names, checked as the transaction checks them (the transaction's own when undefined). */
  followed(netns: string | undefined): string;
  /** Whether the transaction removes that namespace. */
  removesNamespace(netns: string): boolean;
  /** The state an interface will have after the commit: 'up', 'down', or undefined when there will be none. */
  interfaceState(netns: string, ifname: string): 'up' | 'down' | undefined;
}

export class SwitchStaging {
  /** Keyed `netns|name`: base is the running switch (removed), target the one to start. */
  readonly switches = new Map<string, Staged<SwitchTarget>>();

  constructor(
    private readonly db: Database,
    private readonly ctx: SwitchStagingContext,
  ) {}

  add(input: SwitchSpec): string {
    const s = parseSpec(SwitchSpec, input, 'tx.addSwitch');
    const { name, netns: given, restart, backoff, ...options } = s;
    const netns = this.ctx.followed(given);
    if (this.ctx.removesNamespace(netns))
      throw new ValidationError(`tx.addSwitch: namespace ${netns} is staged for removal`, 'netns');
    const config = parseBmv2Options({ ...options, name, ...(netns === ROOT ? {} : { netns }) }, 'tx.addSwitch');
    findBmv2Binary(config.binary, config.env, config.netns);
    const key = `${netns}|${name}`;
    const staged = this.switches.get(key);
    if (staged?.target || (!staged && this.db.switches.get({ netns, name }))) {
      throw new ValidationError(`tx.addSwitch: a switch named ${name} exists already in ${netns}`, 'name');
    }
    for (const [port, ifname] of config.ports) {
      const state = this.ctx.interfaceState(netns, ifname);
      if (state === undefined) {
        throw new ValidationError(`tx.addSwitch: port ${port}: no interface ${ifname} in ${netns}, none staged`, `ports.${port}`);
      }
      if (state === 'down') {
        throw new ValidationError(
          `tx.addSwitch: port ${port}: interface ${ifname} in ${netns} is down: stage .up() on it (BMv2 runs on without a port that is down)`,
          `ports.${port}`,
        );
      }
    }
    const mine: Claims = {
      name,
      tcp: [config.grpcPort, ...(config.thriftPort === null ? [] : [config.thriftPort])],
      deviceId: config.deviceId,
      interfaces: config.ports.map(([, i]) => i),
    };
    for (const other of this.others(netns)) refuseClash(mine, other, netns);
    const cgroup = `tx-${process.pid}-${randomBytes(3).toString('hex')}-sw-${name}`.slice(0, 64);
    validateCgroupName(cgroup);
    const target: SwitchTarget = { netns, name, options, cgroup, restart: restart ?? 'no' };
    if (backoff) target.backoff = backoff;
    if (staged) staged.target = target;
    else this.switches.set(key, { target });
    return name;
  }

  /** Stages the removal of a running (or staged) switch; nothing when it is neither. */
  remove(name: string, netnsGiven: string | undefined): void {
    parseSpec(switchName, name, 'tx.switch', 'name');
    const netns = this.ctx.followed(netnsGiven);
    const key = `${netns}|${name}`;
    const staged = this.switches.get(key);
    if (staged) {
      if (staged.base) delete staged.target;
      else this.switches.delete(key);
      return;
    }
    const rec = this.db.switches.get({ netns, name });
    if (!rec) throw new ValidationError(`tx.switch: no switch named ${name} in ${netns}`, 'name');
    this.switches.set(key, { base: baseOf(rec, this.db.switches.specOf(netns, name)) });
  }

  /** Whether a switch of that name exists or is staged (and not staged for removal). */
  has(name: string, netns: string): boolean {
    const staged = this.switches.get(`${netns}|${name}`);
    return staged ? staged.target !== undefined : this.db.switches.get({ netns, name }) !== undefined;
  }

  /** The switches of a namespace once the staging is committed, but those being staged anew. */
  private *others(netns: string): Generator<Claims> {
    for (const rec of this.db.switches.list({ netns })) {
      const staged = this.switches.get(`${netns}|${rec.name}`);
      if (staged) continue; // removed, or replaced by its staged target (below)
      yield {
        name: rec.name,
        tcp: [rec.grpcPort, ...(rec.thriftPort === null ? [] : [rec.thriftPort])],
        deviceId: rec.deviceId,
        interfaces: Object.values(rec.ports),
      };
    }
    for (const s of this.switches.values()) {
      const t = s.target;
      if (!t || t.netns !== netns) continue;
      const c = parseBmv2Options({ ...t.options, name: t.name });
      yield {
        name: t.name,
        tcp: [c.grpcPort, ...(c.thriftPort === null ? [] : [c.thriftPort])],
        deviceId: c.deviceId,
        interfaces: c.ports.map(([, i]) => i),
      };
    }
  }
}

function refuseClash(mine: Claims, other: Claims, netns: string): void {
  if (other.name === mine.name) return;
  const port = mine.tcp.find((p) => other.tcp.includes(p));
  if (port !== undefined) {
    const field = port === mine.tcp[0] ? 'grpcPort' : 'thriftPort';
    throw new ValidationError(
      `tx.addSwitch: ${field}: switch ${other.name} in ${netns} uses TCP port ${port} already (gRPC's SO_REUSEPORT would let both start and share it)`,
      field,
    );
  }
  if (other.deviceId === mine.deviceId) {
    throw new ValidationError(
      `tx.addSwitch: deviceId: switch ${other.name} in ${netns} has device id ${mine.deviceId} already`,
      'deviceId',
    );
  }
  const shared = mine.interfaces.find((i) => other.interfaces.includes(i));
  if (shared !== undefined) {
    throw new ValidationError(`tx.addSwitch: ports: interface ${shared} is a port of switch ${other.name} already`, 'ports');
  }
}

/** A running switch as the staging of its removal keeps it: what starts it again if the commit is rolled back. */
function baseOf(rec: SwitchRecord, kept: unknown): SwitchTarget {
  const t = kept as SwitchTarget | undefined;
  return {
    netns: rec.netns,
    name: rec.name,
    options: t?.options ?? { noP4: true },
    cgroup: rec.cgroup ?? t?.cgroup ?? '',
    restart: rec.restart,
    ...(t?.backoff ? { backoff: t.backoff } : {}),
  };
}
