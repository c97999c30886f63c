/**
 * Interfaces: the reading API of every kind, plus the lookup a commit's
 * confirmation runs once per interface, straight from the stored bytes.
 */
import type { Statement } from 'better-sqlite3';
import { type LinkBytes, readLink } from '../backends/netlink/families/link-bytes.js';
import { Collection } from './collection.js';
import type { InterfaceRecord } from './records.js';

export class InterfaceCollection extends Collection<InterfaceRecord> {
  private byName?: Statement;

  /**
   * A link's fields read from its stored bytes, with its addresses ('a/len'),
   * by name: what a commit's confirmation compares, once per interface, with
   * no record decoded. Undefined when there is no such link.
   */
  linkOf(netns: string, ifname: string): (LinkBytes & { ipaddr: string[] }) | undefined {
    this.byName ??= this.store.db
      .prepare(
        'SELECT t.ns AS ns, t.body AS body FROM interfaces t WHERE t.ns = (SELECT id FROM namespaces WHERE name = ?) AND t.ifname = ?',
      )
      .raw();
    const row = this.byName.get(netns, ifname) as [number, Buffer] | undefined;
    if (!row) return undefined;
    const [ns, body] = row;
    return { ...readLink(body), ipaddr: (this.extra?.(ns, body, {}, new Map())?.ipaddr as string[] | undefined) ?? [] };
  }
}
