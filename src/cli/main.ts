#!/usr/bin/env node
/**
 * The `netstate` command.
 *
 *   netstate show routes --netns lab --table 100
 *   netstate show links --json
 *   netstate monitor --netns lab --netns lab2
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import ora, { type Ora } from 'ora';
import { type LoadProgress, NamespaceError, NetState, NetStateError, PrivilegeError, ValidationError } from '../index.js';
import { confirmCommit, journalPath, listJournal, recoverCommits, rollbackCommit } from './journal.js';
import { monitor } from './monitor.js';
import { showTable, WHAT } from './show.js';

/** Exit statuses: usage and missing namespaces 2, missing privileges 77 (EX_NOPERM), other failures 1. */
const EXIT = { usage: 2, privilege: 77, failure: 1 };

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A progress line on a terminal, for loads that take over a second. */
function progressReporter(): { onLoadProgress: (p: LoadProgress) => void; stop: () => void } {
  let spinner: Ora | undefined;
  const started = Date.now();
  return {
    onLoadProgress: (p) => {
      if (!process.stderr.isTTY || Date.now() - started < 1000) return;
      spinner ??= ora({ stream: process.stderr }).start();
      spinner.text = `loading ${p.netns}: ${p.table} ${p.rows.toLocaleString()}`;
    },
    stop: () => spinner?.stop(),
  };
}

async function openStore(netns: string[] | undefined): Promise<NetState> {
  const progress = progressReporter();
  try {
    return await NetState.open({ netns, onLoadProgress: progress.onLoadProgress });
  } finally {
    progress.stop();
  }
}

const program = new Command()
  .name('netstate')
  .description('The network state of Linux namespaces, as a database: show it, watch it change.')
  .showHelpAfterError();

program
  .command('show')
  .description('print links, addresses, routes, rules or neighbours, aligned like ip does')
  .argument('[what]', `one of ${Object.keys(WHAT).join(', ')}`, 'links')
  .addOption(
    new Option('-n, --netns <name>', 'namespace to read (repeatable; the root namespace when omitted)').argParser(collect),
  )
  .option('-t, --table <table>', "routes: table number or name, or 'all' (default: main)")
  .option('-j, --json', 'print records as JSON')
  .action(async (what: string, opts: { netns?: string[]; table?: string; json?: boolean }) => {
    if (!WHAT[what]) throw new InvalidArgumentError(`"${what}" is not one of ${Object.keys(WHAT).join(', ')}`);
    if (opts.table !== undefined && what !== 'routes') throw new ValidationError('--table applies to routes only');
    const db = await openStore(opts.netns);
    try {
      const filter = what === 'routes' ? { table: opts.table ?? 'main' } : {};
      process.stdout.write(`${showTable(db, what, filter, opts.json === true)}\n`);
    } finally {
      await db.close();
    }
  });

program
  .command('monitor')
  .description('print each change as it happens, one line each, like ip monitor')
  .addOption(
    new Option('-n, --netns <name>', 'namespace to watch (repeatable; the root namespace when omitted)').argParser(collect),
  )
  .action(async (opts: { netns?: string[] }) => {
    const db = await openStore(opts.netns);
    const stop = (): void => void db.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await monitor(db, (line) => process.stdout.write(`${line}\n`));
  });

const journalOption = () =>
  new Option('--journal <file>', 'the commit journal (default: $NETSTATE_JOURNAL or /var/lib/netstate/journal.sqlite)');

program
  .command('journal')
  .description('list the commits of the journal: unfinished ones (applying, pending a confirm), or all it keeps')
  .addOption(journalOption())
  .option('-a, --all', 'every entry the journal keeps, finished ones too')
  .option('-j, --json', 'print entries as JSON')
  .action((opts: { journal?: string; all?: boolean; json?: boolean }) => {
    process.stdout.write(`${listJournal(journalPath(opts.journal), opts.all === true, opts.json === true)}\n`);
  });

program
  .command('confirm')
  .description('make a provisional commit (commit-confirmed) final, from any process')
  .argument('[id]', 'the commit (the only pending one when omitted)')
  .addOption(journalOption())
  .action((id: string | undefined, opts: { journal?: string }) => {
    process.stdout.write(`${confirmCommit(journalPath(opts.journal), id)}\n`);
  });

program
  .command('rollback')
  .description('undo a provisional commit (commit-confirmed) now, from any process')
  .argument('[id]', 'the commit (the only pending one when omitted)')
  .addOption(journalOption())
  .action(async (id: string | undefined, opts: { journal?: string }) => {
    process.stdout.write(`${await rollbackCommit(journalPath(opts.journal), id)}\n`);
  });

program
  .command('recover')
  .description("undo what commits of processes that died left half-applied in the namespaces' journal")
  .addOption(new Option('-n, --netns <name>', 'namespace (repeatable; the root namespace when omitted)').argParser(collect))
  .addOption(journalOption())
  .action(async (opts: { netns?: string[]; journal?: string }) => {
    process.stdout.write(`${await recoverCommits(journalPath(opts.journal), opts.netns)}\n`);
  });

program.parseAsync().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`netstate: ${message}\n`);
  if (e instanceof PrivilegeError) process.exitCode = EXIT.privilege;
  else if (e instanceof NamespaceError || e instanceof ValidationError || e instanceof InvalidArgumentError)
    process.exitCode = EXIT.usage;
  else if (e instanceof NetStateError) process.exitCode = EXIT.failure;
  else throw e;
});
