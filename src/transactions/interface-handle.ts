/**
 * A staged interface: `tx.interface('v0')` or `tx.create({...})`. Each call
 * stages a change on the interface's target and returns the handle, so
 * calls chain: `tx.interface('v0').set({ mtu: 1400 }).addIp('10.0.0.1/24').up()`.
 */
import { altname as altnameField } from '../backends/netlink/families/link-property.js';
import { ifname as ifnameSpec, int, parseSpec, prefix, type z } from '../backends/schema.js';
import { ValidationError } from '../errors.js';
import type { CommitOptions, CommitReport } from './commit.js';
import { isLinkLocal, uppersOf } from './current.js';
import { type ShapeSpec, stageClearForward, stageClearShape, stageForward, stageShape } from './shaping.js';
import { AddressFilter, AddressOptions, cidr, InterfaceChanges } from './specs.js';
import type { AddressAttributes, InterfaceTarget, Staged } from './staged.js';
import type { Transaction } from './transaction.js';

/**
 * An address given bare with its length in the options, as IPDB's
 * add_ip(address, mask): `addIp('10.0.0.1', { prefixlen: 24 })`.
 */
function withLength(text: string, given: unknown, o: { prefixlen?: number; mask?: string } | undefined): string {
  if (o?.prefixlen === undefined && o?.mask === undefined) return text;
  if (o.prefixlen !== undefined && o.mask !== undefined)
    throw new ValidationError('addIp: give the prefix length or the mask, not both', 'mask');
  const field = o.prefixlen !== undefined ? 'prefixlen' : 'mask';
  if (typeof given !== 'string' || given.includes('/')) {
    throw new ValidationError(`addIp: give the prefix length in the address or a ${field} in the options, not both`, field);
  }
  return parseSpec(cidr, `${given}/${o.prefixlen ?? o.mask}`, 'addIp', field);
}

/** An explicit priority: lower ranks go first. */
export const RANK = int(0, 0x7fffffff);

export class InterfaceHandle {
  constructor(
    private readonly tx: Transaction,
    readonly key: string,
  ) {}

  private get netns(): string {
    return this.key.split('|')[0] as string;
  }

  private get ifname(): string {
    return this.key.split('|')[1] as string;
  }

  private staged(): Staged<InterfaceTarget> {
    return this.tx.touchInterface(this.key, true) as Staged<InterfaceTarget>;
  }

  private get target(): InterfaceTarget {
    return this.staged().target as InterfaceTarget;
  }

  /** Commits the transaction this handle belongs to (the end of `db.create(spec)...`). */
  commit(options?: CommitOptions): Promise<CommitReport> {
    return this.tx.commit(options);
  }

  /**
   * Stages attribute changes: state, mtu, address (MAC), master, ifalias
   * (alias), txqlen, ifname (a rename), data (kind options), addr_gen_mode,
   * netns (a move), and bridge port options as `brport_cost`,
   * `brport_learning`, ... (IPDB's names).
   */
  set(changes: InterfaceChanges): this {
    this.tx.live();
    return this.tx.atomically(() => this.setAll(changes));
  }

  private setAll(changes: InterfaceChanges): this {
    const c = parseSpec(InterfaceChanges, changes, `set of ${this.ifname}`);
    if (c.ifalias !== undefined && c.alias !== undefined && c.ifalias !== c.alias) {
      throw new ValidationError(`set of ${this.ifname}: alias and ifalias differ (they are one attribute)`, 'alias');
    }
    const brport: Record<string, number> = {};
    for (const [k, v] of Object.entries(c)) {
      if (v === undefined) continue;
      if (k.startsWith('brport_')) brport[k.slice('brport_'.length)] = v as number;
      else this.setOne(k, v);
    }
    if (Object.keys(brport).length) this.setPortOptions(brport);
    return this;
  }

  private setOne(k: string, v: unknown): void {
    switch (k) {
      case 'master':
        this.setMaster(v === null ? undefined : (v as string));
        return;
      case 'netns':
        this.moveTo(v as string);
        return;
      case 'ifname':
        this.rename(v as string);
        return;
      case 'alias':
      case 'ifalias':
        this.tx.updateInterface(this.key, (d) => {
          d.ifalias = v as string;
        });
        return;
      case 'data':
        this.tx.updateInterface(this.key, (d) => {
          d.data = { ...(d.data ?? {}), ...(v as Record<string, unknown>) };
        });
        return;
      default:
        this.tx.updateInterface(this.key, (d) => {
          (d as unknown as Record<string, unknown>)[k] = v;
        });
    }
  }

  private rename(name: string): void {
    if (name === this.target.ifname) return;
    if (
      this.tx.db.interfaces.get({ netns: this.netns, ifname: name }) ||
      this.tx.interfaces.get(this.tx.ifKey(name, this.netns))?.target
    ) {
      throw new ValidationError(`ifname: an interface named "${name}" exists already in ${this.netns}`, 'ifname');
    }
    this.tx.updateInterface(this.key, (d) => {
      d.ifname = name;
    });
  }

  /** Bridge port options: only on a port of a bridge (now, or once the commit made it one). */
  private setPortOptions(options: Record<string, number>): void {
    const master = this.target.master;
    const kind = master === undefined ? undefined : this.tx.touchInterface(this.tx.ifKey(master, this.netns), true)?.target?.kind;
    if (kind !== 'bridge') {
      const first = Object.keys(options)[0];
      throw new ValidationError(
        `brport_${first}: ${this.ifname} is not a port of a bridge${master ? ` (${master} is a ${kind ?? 'plain link'})` : ''}`,
        `brport_${first}`,
      );
    }
    this.tx.updateInterface(this.key, (d) => {
      d.brport = { ...(d.brport ?? {}), ...options };
    });
  }

  /**
   * `ip link set X netns other`. The kernel strips a moved link of its
   * addresses, master and up state; the target keeps its addresses and state
   * (without the link-local ones: the kernel makes those again from the MAC),
   * so the commit puts them back on the other side. The other namespace must
   * be followed by this store, which confirms the move there.
   */
  private moveTo(to: string): void {
    const me = this.target;
    if (to === me.netns) return;
    this.tx.followed(to);
    if (!this.staged().base) {
      // Not made yet: it is made where it goes (a veth's peer stays where it was to be).
      this.tx.updateInterface(this.key, (d) => {
        if (d.peer && d.peer.netns === undefined) d.peer.netns = d.netns;
        d.netns = to;
      });
      return;
    }
    if (
      this.tx.db.interfaces.get({ netns: to, ifname: me.ifname }) ||
      this.tx.interfaces.get(this.tx.ifKey(me.ifname, to))?.target
    ) {
      throw new ValidationError(`netns: an interface named "${me.ifname}" exists already in ${to}`, 'netns');
    }
    if (me.ports.length)
      throw new ValidationError(`netns: ${me.ifname} has ports (${me.ports.join(', ')}); a master cannot move`, 'netns');
    if (me.master !== undefined) this.setMaster(undefined);
    this.tx.updateInterface(this.key, (d) => {
      d.netns = to;
      d.ipaddr = d.ipaddr.filter((a) => !isLinkLocal(a));
      delete d.brport;
    });
  }

  private setMaster(master: string | undefined): void {
    const netns = this.netns;
    const me = this.ifname;
    const old = this.target.master;
    if (master !== undefined) {
      if (master === me) throw new ValidationError('master: an interface cannot be its own master', 'master');
      const mkey = this.tx.ifKey(master, netns);
      const m = this.tx.touchInterface(mkey, true) as Staged<InterfaceTarget>;
      if (m.target?.kind !== 'bridge' && m.target?.kind !== 'bond' && m.target?.kind !== 'vrf') {
        throw new ValidationError(
          `master: "${master}" is a ${m.target?.kind ?? 'plain interface'}, not a bridge, bond or vrf`,
          'master',
        );
      }
      this.tx.updateInterface(mkey, (d) => {
        if (!d.ports.includes(me)) d.ports.push(me);
        d.ports.sort();
      });
    }
    if (old !== undefined && old !== master) {
      this.tx.updateInterface(this.tx.ifKey(old, netns), (d) => {
        d.ports = d.ports.filter((p) => p !== me);
      });
    }
    this.tx.updateInterface(this.key, (d) => {
      if (master === undefined) delete d.master;
      else d.master = master;
      // Port options belong to the membership: a new master starts from the kernel's defaults.
      if (master !== old) delete d.brport;
    });
  }

  /**
   * An explicit priority: this interface's steps go before every object
   * without one, lower ranks first (`tx.interface('uplink').order(0)`).
   */
  order(rank: number): this {
    this.tx.live();
    this.staged().order = parseSpec(RANK, rank, 'order', 'rank');
    return this;
  }

  up(): this {
    return this.set({ state: 'up' });
  }

  down(): this {
    return this.set({ state: 'down' });
  }

  /**
   * Stages an address ('a/len'), with attributes when given: `{ label,
   * broadcast, scope, flags: ['nodad', 'noprefixroute'], valid_lft,
   * preferred_lft, metric }` (as `ip addr add`).
   */
  addIp(address: string | { address: string; prefixlen?: number; mask?: string }, options?: AddressOptions): this {
    this.tx.live();
    const { text, attrs } = this.addressArgs('addIp', address, options);
    const p = parseSpec(prefix(), text, `addIp on ${this.ifname}`, 'address');
    if (attrs?.broadcast !== undefined && p.family !== 4) {
      throw new ValidationError(`addIp ${text} options: broadcast: only an IPv4 address has one`, 'broadcast');
    }
    if (attrs?.label !== undefined && (p.family !== 4 || !attrs.label.startsWith(this.target.ifname))) {
      throw new ValidationError(
        `addIp ${text} options: label: an IPv4 label starts with the interface name (${this.target.ifname}:...)`,
        'label',
      );
    }
    this.tx.updateInterface(this.key, (d) => {
      if (d.ipaddr.includes(text)) throw new ValidationError(`address ${text} is on ${d.ifname} already`, 'address');
      // In the order given: of two addresses of one subnet, the first added is the primary.
      d.ipaddr.push(text);
      if (attrs && Object.keys(attrs).length) d.ipattrs = { ...(d.ipattrs ?? {}), [text]: attrs as AddressAttributes };
    });
    return this;
  }

  /**
   * Stages the removal of an address ('a/len'), or of every address a
   * filter matches: `delIp({ family: 'inet' })`, `delIp({ scope: 'link' })`,
   * `delIp({ label: 'v0:1' })`, `delIp('all')`.
   */
  delIp(which: string | AddressFilter): this {
    this.tx.live();
    if (typeof which === 'string' && which !== 'all') {
      const text = parseSpec(cidr, which, `delIp on ${this.ifname}`, 'address');
      this.tx.updateInterface(this.key, (d) => {
        if (!d.ipaddr.includes(text)) throw new ValidationError(`address ${text} is not on ${d.ifname}`, 'address');
        d.ipaddr = d.ipaddr.filter((a) => a !== text);
        if (d.ipattrs?.[text]) delete d.ipattrs[text];
      });
      return this;
    }
    const filter = parseSpec(AddressFilter, which, `delIp on ${this.ifname}`);
    const f: { family?: string; scope?: unknown; label?: string; prefixlen?: number; address?: string } =
      filter === 'all' ? {} : filter;
    const address = f.address === undefined ? undefined : parseSpec(prefix(), f.address, 'delIp address').address;
    const gone = this.target.ipaddr.filter((cidr) => {
      const a = this.addressInfo(cidr);
      return (
        (address === undefined || cidr.split('/')[0] === address) &&
        (f.family === undefined || a.family === f.family) &&
        (f.scope === undefined || a.scope === f.scope) &&
        (f.label === undefined || a.label === f.label) &&
        (f.prefixlen === undefined || a.prefixlen === f.prefixlen)
      );
    });
    if (gone.length === 0 && filter !== 'all') {
      // A filter that names addresses none of which is there removes nothing: refused, as a typo would be.
      throw new ValidationError(
        `delIp on ${this.ifname}: no address matches ${JSON.stringify(filter)}`,
        f.address ? 'address' : 'filter',
      );
    }
    this.tx.updateInterface(this.key, (d) => {
      d.ipaddr = d.ipaddr.filter((a) => !gone.includes(a));
      for (const a of gone) if (d.ipattrs?.[a]) delete d.ipattrs[a];
    });
    return this;
  }

  /** Stages an address unless the interface has it already (NDB's ensure for addresses). */
  ensureIp(address: string | { address: string; prefixlen?: number; mask?: string }, options?: AddressOptions): this {
    this.tx.live();
    const { text, attrs } = this.addressArgs('ensureIp', address, options);
    return this.target.ipaddr.includes(text) ? this : this.addIp(text, attrs);
  }

  /**
   * addIp's and ensureIp's arguments, both checked before either is used:
   * the address as 'a/len' (its length from the options when given bare),
   * and its attributes.
   */
  private addressArgs(
    what: string,
    address: unknown,
    options: unknown,
  ): { text: string; attrs?: z.output<typeof AddressOptions> } {
    const given = parseSpec(cidr, address, `${what} on ${this.ifname}`, 'address');
    const attrs = options === undefined ? undefined : parseSpec(AddressOptions, options, `${what} on ${this.ifname} options`);
    const text = withLength(given, address, attrs);
    if (attrs) {
      delete attrs.prefixlen;
      delete attrs.mask;
    }
    return { text, attrs };
  }

  /** What a filter looks at in one address: from the store, or from what was staged with it. */
  private addressInfo(cidr: string): { family: string; scope: unknown; label?: string; prefixlen: number } {
    const [address, plen] = cidr.split('/') as [string, string];
    const family = address.includes(':') ? 'inet6' : 'inet';
    const staged = this.target.ipattrs?.[cidr];
    const rec = this.tx.db.addresses.get({ netns: this.netns, ifname: this.ifname, address, prefixlen: Number(plen) });
    const scope = staged?.scope ?? rec?.scope ?? (address.startsWith('fe80:') ? 'link' : 'global');
    const label = (staged?.label ?? rec?.label) as string | undefined;
    return { family, scope, label, prefixlen: Number(plen) };
  }

  // ---- traffic control (shaping.ts)

  /**
   * Shapes the traffic leaving this interface, in p4net's terms: `rate`
   * ('10mbit' or bit/s), `delay` and `jitter` ('10ms' or ms), `loss` ('1%' or
   * percent), `limit` (packets); at least one, and jitter needs delay. One
   * netem root qdisc where the kernel has netem; without it, rate (and
   * limit) alone become a tbf and delay, jitter or loss a TcError at commit.
   */
  shape(spec: ShapeSpec): this {
    stageShape(this.tx, this.key, spec);
    return this;
  }

  /** The kernel's default root qdisc again (p4net's clear_qdisc); nothing to do where it is there. */
  clearShape(): this {
    stageClearShape(this.tx, this.key);
    return this;
  }

  /**
   * DummyNet's forward: all traffic arriving on this interface leaves
   * through `to` (an ingress qdisc, a u32 match-all filter, a mirred egress
   * redirect). `to` is an interface of the same namespace.
   */
  forwardTo(to: string): this {
    stageForward(this.tx, this.key, parseSpec(ifnameSpec, to, `forwardTo of ${this.ifname}`, 'to'));
    return this;
  }

  /** Ends a forward (its ingress qdisc goes with it); nothing to do where there is none. */
  clearForward(): this {
    stageClearForward(this.tx, this.key);
    return this;
  }

  /**
   * Stages an alternative name (`ip link property add dev X altname Y`):
   * another name the kernel finds the link by, up to 127 bytes, unique in
   * the namespace among names and alternative names.
   */
  addAltname(name: string): this {
    this.tx.live();
    const alt = parseSpec(altnameField, name, `addAltname on ${this.ifname}`, 'altname');
    const owner =
      this.tx.db.interfaces.get({ netns: this.netns, ifname: alt }) ??
      this.tx.db.interfaces.list({ netns: this.netns }).find((r) => (r.altnames as string[] | undefined)?.includes(alt));
    if (alt === this.target.ifname || (owner && owner.index !== this.target.index)) {
      const who = alt === this.target.ifname ? 'its own name' : `${owner?.ifname} in ${this.netns}`;
      throw new ValidationError(`addAltname on ${this.ifname}: "${alt}" is ${who} already`, 'altname');
    }
    this.tx.updateInterface(this.key, (d) => {
      if (d.altnames?.includes(alt)) throw new ValidationError(`${d.ifname} has the altname ${alt} already`, 'altname');
      d.altnames = [...(d.altnames ?? []), alt];
    });
    return this;
  }

  /** Stages the removal of an alternative name (`ip link property del dev X altname Y`). */
  delAltname(name: string): this {
    this.tx.live();
    const alt = parseSpec(altnameField, name, `delAltname on ${this.ifname}`, 'altname');
    this.tx.updateInterface(this.key, (d) => {
      if (!d.altnames?.includes(alt)) throw new ValidationError(`${d.ifname} has no altname ${alt}`, 'altname');
      const left = d.altnames.filter((a) => a !== alt);
      if (left.length) d.altnames = left;
      else delete d.altnames;
    });
    return this;
  }

  /** Makes `port` a port of this bridge or bond. */
  addPort(port: string): this {
    this.tx.interface(port, { netns: this.netns }).set({ master: this.ifname });
    return this;
  }

  delPort(port: string): this {
    const handle = this.tx.interface(port, { netns: this.netns });
    if (this.tx.interfaces.get(handle.key)?.target?.master !== this.ifname) {
      throw new ValidationError(`"${port}" is not a port of ${this.ifname}`, 'port');
    }
    handle.set({ master: null });
    return this;
  }

  /**
   * Stages the removal of the interface. A veth takes its peer with it, so
   * the peer is staged for removal too (and both come back on a rollback);
   * that needs the peer's namespace followed by this store.
   */
  remove(): void {
    this.tx.live();
    this.tx.atomically(() => this.removeNow());
  }

  private removeNow(): void {
    const s = this.staged();
    const me = (s.target ?? s.base) as InterfaceTarget;
    const peerKey = this.peerKey(s);
    if (!s.base) {
      this.tx.interfaces.delete(this.key);
      if (peerKey) this.tx.interfaces.delete(peerKey);
      return;
    }
    if (me.kind === 'veth' && !peerKey) {
      throw new ValidationError(
        `${me.ifname}: its veth peer is in a namespace this store does not follow; removing ${me.ifname} removes the peer too, ` +
          'and a rollback could not put it back. Follow that namespace as well (NetState.open({ netns: [...] })).',
        'ifname',
      );
    }
    // Its ports stay, without a master.
    for (const port of me.ports) this.tx.interface(port, { netns: me.netns }).set({ master: null });
    s.target = undefined;
    if (peerKey) {
      const p = this.tx.touchInterface(peerKey, false);
      if (p) p.target = undefined;
    }
    // The kernel deletes the links stacked on this one; staged, they are put back on a rollback.
    const base = s.base as InterfaceTarget;
    if (base.index !== undefined) {
      for (const up of uppersOf(this.tx.db, base.netns, base.index)) {
        const u = this.tx.touchInterface(this.tx.ifKey(up.ifname as string, base.netns), false);
        if (u?.target) new InterfaceHandle(this.tx, this.tx.ifKey(up.ifname as string, base.netns)).remove();
      }
    }
  }

  /** The key of this veth's peer, from either end of the pair (created or existing). */
  private peerKey(s: Staged<InterfaceTarget>): string | undefined {
    const t = (s.target ?? s.base) as InterfaceTarget;
    if (t.peer) return this.tx.ifKey(t.peer.ifname, t.peer.netns ?? t.netns);
    if (t.peerOf) {
      for (const [key, other] of this.tx.interfaces) {
        const o = other.target ?? other.base;
        if (o?.peer?.ifname === t.ifname && (o.peer.netns ?? o.netns) === t.netns) return key;
      }
    }
    return undefined;
  }
}
