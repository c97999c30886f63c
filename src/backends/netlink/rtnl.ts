/**
 * Rtnl: one call per kernel operation, like pyroute2's IPRoute.
 *
 *   const nl = await Rtnl.open({ netns: 'lab' });
 *   await nl.link('add', { ifname: 'v0', kind: 'veth', peer: 'v1' });
 *   const routes = await nl.route('dump', { table: 100 });
 */
import { defer, Observable, type Subscriber, share } from 'rxjs';
import { LinkError, NamespaceError, type NetlinkError, PrivilegeError, ValidationError } from '../../errors.js';
import { ENODEV, EPERM } from '../errno.js';
import { check, O_CLOEXEC, O_RDONLY, sys } from '../libc.js';
import { netnsExists, netnsPath } from '../netns.js';
import type { Body } from './codec/attributes.js';
import { NLMSG_HDRLEN } from './codec/header.js';
import { encodeMessage, FAMILIES, type FamilyName, familyOfType, type Message, typeNumber } from './codec/message.js';
import { Writer } from './codec/writer.js';
import { DEFAULT_GROUPS, NLM_F, type RtnlGroup } from './constants.js';
import type { AddressRecord } from './families/address.js';
import { type BuildContext, COMMANDS, type Command, type Family, type Request } from './families/family.js';
import { type LinkRecord, RTEXT_FILTER_SKIP_STATS, RTM_GETLINK } from './families/link.js';
import { readLink } from './families/link-bytes.js';
import type { NeighbourRecord } from './families/neighbour.js';
import type { QdiscRecord } from './families/qdisc.js';
import type { RouteRecord } from './families/route.js';
import type { RuleRecord } from './families/rule.js';
import { checkIfname } from './families/validate.js';
import { DumpInterruptedError, type MessageSink, NetlinkSocket, refusal } from './socket.js';

export type Spec = Record<string, unknown>;

export interface RtnlOptions {
  /** Named namespace (/run/netns/NAME); the root namespace when omitted. */
  netns?: string;
  /** Receive buffer of the event socket, bytes (default 8 MiB). */
  eventBuffer?: number;
  /** Multicast groups `events$` joins (default: links, addresses, routes, rules, neighbours). */
  groups?: readonly RtnlGroup[];
  /** Retries of a dump that the kernel marks NLM_F_DUMP_INTR (default 10). */
  dumpRetries?: number;
}

/** One entry of `batch()`. */
export interface BatchRequest {
  op: FamilyName;
  cmd: Exclude<Command, 'get' | 'dump'>;
  spec: Spec;
}

export type BatchResult = { ok: true } | { ok: false; error: NetlinkError | ValidationError | LinkError };

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

export class Rtnl {
  private readonly sock: NetlinkSocket;
  private readonly writer = new Writer(64 << 10);
  /** Notifications of this namespace; completes when the Rtnl closes. */
  readonly events$: Observable<RtnlEvent>;
  /** The open event stream (one socket, shared by every subscriber), so close() can end it. */
  private readonly streams = new Set<Subscriber<RtnlEvent>>();
  private closed = false;

  private constructor(readonly options: RtnlOptions) {
    this.sock = new NetlinkSocket({ netns: options.netns });
    this.events$ = defer(() => this.eventStream()).pipe(share());
  }

  /** Opens a socket in `netns` (root namespace when omitted). */
  static async open(options: RtnlOptions = {}): Promise<Rtnl> {
    if (options.netns !== undefined) {
      netnsPath(options.netns); // validates the name
      if (!netnsExists(options.netns)) throw new NamespaceError(`no network namespace named "${options.netns}"`);
    }
    return new Rtnl(options);
  }

  get netns(): string | undefined {
    return this.options.netns;
  }

  /** `ip link ...` */
  link(cmd: 'dump', spec?: Spec): Promise<LinkRecord[]>;
  link(cmd: 'get', spec: Spec): Promise<LinkRecord | undefined>;
  link(cmd: Exclude<Command, 'get' | 'dump'>, spec: Spec): Promise<void>;
  link(cmd: Command, spec: Spec = {}): Promise<unknown> {
    return this.call('link', cmd, spec);
  }

  /** `ip address ...` */
  addr(cmd: 'dump', spec?: Spec): Promise<AddressRecord[]>;
  addr(cmd: 'get', spec: Spec): Promise<AddressRecord | undefined>;
  addr(cmd: Exclude<Command, 'get' | 'dump'>, spec: Spec): Promise<void>;
  addr(cmd: Command, spec: Spec = {}): Promise<unknown> {
    return this.call('address', cmd, spec);
  }

  /** `ip route ...`; `get` is `ip route get` (a FIB lookup). */
  route(cmd: 'dump', spec?: Spec): Promise<RouteRecord[]>;
  route(cmd: 'get', spec: Spec): Promise<RouteRecord | undefined>;
  route(cmd: Exclude<Command, 'get' | 'dump'>, spec: Spec): Promise<void>;
  route(cmd: Command, spec: Spec = {}): Promise<unknown> {
    return this.call('route', cmd, spec);
  }

  /** `ip rule ...` */
  rule(cmd: 'dump', spec?: Spec): Promise<RuleRecord[]>;
  rule(cmd: 'get', spec: Spec): Promise<RuleRecord | undefined>;
  rule(cmd: Exclude<Command, 'get' | 'dump'>, spec: Spec): Promise<void>;
  rule(cmd: Command, spec: Spec = {}): Promise<unknown> {
    return this.call('rule', cmd, spec);
  }

  /** `ip neigh ...` */
  neigh(cmd: 'dump', spec?: Spec): Promise<NeighbourRecord[]>;
  neigh(cmd: 'get', spec: Spec): Promise<NeighbourRecord | undefined>;
  neigh(cmd: Exclude<Command, 'get' | 'dump'>, spec: Spec): Promise<void>;
  neigh(cmd: Command, spec: Spec = {}): Promise<unknown> {
    return this.call('neighbour', cmd, spec);
  }

  /** `tc qdisc ...` */
  qdisc(cmd: 'dump', spec?: Spec): Promise<QdiscRecord[]>;
  qdisc(cmd: 'get', spec: Spec): Promise<QdiscRecord | undefined>;
  qdisc(cmd: Exclude<Command, 'get' | 'dump'>, spec: Spec): Promise<void>;
  qdisc(cmd: Command, spec: Spec = {}): Promise<unknown> {
    return this.call('qdisc', cmd, spec);
  }

  /** Any object by name: `nl.call('route', 'add', {...})`. */
  async call(op: FamilyName, cmd: Command, spec: Spec = {}): Promise<unknown> {
    const fam = FAMILIES[op] as unknown as Family<Record<string, unknown>>;
    if (!fam) throw new ValidationError(`unknown object "${op}" (one of ${Object.keys(FAMILIES).join(', ')})`);
    if (!COMMANDS.includes(cmd)) throw new ValidationError(`unknown command "${cmd}" (one of ${COMMANDS.join(', ')})`);
    if (spec === null || typeof spec !== 'object') throw new ValidationError(`${op} ${cmd}: the spec must be an object`);
    const fds: number[] = [];
    let req: Request;
    try {
      req = await fam.build(cmd, spec, this.context(fds));
    } catch (e) {
      for (const fd of fds) sys.close(fd);
      throw e;
    }
    if (cmd === 'dump' || (cmd === 'get' && op !== 'link' && op !== 'route')) {
      const records = await this.dumpRecords(fam, req, spec);
      return cmd === 'get' ? records[0] : records;
    }
    try {
      const replies = await this.request(req, spec);
      if (cmd === 'get') {
        const reply = replies.find((m) => m.body);
        return reply ? fam.toRecord(reply.body as Body) : undefined;
      }
      return undefined;
    } catch (e) {
      if (cmd === 'get' && op === 'link' && (e as NetlinkError).errno === ENODEV) return undefined;
      throw e;
    } finally {
      for (const fd of fds) sys.close(fd);
    }
  }

  /** Sends one built request and returns its reply messages; throws its refusal. */
  private async request(req: Request, spec: unknown): Promise<Message[]> {
    this.writer.reset();
    const seq = this.sock.nextSeq();
    encodeMessage({ type: req.type, flags: req.flags | NLM_F.ACK, seq, pid: 0, body: req.body }, this.writer);
    const { messages, errors } = await this.sock.exchange(this.writer.slice(0), seq, seq, false);
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
  private async dumpRecords(fam: Family<Record<string, unknown>>, req: Request, spec: Spec): Promise<Record<string, unknown>[]> {
    const messages = await this.dumpMessages(req, spec);
    const records: Record<string, unknown>[] = [];
    const keep = fam.filter ? await fam.filter(spec, this.context([])) : () => true;
    for (const m of messages) {
      if (!m.body) continue;
      const r = fam.toRecord(m.body);
      if (keep(r)) records.push(r);
    }
    return records;
  }

  /** Raw dump messages (the store uses this to load). */
  async dumpMessages(req: Request, spec?: unknown): Promise<Message[]> {
    const retries = this.options.dumpRetries ?? 10;
    let last: Message[] = [];
    for (let attempt = 1; attempt <= retries; attempt++) {
      this.writer.reset();
      const seq = this.sock.nextSeq();
      encodeMessage({ type: req.type, flags: req.flags, seq, pid: 0, body: req.body }, this.writer);
      const { messages, errors, interrupted } = await this.sock.exchange(this.writer.slice(0), seq, seq, true);
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
  async dumpStream(op: FamilyName, spec: Spec, sink: MessageSink): Promise<{ interrupted: boolean }> {
    const fam = FAMILIES[op] as unknown as Family<Record<string, unknown>>;
    const req = await fam.build('dump', spec, this.context([]));
    this.writer.reset();
    const seq = this.sock.nextSeq();
    encodeMessage({ type: req.type, flags: req.flags, seq, pid: 0, body: req.body }, this.writer);
    const { errors, interrupted } = await this.sock.exchange(this.writer.slice(0), seq, seq, true, sink);
    const ack = errors.get(seq);
    if (ack) throw this.refused(refusal(ack, { type: req.type, flags: req.flags, spec }, seq));
    return { interrupted };
  }

  /**
   * Many requests, few sends: requests are packed into sends of up to 2048
   * messages; only the last of each asks for an ack. One result per request,
   * in order; kernel refusals are results, not exceptions. Each send is
   * built while the kernel executes the one before (large sends run on a
   * worker thread): sends go out one at a time, in order.
   */
  async batch(requests: readonly BatchRequest[]): Promise<BatchResult[]> {
    const results: BatchResult[] = new Array(requests.length);
    const fds: number[] = [];
    // Many requests name many links: one dump of them all beats one RTM_GETLINK per name.
    const ctx = this.context(fds, new Map(), requests.length >= BULK_NAMES ? () => this.linkIndexes() : undefined);
    // Its own writer: name lookups while building use the shared one.
    const writer = new Writer(4096);
    let inFlight: Promise<void> | undefined;
    try {
      let next = 0;
      while (next < requests.length) {
        writer.reset();
        const first = this.sock.nextSeq(Math.min(BATCH_MESSAGES, requests.length - next));
        const chunk: { index: number; req: Request; spec: Spec }[] = [];
        let lastOff = -1;
        while (next < requests.length && chunk.length < BATCH_MESSAGES && writer.pos < BATCH_BYTES) {
          const index = next++;
          const req = await this.buildOne(requests[index] as BatchRequest, index, ctx, results);
          if (!req) continue;
          const seq = (first + chunk.length) >>> 0;
          chunk.push({ index, req, spec: (requests[index] as BatchRequest).spec });
          lastOff = encodeMessage({ type: req.type, flags: req.flags & ~NLM_F.ACK, seq, pid: 0, body: req.body }, writer);
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

  /** One batch entry built, or its refusal recorded (undefined then). */
  private async buildOne(r: BatchRequest, i: number, ctx: BuildContext, results: BatchResult[]): Promise<Request | undefined> {
    try {
      if (r.cmd === ('get' as Command) || r.cmd === ('dump' as Command)) {
        throw new ValidationError(`batch: ${r.cmd} cannot be batched; call ${r.op}('${r.cmd}') instead`);
      }
      const fam = FAMILIES[r.op] as Family<object> | undefined;
      if (!fam) throw new ValidationError(`batch[${i}]: unknown object "${r.op}"`);
      return await fam.build(r.cmd, r.spec, ctx);
    } catch (e) {
      if (e instanceof ValidationError || e instanceof LinkError) results[i] = { ok: false, error: e };
      else throw e;
      return undefined;
    }
  }

  /** Name → index in this namespace, through RTM_GETLINK by IFLA_IFNAME. */
  async indexOf(name: string): Promise<number | undefined> {
    checkIfname(name);
    this.writer.reset();
    const seq = this.sock.nextSeq();
    encodeMessage(
      {
        type: RTM_GETLINK,
        flags: NLM_F.REQUEST | NLM_F.ACK,
        seq,
        body: { header: {}, attrs: { ifname: name, ext_mask: RTEXT_FILTER_SKIP_STATS } },
      },
      this.writer,
    );
    const { messages, errors } = await this.sock.exchange(this.writer.slice(0), seq, seq, false);
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
          if (!Number.isInteger(nameOrIndex) || nameOrIndex < 1) {
            throw new ValidationError(`${field}: ${nameOrIndex} is not an interface index`, field);
          }
          return nameOrIndex;
        }
        checkIfname(nameOrIndex, field);
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
        const fd = check('open', sys.open(netnsPath(name), O_RDONLY | O_CLOEXEC, 0), `namespace ${name}`);
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
