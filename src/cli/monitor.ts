/** `netstate monitor`: one line per change, as it happens, like `ip monitor`. */
import type { NetState, StoreEvent } from '../index.js';
import { oneLine } from './columns.js';
import { interfaceNames } from './show.js';

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

export function eventLine(db: NetState, e: StoreEvent, several: boolean): string {
  const where = several ? `${e.netns} ` : '';
  const tag = `[${TAGS[e.kind]}]`;
  if (e.kind === 'netns') return `${tag} ${where || `${e.netns} `}${e.action}`;
  if (e.kind === 'journal') return `${tag} commit ${e.id} ${e.action} (${e.steps} step(s) undone)`;
  if (e.kind === 'switch') {
    const s = (e.after ?? e.before) as { name: string; state: string; pid: number | null };
    return `${tag} ${where}${e.action === 'remove' ? 'Deleted ' : ''}${s.name} ${s.state}${s.pid ? ` pid ${s.pid}` : ''}`;
  }
  const record = e.after ?? e.before;
  const action = { add: '', change: 'Changed ', remove: 'Deleted ' }[e.action as 'add' | 'change' | 'remove'] ?? '';
  const silent = e.silent ? ' (silent)' : '';
  return `${tag} ${where}${action}${record ? oneLine(e.kind, record, interfaceNames(db)) : ''}${silent}`;
}

/** Prints events until the process is stopped; resolves when the store closes. */
export function monitor(db: NetState, write: (line: string) => void): Promise<void> {
  const several = db.followed.length > 1;
  // An open store keeps nothing alive by itself: the monitor does, until the store closes.
  const alive = setInterval(() => undefined, 2 ** 31 - 1);
  return new Promise((resolve) => {
    db.events$.subscribe({
      next: (e) => write(eventLine(db, e, several)),
      complete: () => {
        clearInterval(alive);
        resolve();
      },
    });
  });
}
