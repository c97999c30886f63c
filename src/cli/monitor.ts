/**
 * `netstate monitor [link|address|route|neigh|rule ...]`: each change as it
 * happens, in `ip monitor`'s words (`[ROUTE] Deleted 10.1.0.0/16 via
 * 10.0.0.2 dev v0`), or one JSON object per line with --json. -t prints a
 * `Timestamp:` line before each change (ip -t), --tshort a
 * `[2026-01-31T12:00:00.123456]` prefix (ip -ts).
 */

import { ValidationError } from '../errors.js';
import type { NetState, StoreEvent, StoreRecord } from '../index.js';
import { formatAddressAlone } from './format-address.js';
import type { FormatContext } from './format-context.js';
import { formatLink } from './format-link.js';
import { formatNeighbour } from './format-neighbour.js';
import { formatRoute } from './format-route.js';
import { formatRule } from './format-rule.js';
import type { InterfaceNames } from './interface-names.js';
import { withDeviceNames } from './json.js';
import { isBrokenPipe, type Output } from './output.js';

const TAGS: Record<string, string> = {
  interface: 'LINK',
  address: 'ADDR',
  route: 'ROUTE',
  rule: 'RULE',
  neighbour: 'NEIGH',
  netns: 'NETNS',
  journal: 'JOURNAL',
  switch: 'SWITCH',
};

/** The objects `ip monitor` names, and their abbreviations, by the kind of store event. */
const OBJECTS: Record<string, string> = {
  link: 'interface',
  address: 'address',
  addr: 'address',
  route: 'route',
  neigh: 'neighbour',
  neighbour: 'neighbour',
  neighbor: 'neighbour',
  rule: 'rule',
};

/** The kinds to print for the objects named (all when none or `all`). */
export function monitoredKinds(objects: string[]): Set<string> | undefined {
  if (objects.length === 0 || objects.includes('all')) return undefined;
  return new Set(
    objects.map((o) => {
      const kind = OBJECTS[o];
      if (!kind) {
        throw new ValidationError(`monitor: "${o}" is not one of ${[...Object.keys(OBJECTS), 'all'].join(', ')}`, 'object');
      }
      return kind;
    }),
  );
}

const FORMATS: Record<string, (r: StoreRecord, ctx: FormatContext) => string> = {
  interface: formatLink,
  address: formatAddressAlone,
  route: formatRoute,
  rule: formatRule,
  neighbour: formatNeighbour,
};

export function eventLine(e: StoreEvent, ctx: FormatContext, several: boolean): string {
  const tag = `[${TAGS[e.kind]}]`;
  const where = several ? `${e.netns} ` : '';
  if (e.kind === 'netns') return `${tag} ${e.netns} ${e.action}`;
  if (e.kind === 'journal') return `${tag} ${where}commit ${e.id} ${e.action} (${e.steps} step(s) undone)`;
  // Switch records are the process's that runs them: a monitor's own store has none, an embedding program may.
  if (e.kind === 'switch') {
    const s = (e.after ?? e.before) as { name: string; state: string; pid: number | null };
    return `${tag} ${where}${e.action === 'remove' ? 'Deleted ' : ''}${s.name} ${s.state}${s.pid ? ` pid ${s.pid}` : ''}`;
  }
  const record = (e.after ?? e.before) as StoreRecord;
  const action = { add: '', change: 'Changed ', remove: 'Deleted ' }[e.action as 'add' | 'change' | 'remove'] ?? '';
  const silent = e.silent ? ' (silent)' : '';
  return `${tag} ${where}${action}${FORMATS[e.kind]?.(record, ctx) ?? ''}${silent}`;
}

/** The event as one JSON line: records with their devices' names. */
export function eventJson(e: StoreEvent, ctx: FormatContext, time?: string): string {
  const out: Record<string, unknown> = time === undefined ? {} : { time };
  Object.assign(out, e);
  if (e.before) out.before = withDeviceNames(e.kind, e.before, ctx);
  if (e.after) out.after = withDeviceNames(e.kind, e.after, ctx);
  return JSON.stringify(out);
}

export interface MonitorOptions {
  json?: boolean;
  /** ip -t: a `Timestamp: <date> <usec> usec` line before each change. */
  timestamp?: boolean;
  /** ip -ts: each line starts with `[<ISO local time>]`. */
  tshort?: boolean;
  kinds?: Set<string>;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Now, in microseconds since the epoch (performance.now has the precision Date lacks). */
const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** `Sat Jan 31 12:00:00 2026 123456 usec`, in local time, as ip -t prints it. */
export function longTimestamp(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const date = `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')}`;
  return `Timestamp: ${date} ${time} ${d.getFullYear()} ${us % 1_000_000} usec`;
}

/** `2026-01-31T12:00:00.123456`, local time, as ip -ts prints it (without the brackets). */
export function shortTimestamp(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(us % 1_000_000, 6)}`;
}

/**
 * Prints events until the store closes (a signal) or the reader goes away
 * (EPIPE: then the store is closed here). Lines of one batch of events go
 * out together, right after it.
 */
export function monitor(
  db: NetState,
  ctx: FormatContext & { names: InterfaceNames },
  out: Output,
  opts: MonitorOptions,
): Promise<void> {
  const several = db.followed.length > 1;
  // netstate keeps nothing alive by itself; a monitor is meant to run until stopped.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  return new Promise<void>((resolve, reject) => {
    let scheduled = false;
    let failed = false;
    const fail = (e: unknown): void => {
      if (failed) return;
      failed = true;
      sub.unsubscribe();
      void db.close().then(() => (isBrokenPipe(e) ? resolve() : reject(e)), reject);
    };
    const flushSoon = (): void => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        out.flush().catch(fail);
      });
    };
    const sub = db.events$.subscribe({
      next: (e) => {
        // A removed link's name is kept for the events that follow it (its addresses, its routes).
        ctx.names.learn(e);
        if (failed || (opts.kinds && !opts.kinds.has(e.kind))) return;
        const us = nowUs();
        const time = opts.timestamp || opts.tshort ? shortTimestamp(us) : undefined;
        let text = opts.json ? eventJson(e, ctx, time) : eventLine(e, ctx, several);
        if (!opts.json && opts.tshort) text = `[${time}] ${text}`;
        if (!opts.json && opts.timestamp) text = `${longTimestamp(us)}\n${text}`;
        out.line(text).catch(fail);
        flushSoon();
      },
      complete: resolve,
    });
  }).finally(() => clearInterval(keepAlive));
}
