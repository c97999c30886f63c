/**
 * Rtnl: one call per kernel operation, like pyroute2's IPRoute.
 *
 *   const nl = await Rtnl.open({ netns: 'lab' });
 *   await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
 *   const routes = await nl.route('dump', { table: 100 });
 */
import { defer, Observable, type Subscriber, share } from 'rxjs';
import {
  LinkError,
  NamespaceError,
  type NetlinkError,
  NetStateError,
  PrivilegeError,
  type TcError,
  ValidationError,
} from '../../errors.js';
import { ENODEV, EPERM } from '../errno.js';
import { check, O_CLOEXEC, O_RDONLY, sys } from '../libc.js';
import { netnsExists, netnsPath } from '../netns.js';
import { field, ifname, int, list, parseSpec, Refusal, shown, spec, type z } from '../schema.js';
import { addTuntapLink, isTuntapSpec, type TuntapLinkSpec } from '../tuntap.js';
import type { Body } from './codec/attributes.js';
import { NLMSG_HDRLEN } from './codec/header.js';
import { encodeMessage, FAMILIES, type FamilyName, familyOfType, type Message, typeNumber } from './codec/message.js';
import { Writer } from './codec/writer.js';
import { DEFAULT_GROUPS, NLM_F, RTNLGRP, type RtnlGroup } from './constants.js';
import type { AddressFilter, AddressRecord, AddressSpec } from './families/address.js';
import { type BuildContext, COMMANDS, type Command, type Family, type Request } from './families/family.js';
import type { FilterFilter, FilterKey, FilterRecord, FilterSpec } from './families/filter.js';
import {
  type LinkFilter,
  type LinkKey,
  type LinkRecord,
  type LinkSpec,
  RTEXT_FILTER_SKIP_STATS,
  RTM_GETLINK,
} from './families/link.js';
import { readLink } from './families/link-bytes.js';
import { AltnameSpec as AltnameSchema, type AltnameSpec, buildAltname } from './families/link-property.js';
import type { NeighbourFilter, NeighbourRecord, NeighbourSpec } from './families/neighbour.js';
import type { QdiscFilter, QdiscKey, QdiscRecord, QdiscSpec } from './families/qdisc.js';
import type { RouteFilter, RouteQuery, RouteRecord, RouteSpec } from './families/route.js';
import type { RuleFilter, RuleRecord, RuleSpec } from './families/rule.js';
import { DumpInterruptedError, type MessageSink, NetlinkSocket, refusal } from './socket.js';

/** An unchecked spec, as `call()` and `batch()` take one from anywhere (JSON, another layer). */
export type Spec = Record<string, unknown>;

/** What `Rtnl.open` takes. */
const RtnlOptionsSchema = spec({
  /** Named namespace (/run/netns/NAME); the root namespace when omitted. */
  netns: field<string, string>((v) =>
    typeof v === 'string' ? v : new Refusal(`expected a namespace name (a string), got ${shown(v)}`),
  ).optional(),
  /** Receive buffer of the event socket, bytes (default 8 MiB). */
  eventBuffer: int(4096, 0x7fffffff, 'a buffer size in bytes').optional(),
  /** Multicast groups `events$` joins (default: links, addresses, routes, rules, neighbours). */
  groups: list(
    field<RtnlGroup, RtnlGroup>((v) =>
      typeof v === 'string' && Object.hasOwn(RTNLGRP, v)
        ? (v as RtnlGroup)
        : new Refusal(`${shown(v)} is not a multicast group (${Object.keys(RTNLGRP).join(', ')})`),
    ),
    Object.keys(RTNLGRP).length * 4,
    'a list of multicast groups',
  ).optional(),
  /** Retries of a dump that the kernel marks NLM_F_DUMP_INTR (default 10). */
  dumpRetries: int(1, 1000).optional(),
});
export type RtnlOptions = z.input<typeof RtnlOptionsSchema>;

/** Commands a batch takes: changes only (a dump or a get answers with records). */
export type BatchCommand = Exclude<Command, 'get' | 'dump'>;

/** The spec each object takes in a batch (its `get`/`del` key types included). */
interface BatchSpecs {
  link: LinkSpec | LinkKey;
  address: AddressSpec;
  route: RouteSpec;
  rule: RuleSpec;
  neighbour: NeighbourSpec;
  qdisc: QdiscSpec | QdiscKey;
  filter: FilterSpec | FilterKey;
}

/** One entry of `batch()`, typed by object: a typo in a spec fails at compile time. */
export type BatchRequest = { [O in FamilyName]: { op: O; cmd: BatchCommand; spec: BatchSpecs[O] } }[FamilyName];

/** An entry built elsewhere (JSON, the transaction layer): checked at run time only. */
export interface UncheckedBatchRequest {
  op: FamilyName;
  cmd: BatchCommand;
  spec: Readonly<Spec>;
}

/**
 * One answer per entry. A refused entry carries its error: a ValidationError
 * (or LinkError for an unknown interface, TcError for an unknown qdisc kind)
 * when its input was bad and nothing was sent for it, a NetlinkError when the
 * kernel refused it.
 */
export type BatchResult =
  | { ok: true }
  | { ok: false; error: NetlinkError | ValidationError | LinkError | TcError | NetStateError };

/** Every success is the same result: 100 000 requests need not allocate 100 000 of them. */
const OK: BatchResult = Object.freeze({ ok: true });

/** A decoded notification from `events$`. */
export type RtnlEvent =
  | { event: string; object: FamilyName; netns?: string; record: Record<string, unknown> }
  | { event: 'OVERRUN'; object?: undefined; netns?: string; record?: undefined };

/** Requests per send in a batch: bounded so every possible error reply fits the receive buffer. */
const BATCH_MESSAGES = 2048;
/** Batches this long resolve link names with one dump. */
const BULK_NAMES = 16;
const AF_UNSPEC = 0;
const BATCH_BYTES = 256 << 10;

const OBJECT_OF: Record<number, FamilyName> = {};
for (const [name, fam] of Object.entries(FAMILIES) as [FamilyName, Family<object>][]) {
  for (const t of Object.values(fam.types)) OBJECT_OF[t] = name;
}

/** The families by name, for the batch loop (a Map lookup beats Object.hasOwn there). */
const BATCH_FAMILIES = new Map(Object.entries(FAMILIES) as [string, Family<Record<string, unknown>>][]);

/** The family an op names, or a ValidationError (`entry`: a batch entry's index, for the message). */
function familyOf(op: unknown, entry?: number): Family<Record<string, unknown>> {
  if (typeof op === 'string' && Object.hasOwn(FAMILIES, op)) {
    return FAMILIES[op as FamilyName] as unknown as Family<Record<string, unknown>>;
  }
  const at = entry === undefined ? '' : `batch[${entry}]: `;
  throw new ValidationError(`${at}unknown object ${shown(op)} (one of ${Object.keys(FAMILIES).join(', ')})`, 'op');
}

function commandOf(cmd: unknown, entry?: number): Command {
  if (typeof cmd === 'string' && (COMMANDS as readonly string[]).includes(cmd)) return cmd as Command;
  const at = entry === undefined ? '' : `batch[${entry}]: `;
  throw new ValidationError(`${at}unknown command ${shown(cmd)} (one of ${COMMANDS.join(', ')})`, 'cmd');
}

/**
 * The last line of defence: an error from building or encoding a request
 * that is not one of ours means the input reached somewhere validation
 * should have stopped it. It still reaches the caller as a ValidationError
 * (nothing was sent), with the original as its `cause`.
 */
function asNetStateError(e: unknown, what: string): NetStateError {
  if (e instanceof NetStateError) return e;
  const text = e instanceof Error ? `${e.name}: ${e.message}` : shown(e);
  return Object.assign(new ValidationError(`${what}: the request could not be built (${text})`), { cause: e });
}

export class Rtnl {
  private readonly sock: NetlinkSocket;
  private readonly writer = new Writer(64 << 10);
  /** Notifications of this namespace; completes when the Rtnl closes. */
  readonly events$: Observable<RtnlEvent>;
  /** The open event stream (one socket, shared by every subscriber), so close() can end it. */
  private readonly streams = new Set<Subscriber<RtnlEvent>>();
  private closed = false;

  private constructor(readonly options: z.output<typeof RtnlOptionsSchema>) {
    this.sock = new NetlinkSocket({ netns: options.netns });
    this.events$ = defer(() => this.eventStream()).pipe(share());
  }

  /** Opens a socket in `netns` (root namespace when omitted). */
  static async open(options: RtnlOptions = {}): Promise<Rtnl> {
    const o = parseSpec(RtnlOptionsSchema, options, 'Rtnl.open');
    if (o.netns !== undefined) {
      netnsPath(o.netns); // validates the name: a NamespaceError
      if (!netnsExists(o.netns)) throw new NamespaceError(`no network namespace named "${o.netns}"`);
    }
    return new Rtnl(o);
  }

  get netns(): string | undefined {
    return this.options.netns;
  }

  /** `ip link ...` */
  link(cmd: 'dump', spec?: LinkFilter): Promise<LinkRecord[]>;
  link(cmd: 'get', spec: LinkKey): Promise<LinkRecord | undefined>;
  link(cmd: 'del', spec: LinkKey): Promise<void>;
  link(cmd: 'add', spec: TuntapLinkSpec): Promise<void>;
  link(cmd: 'add' | 'set' | 'replace', spec: LinkSpec): Promise<void>;
  link(cmd: Command, spec: unknown = {}): Promise<unknown> {
    return this.call('link', cmd, spec);
  }

  /** `ip address ...` */
  addr(cmd: 'dump', spec?: AddressFilter): Promise<AddressRecord[]>;
  addr(cmd: 'get', spec: AddressFilter): Promise<AddressRecord | undefined>;
  addr(cmd: BatchCommand, spec: AddressSpec): Promise<void>;
  addr(cmd: Command, spec: unknown = {}): Promise<unknown> {
    return this.call('address', cmd, spec);
  }

  /** `ip route ...`; `get` is `ip route get` (a FIB lookup). */
  route(cmd: 'dump', spec?: RouteFilter): Promise<RouteRecord[]>;
  route(cmd: 'get', spec: RouteQuery): Promise<RouteRecord | undefined>;
  route(cmd: BatchCommand, spec: RouteSpec): Promise<void>;
  route(cmd: Command, spec: unknown = {}): Promise<unknown> {
    return this.call('route', cmd, spec);
  }

  /** `ip rule ...` (the kernel has no `set`/`replace` for rules: those are refused). */
  rule(cmd: 'dump', spec?: RuleFilter): Promise<RuleRecord[]>;
  rule(cmd: 'get', spec: RuleFilter): Promise<RuleRecord | undefined>;
  rule(cmd: BatchCommand, spec: RuleSpec): Promise<void>;
  rule(cmd: Command, spec: unknown = {}): Promise<unknown> {
    return this.call('rule', cmd, spec);
  }

  /** `ip neigh ...` */
  neigh(cmd: 'dump', spec?: NeighbourFilter): Promise<NeighbourRecord[]>;
  neigh(cmd: 'get', spec: NeighbourFilter): Promise<NeighbourRecord | undefined>;
  neigh(cmd: BatchCommand, spec: NeighbourSpec): Promise<void>;
  neigh(cmd: Command, spec: unknown = {}): Promise<unknown> {
    return this.call('neighbour', cmd, spec);
  }

  /** `tc qdisc ...` */
  qdisc(cmd: 'dump', spec?: QdiscFilter): Promise<QdiscRecord[]>;
  qdisc(cmd: 'get', spec: QdiscFilter): Promise<QdiscRecord | undefined>;
  qdisc(cmd: 'del', spec: QdiscKey): Promise<void>;
  qdisc(cmd: 'add' | 'set' | 'replace', spec: QdiscSpec): Promise<void>;
  qdisc(cmd: Command, spec: unknown = {}): Promise<unknown> {
    return this.call('qdisc', cmd, spec);
  }

  /** `tc filter ...` (u32 with mirred actions); a dump names one device (and a parent, 'ingress' by default). */
  filter(cmd: 'dump', spec: FilterFilter): Promise<FilterRecord[]>;
  filter(cmd: 'get', spec: FilterFilter): Promise<FilterRecord | undefined>;
  filter(cmd: 'del', spec: FilterKey): Promise<void>;
  filter(cmd: 'add' | 'set' | 'replace', spec: FilterSpec): Promise<void>;
  filter(cmd: Command, spec: unknown = {}): Promise<unknown> {
    return this.call('filter', cmd, spec);
  }

  /**
   * Alternative names of a link: `ip link property add dev v0 altname
   * uplink`. The kernel announces the change only for a link that is up.
   */
  async altname(cmd: 'add' | 'del', spec: AltnameSpec): Promise<void> {
    if (cmd !== 'add' && cmd !== 'del') throw new ValidationError(`altname: the command is add or del, not ${shown(cmd)}`);
    const what = `altname ${cmd}`;
    const s = parseSpec(AltnameSchema, spec, what);
    if (s.ifname === undefined && s.index === undefined) {
      throw new ValidationError(`${what}: name the link with ifname or index`, 'ifname');
    }
    const req = await buildAltname(cmd, s, this.context([])).catch((e) => {
      throw asNetStateError(e, what);
    });
    await this.request(req, spec, what);
  }

  /**
   * Any object by name: `nl.call('route', 'add', {...})`. The spec is
   * checked at run time only (this is the entry point for specs that come
   * from JSON or another layer). Throws only NetStateErrors.
   */
  async call(op: FamilyName, cmd: Command, spec: unknown = {}): Promise<unknown> {
    const fam = familyOf(op);
    const command = commandOf(cmd);
    const what = `${op} ${command}`;
    // tun/tap devices are made by ioctl on /dev/net/tun, not by netlink (see tuntap.ts).
    if (op === 'link' && command === 'add' && isTuntapSpec(spec)) {
      return addTuntapLink(spec, this.options.netns, {
        set: (s) => this.call('link', 'set', s),
        del: (s) => this.call('link', 'del', s),
      });
    }
    const fds: number[] = [];
    let req: Request;
    try {
      req = await fam.build(command, spec, this.context(fds));
    } catch (e) {
      for (const fd of fds) sys.close(fd);
      throw asNetStateError(e, what);
    }
    if (command === 'dump' || (command === 'get' && op !== 'link' && op !== 'route')) {
      const records = await this.dumpRecords(fam, req, spec);
      return command === 'get' ? records[0] : records;
    }
    try {
      const replies = await this.request(req, spec, what);
      if (command === 'get') {
        const reply = replies.find((m) => m.body);
        return reply ? fam.toRecord(reply.body as Body) : undefined;
      }
      return undefined;
    } catch (e) {
      if (command === 'get' && op === 'link' && (e as NetlinkError).errno === ENODEV) return undefined;
      throw e;
    } finally {
      for (const fd of fds) sys.close(fd);
    }
  }

  /** Encodes one message into the shared writer; an encoding failure is the spec's (nothing is sent). */
  private encodeOne(req: Request, flags: number, seq: number, what: string): Buffer {
    this.writer.reset();
    try {
      encodeMessage({ type: req.type, flags, seq, pid: 0, body: req.body }, this.writer);
    } catch (e) {
      throw asNetStateError(e, what);
    }
    return this.writer.slice(0);
  }

  /** Sends one built request and returns its reply messages; throws its refusal. */
  private async request(req: Request, spec: unknown, what: string): Promise<Message[]> {
    const seq = this.sock.nextSeq();
    const bytes = this.encodeOne(req, req.flags | NLM_F.ACK, seq, what);
    const { messages, errors } = await this.sock.exchange(bytes, seq, seq, false);
    const ack = errors.get(seq);
    if (ack) throw this.refused(refusal(ack, { type: req.type, flags: req.flags | NLM_F.ACK, spec }, seq));
    return messages;
  }

  private refused(err: NetlinkError): Error {
    if (err.errno === EPERM && sys.geteuid() !== 0) {
      return Object.assign(new PrivilegeError(`${err.request.type} needs CAP_NET_ADMIN, which this process lacks; run as root`), {
        cause: err,
      });
    }
    return err;
  }

  /** A dump, retried while the kernel marks it interrupted, turned into records and filtered. */
  private async dumpRecords(
    fam: Family<Record<string, unknown>>,
    req: Request,
    spec: unknown,
  ): Promise<Record<string, unknown>[]> {
    const messages = await this.dumpMessages(req, spec);
    const records: Record<string, unknown>[] = [];
    const keep = req.keep;
    for (const m of messages) {
      if (!m.body) continue;
      const r = fam.toRecord(m.body);
      if (!keep || keep(r)) records.push(r);
    }
    return records;
  }

  /** Raw dump messages (the store uses this to load). */
  async dumpMessages(req: Request, spec?: unknown): Promise<Message[]> {
    const retries = this.options.dumpRetries ?? 10;
    let last: Message[] = [];
    for (let attempt = 1; attempt <= retries; attempt++) {
      const seq = this.sock.nextSeq();
      const bytes = this.encodeOne(req, req.flags, seq, 'dump');
      const { messages, errors, interrupted } = await this.sock.exchange(bytes, seq, seq, true);
      const ack = errors.get(seq);
      if (ack) throw this.refused(refusal(ack, { type: req.type, flags: req.flags, spec }, seq));
      if (!interrupted) return messages;
      last = messages;
    }
    throw new DumpInterruptedError(retries, last);
  }

  /**
   * A dump of `op` streamed undecoded into `sink`, one message at a time, so
   * that a million routes never exist as a million objects. No retry here:
   * the caller learns whether the kernel marked the dump interrupted.
   */
  async dumpStream(op: FamilyName, spec: unknown, sink: MessageSink): Promise<{ interrupted: boolean }> {
    const fam = familyOf(op);
    let req: Request;
    try {
      req = await fam.build('dump', spec, this.context([]));
    } catch (e) {
      throw asNetStateError(e, `${op} dump`);
    }
    const seq = this.sock.nextSeq();
    const bytes = this.encodeOne(req, req.flags, seq, `${op} dump`);
    const { errors, interrupted } = await this.sock.exchange(bytes, seq, seq, true, sink);
    const ack = errors.get(seq);
    if (ack) throw this.refused(refusal(ack, { type: req.type, flags: req.flags, spec }, seq));
    return { interrupted };
  }

  /**
   * Many requests, few sends: requests are packed into sends of up to 2048
   * messages; only the last of each asks for an ack. One result per request,
   * in order: an entry whose input is bad gets its ValidationError (or
   * LinkError) as its result and nothing is sent for it, the others still
   * go; kernel refusals are results too, never exceptions. Each send is
   * built while the kernel executes the one before (large sends run on a
   * worker thread): sends go out one at a time, in order. Rejects only when
   * `requests` is not an array, or the socket itself fails.
   */
  async batch(requests: readonly (BatchRequest | UncheckedBatchRequest)[]): Promise<BatchResult[]> {
    let count: number;
    try {
      if (!Array.isArray(requests)) throw new TypeError('not an array');
      count = requests.length;
    } catch {
      throw new ValidationError(`batch: expected an array of { op, cmd, spec }, got ${shown(requests)}`);
    }
    const results: BatchResult[] = new Array(count);
    const fds: number[] = [];
    // Many requests name many links: one dump of them all beats one RTM_GETLINK per name.
    const ctx = this.context(fds, new Map(), count >= BULK_NAMES ? () => this.linkIndexes() : undefined);
    // Its own writer: name lookups while building use the shared one.
    const writer = new Writer(4096);
    const entry: { spec: unknown } = { spec: undefined };
    let inFlight: Promise<void> | undefined;
    try {
      let next = 0;
      while (next < count) {
        writer.reset();
        const first = this.sock.nextSeq(Math.min(BATCH_MESSAGES, count - next));
        const chunk: { index: number; req: Request; spec: unknown }[] = [];
        let lastOff = -1;
        while (next < count && chunk.length < BATCH_MESSAGES && writer.pos < BATCH_BYTES) {
          const index = next++;
          const req = await this.buildOne(requests, index, ctx, results, entry);
          if (!req) continue;
          const seq = (first + chunk.length) >>> 0;
          const start = writer.pos;
          try {
            lastOff = encodeMessage({ type: req.type, flags: req.flags & ~NLM_F.ACK, seq, pid: 0, body: req.body }, writer);
          } catch (e) {
            writer.pos = start; // the entry's partial bytes are dropped; the others stand
            results[index] = { ok: false, error: asNetStateError(e, `batch[${index}]`) };
            continue;
          }
          chunk.push({ index, req, spec: entry.spec });
        }
        if (lastOff < 0) continue; // nothing valid in this stretch
        // Only the last request of a send asks for an ack: it arrives after every error before it.
        writer.buf.writeUInt16LE(writer.buf.readUInt16LE(lastOff + 6) | NLM_F.ACK, lastOff + 6);
        const bytes = writer.slice(0);
        await inFlight;
        inFlight = this.sock.exchange(bytes, first, (first + chunk.length - 1) >>> 0, false).then(({ errors }) => {
          chunk.forEach((item, k) => {
            const s = (first + k) >>> 0;
            const ack = errors.get(s);
            results[item.index] = ack
              ? { ok: false, error: refusal(ack, { type: item.req.type, flags: item.req.flags, spec: item.spec }, s) }
              : OK;
          });
        });
        // A failed send must not go unobserved while the next one is built.
        inFlight.catch(() => undefined);
      }
      await inFlight;
    } finally {
      await inFlight?.catch(() => undefined);
      for (const fd of fds) sys.close(fd);
    }
    return results;
  }

  /**
   * One batch entry built, or its refusal recorded in `results` (undefined
   * then). Its spec is left in `entry.spec` for the error message of a
   * kernel refusal. Nothing here allocates for an entry that builds: this
   * runs 100 000 times for a batch of 100 000 routes.
   */
  private async buildOne(
    requests: readonly unknown[],
    i: number,
    ctx: BuildContext,
    results: BatchResult[],
    entry: { spec: unknown },
  ): Promise<Request | undefined> {
    let op: unknown;
    let cmd: unknown;
    try {
      const r = requests[i] as { op?: unknown; cmd?: unknown; spec?: unknown } | null | undefined;
      if (r === null || typeof r !== 'object' || Array.isArray(r)) {
        throw new ValidationError(`batch[${i}]: expected { op, cmd, spec }, got ${shown(r)}`);
      }
      op = r.op;
      cmd = r.cmd;
      // The usual entry is recognised by plain comparisons; anything else gets the full checks.
      const fam = (typeof op === 'string' && BATCH_FAMILIES.get(op)) || familyOf(op, i);
      const command = cmd === 'add' || cmd === 'replace' || cmd === 'set' || cmd === 'del' ? cmd : commandOf(cmd, i);
      if (command === 'get' || command === 'dump') {
        throw new ValidationError(`batch[${i}]: ${command} cannot be batched; call ${op}('${command}') instead`, 'cmd');
      }
      entry.spec = r.spec;
      return await fam.build(command, entry.spec, ctx);
    } catch (e) {
      const what = typeof op === 'string' && typeof cmd === 'string' ? `batch[${i}] ${op} ${cmd}` : `batch[${i}]`;
      results[i] = { ok: false, error: asNetStateError(e, what) };
      return undefined;
    }
  }

  /** Name → index in this namespace, through RTM_GETLINK by IFLA_IFNAME; undefined when there is none. */
  async indexOf(name: string): Promise<number | undefined> {
    const ifnameText = parseSpec(ifname, name, 'indexOf');
    const seq = this.sock.nextSeq();
    const bytes = this.encodeOne(
      {
        type: RTM_GETLINK,
        flags: NLM_F.REQUEST | NLM_F.ACK,
        body: { header: {}, attrs: { ifname: ifnameText, ext_mask: RTEXT_FILTER_SKIP_STATS } },
      },
      NLM_F.REQUEST | NLM_F.ACK,
      seq,
      'indexOf',
    );
    const { messages, errors } = await this.sock.exchange(bytes, seq, seq, false);
    if (errors.size) return undefined;
    return messages.find((m) => m.body)?.body?.header.index as number | undefined;
  }

  /** Every link's name and index, read from one dump's bytes. */
  async linkIndexes(): Promise<Map<string, number>> {
    const names = new Map<string, number>();
    await this.dumpStream('link', {}, (buf, off, len) => {
      if (buf[off + NLMSG_HDRLEN] !== AF_UNSPEC) return;
      const link = readLink(buf, off + NLMSG_HDRLEN, off + len);
      if (link.ifname !== undefined) names.set(link.ifname, link.index);
    });
    return names;
  }

  /**
   * What builders resolve names and open namespaces with. With `cache`,
   * names are looked up once per batch; with `fill`, the first name not in
   * the cache fills it with every link at once.
   */
  private context(fds: number[], cache?: Map<string, number>, fill?: () => Promise<Map<string, number>>): BuildContext {
    let filled = false;
    return {
      index: async (nameOrIndex, field) => {
        if (typeof nameOrIndex === 'number') {
          if (!Number.isInteger(nameOrIndex) || nameOrIndex < 1 || nameOrIndex > 0x7fffffff) {
            throw new ValidationError(`${field}: ${shown(nameOrIndex)} is not an interface index`, field);
          }
          return nameOrIndex;
        }
        parseSpec(ifname, nameOrIndex, field);
        let cached = cache?.get(nameOrIndex);
        if (cached === undefined && cache && fill && !filled) {
          filled = true;
          for (const [name, index] of await fill()) if (!cache.has(name)) cache.set(name, index);
          cached = cache.get(nameOrIndex);
        }
        if (cached !== undefined) return cached;
        const index = await this.indexOf(nameOrIndex);
        if (index === undefined) {
          throw new LinkError(`${field}: no interface named "${nameOrIndex}" in ${this.where()}`);
        }
        cache?.set(nameOrIndex, index);
        return index;
      },
      netnsFd: (name) => {
        const path = netnsPath(name);
        if (!netnsExists(name)) throw new NamespaceError(`netns: no network namespace named "${name}"`);
        const fd = check('open', sys.open(path, O_RDONLY | O_CLOEXEC, 0), `namespace ${name}`);
        fds.push(fd);
        return fd;
      },
    };
  }

  private where(): string {
    return this.options.netns ? `namespace "${this.options.netns}"` : 'the root namespace';
  }

  private eventStream(): Observable<RtnlEvent> {
    return new Observable<RtnlEvent>((subscriber) => {
      if (this.closed) return subscriber.complete();
      const sock = new NetlinkSocket({
        netns: this.options.netns,
        rcvbuf: this.options.eventBuffer,
        groups: this.options.groups ?? DEFAULT_GROUPS,
      });
      const netns = this.options.netns;
      sock.onEvents = (messages) => {
        for (const m of messages) {
          if (!m.body) continue;
          const type = typeNumber(m.type);
          const object = OBJECT_OF[type];
          const fam = familyOfType(type);
          if (!object || !fam) continue;
          subscriber.next({ event: m.type, object, netns, record: fam.toRecord(m.body) as Record<string, unknown> });
        }
      };
      sock.onOverrun = () => subscriber.next({ event: 'OVERRUN', netns });
      this.streams.add(subscriber);
      return () => {
        this.streams.delete(subscriber);
        sock.close();
      };
    });
  }

  /**
   * Closes the request socket (what is still awaited rejects with a
   * ClosedError) and the event socket, completing every `events$` subscriber.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
    for (const s of [...this.streams]) s.complete();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
