/**
 * The store a command reads: the named namespaces (the root namespace when
 * none), loaded with a progress line on a terminal when it takes over a
 * second. Without the journal: looking must not change anything, and
 * undoing what a dead process left half-applied is `netstate recover`'s job.
 */
import type { Ora } from 'ora';
import type { LoadProgress, NetState } from '../index.js';

/** A progress line on a terminal, for loads that take over a second (ora is loaded only for a terminal). */
async function progressReporter(): Promise<{ onLoadProgress: (p: LoadProgress) => void; stop: () => void }> {
  const ora = process.stderr.isTTY ? (await import('ora')).default : undefined;
  let spinner: Ora | undefined;
  const started = Date.now();
  return {
    onLoadProgress: (p) => {
      if (!ora || Date.now() - started < 1000) return;
      spinner ??= ora({ stream: process.stderr }).start();
      spinner.text = `loading ${p.netns}: ${p.table} ${p.rows.toLocaleString()}`;
    },
    stop: () => spinner?.stop(),
  };
}

export async function openStore(netns: string[] | undefined): Promise<NetState> {
  const { NetState } = await import('../index.js');
  const progress = await progressReporter();
  try {
    return await NetState.open({ netns, journal: false, onLoadProgress: progress.onLoadProgress });
  } finally {
    progress.stop();
  }
}

/** Runs `fn` on an open store and closes it after, whatever happens. */
export async function withStore<T>(netns: string[] | undefined, fn: (db: NetState) => Promise<T>): Promise<T> {
  const db = await openStore(netns);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
