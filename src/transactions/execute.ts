/**
 * Runs a plan's requests: one Rtnl per namespace for the duration of a
 * commit, netlink requests in batches, tun/tap creations by ioctl, and after
 * a request the kernel may not announce, the link asked for again so the
 * store learns what changed.
 */
import type { FamilyName } from '../backends/netlink/codec/message.js';
import type { BatchResult } from '../backends/netlink/rtnl.js';
import { Rtnl } from '../backends/netlink/rtnl.js';
import type { Database } from '../db/database.js';
import { ROOT } from '../db/source.js';
import { HostRequests, isHostRequest } from './host-requests.js';
import type { Request } from './plan.js';

export class Executor {
  private readonly open = new Map<string, Rtnl>();
  /** Namespaces, sysctls and processes. */
  readonly host: HostRequests;

  constructor(private readonly db: Database) {
    this.host = new HostRequests(db);
  }

  async of(netns: string): Promise<Rtnl> {
    let nl = this.open.get(netns);
    if (!nl) {
      nl = await Rtnl.open({ netns: netns === ROOT ? undefined : netns });
      this.open.set(netns, nl);
    }
    return nl;
  }

  /**
   * Requests of one namespace, in order, one result each: netlink ones go
   * out in batches (the kernel runs them one after another), a tun/tap is
   * made by its own calls. Names are resolved when a batch is built, so a
   * request naming a link another request of the same call creates must not
   * be in it (the plan puts them in different phases).
   */
  async run(netns: string, requests: readonly Request[]): Promise<BatchResult[]> {
    if (requests.some((r) => r.onlyChanges)) return this.runChangesOnly(netns, requests);
    const results: BatchResult[] = [];
    for (let at = 0; at < requests.length; ) {
      const r = requests[at] as Request;
      if (isHostRequest(r)) {
        results.push(await outcome(this.host.run(r)));
        at++;
        continue;
      }
      const nl = await this.of(netns);
      if (r.op === 'tuntap') {
        results.push(await outcome(nl.link('add', { kind: 'tuntap', ...r.spec } as never)));
        at++;
        continue;
      }
      if (r.op === 'altname') {
        results.push(await outcome(nl.altname(r.cmd as 'add' | 'del', r.spec as never)));
        at++;
        continue;
      }
      let end = at;
      const single = (q: Request) => q.op === 'tuntap' || q.op === 'altname' || isHostRequest(q);
      while (end < requests.length && !single(requests[end] as Request)) end++;
      const slice = requests.slice(at, end);
      results.push(...(await nl.batch(slice.map((q) => ({ op: q.op as never, cmd: q.cmd, spec: q.spec })))));
      at = end;
    }
    return results;
  }

  /**
   * Bridge port options sent only where they differ from what the port has
   * now (the store, once it holds everything announced so far): one request
   * at a time, in order, since each may depend on the one before.
   */
  private async runChangesOnly(netns: string, requests: readonly Request[]): Promise<BatchResult[]> {
    const results: BatchResult[] = [];
    for (const r of requests) {
      if (!r.onlyChanges) {
        results.push(...(await this.run(netns, [r])));
        continue;
      }
      await this.db.barrier(netns);
      const port = this.db.interfaces.get({ netns, ifname: r.spec.ifname as string })?.slave_data as
        | Record<string, unknown>
        | undefined;
      const wanted = Object.entries(r.spec.slave_data as Record<string, number>).filter(([k, v]) => port?.[k] !== v);
      if (wanted.length === 0) {
        results.push({ ok: true });
        continue;
      }
      const { onlyChanges: _o, ...plain } = r;
      results.push(...(await this.run(netns, [{ ...plain, spec: { ...r.spec, slave_data: Object.fromEntries(wanted) } }])));
    }
    return results;
  }

  /** One request on its own (no batch); throws its refusal. */
  async send(r: Request): Promise<void> {
    if (r.onlyChanges || r.op === 'tuntap' || r.op === 'altname' || isHostRequest(r)) {
      const [result] = await this.run(r.netns, [r]);
      if (result && !result.ok) throw result.error;
      return;
    }
    const nl = await this.of(r.netns);
    await nl.call(r.op as FamilyName, r.cmd, r.spec as never);
  }

  /** As `run`, but a batch that fails as a whole (its socket broke) is sent again one request at a time. */
  async runOrEach(netns: string, requests: readonly Request[]): Promise<BatchResult[]> {
    try {
      return await this.run(netns, requests);
    } catch {
      const results: BatchResult[] = [];
      for (const r of requests) results.push(await outcome(this.send(r)));
      return results;
    }
  }

  /**
   * Asks the kernel again for the links these requests changed where the
   * change may go unannounced (`refresh`), once the store holds what was
   * announced: the store then shows them as the kernel has them.
   */
  async refresh(requests: readonly Request[]): Promise<void> {
    const wanted = requests.filter((r) => r.refresh && (r.op === 'link' || r.op === 'tuntap' || r.op === 'altname'));
    if (wanted.length === 0) return;
    for (const netns of new Set(wanted.map((r) => r.netns))) await this.db.barrier(netns);
    for (const r of wanted) {
      const name = (r.spec.newname ?? r.spec.ifname) as string;
      const index = this.db.interfaces.get({ netns: r.netns, ifname: name })?.index;
      if (typeof index === 'number') await this.db.refresh(r.netns, 'link', 'get', { index });
    }
  }

  close(): void {
    for (const nl of this.open.values()) nl.close();
    this.open.clear();
  }
}

async function outcome(p: Promise<unknown>): Promise<BatchResult> {
  try {
    await p;
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e as never };
  }
}
