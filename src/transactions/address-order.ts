/**
 * The order of a link's addresses is part of its state: the kernel picks the
 * first primary IPv4 address as the source of what the link sends where no
 * route names one. It keeps IPv4 primaries in the order they were added and
 * secondaries after them, IPv6 addresses newest first; there is no request
 * that puts an address at a place. So an address a rollback puts back lands
 * at the end (IPv4) or the front (IPv6), not where it was.
 *
 * After a rollback, each link whose addresses were removed is compared with
 * the kernel's order read before the commit; from the first address out of
 * place on, its addresses are taken off and added again in the old order,
 * and what the kernel takes with them (routes using them as source; with
 * the last IPv4 address, every IPv4 route and ARP entry of the link) is put
 * back afterwards.
 */
import type { Database } from '../db/database.js';
import { NetlinkError } from '../errors.js';
import { neighbourOf } from './current.js';
import type { Executor } from './execute.js';
import type { AddressBook } from './kernel-model.js';
import { type Request, routeRestoreSpec } from './plan.js';

const isIpv4 = (cidr: string): boolean => !cidr.includes(':');

/** Puts the addresses of the links the commit took addresses from back in their old order; returns what failed. */
export async function restoreAddressOrder(db: Database, exec: Executor, book: AddressBook): Promise<string[]> {
  const failed: string[] = [];
  for (const { netns, ifname, index, addresses } of book.listed()) {
    const nl = await exec.of(netns);
    const now = (await nl.addr('dump', { index })).map((a) => ({
      cidr: `${a.local ?? a.address}/${a.prefixlen}`,
      label: a.label,
    }));
    const was = new Map(addresses.map((a) => [a.cidr, a]));
    for (const v4 of [true, false]) {
      // Compared as the kernel lists them: address and (IPv4) label, in order; what is not in both is not ours.
      const want = addresses.filter((a) => isIpv4(a.cidr) === v4 && now.some((n) => n.cidr === a.cidr));
      const have = now.filter((a) => isIpv4(a.cidr) === v4 && was.has(a.cidr));
      const first = want.findIndex((a, i) => have[i]?.cidr !== a.cidr || (v4 && have[i]?.label !== a.label));
      if (first < 0) continue;
      try {
        await reorder(
          db,
          exec,
          netns,
          ifname,
          index,
          have.slice(first).map((a) => a.cidr),
          want.slice(first).map((a) => a.cidr),
          v4,
          book,
        );
      } catch (e) {
        failed.push(`the order of ${ifname}'s addresses (${(e as Error).message})`);
      }
    }
  }
  return failed;
}

async function reorder(
  db: Database,
  exec: Executor,
  netns: string,
  ifname: string,
  index: number,
  off: string[],
  again: string[],
  v4: boolean,
  book: AddressBook,
): Promise<void> {
  await db.barrier(netns);
  // As they were before the commit (labels included: a rename relabels IPv4 addresses).
  const attrs = new Map(again.map((a) => [a, book.attributes(netns, ifname, a)]));
  // What the kernel will take with them: routes using them as source, and with the last IPv4
  // address of the link, its IPv4 routes and ARP entries.
  const all = db.addresses.list({ netns, ifname, family: v4 ? 'inet' : 'inet6' }).length;
  const routes = off.flatMap((a) => db.routes.rows({ netns, prefsrc: a.split('/')[0], table: 'all' }));
  const neighbours = [];
  if (v4 && off.length >= all) {
    routes.push(...db.routes.through(netns, index, 'inet'));
    neighbours.push(...db.neighbours.list({ netns, ifname, family: 'inet' }).map((n) => neighbourOf(db, n)));
  }
  const names = new Map(db.interfaces.list({ netns }).map((i) => [i.index as number, i.ifname as string]));
  const send = async (r: Request, tolerate: string[] = []) => {
    try {
      await exec.send(r);
    } catch (e) {
      if (!(e instanceof NetlinkError && tolerate.includes(e.code))) throw e;
    }
  };
  for (const a of [...off].reverse()) {
    await send({ netns, op: 'address', cmd: 'del', spec: { ifname, address: a } }, ['EADDRNOTAVAIL', 'ENOENT']);
  }
  // IPv4 appends, IPv6 prepends: added in the order that leaves them as they were.
  for (const a of v4 ? again : [...again].reverse()) {
    await send({ netns, op: 'address', cmd: 'add', spec: { ifname, address: a, ...(attrs.get(a) ?? {}) } });
  }
  for (const body of routes) {
    const spec = routeRestoreSpec(body, names);
    if (spec) await send({ netns, op: 'route', cmd: 'replace', spec });
  }
  for (const n of neighbours) {
    if (n.state !== 'permanent') continue;
    await send({ netns, op: 'neighbour', cmd: 'replace', spec: { ifname: n.dev, dst: n.dst, lladdr: n.lladdr, state: n.state } });
  }
}
