#!/usr/bin/env node
/**
 * The `netstate` command.
 *
 *   netstate -n lab route show table all     # as ip -n lab route show table all
 *   netstate -6 addr show dev v0
 *   netstate show routes --netns lab --table 100
 *   netstate monitor --json -n lab -n lab2
 *
 * Options that every command takes (-n, -4, -6, -j, --debug) may come before
 * or after the command, as with ip. Exit statuses: see exit.ts. The library
 * (0.25 s of CPU to load) is loaded when a command needs it: a usage error,
 * --help and --version answer without it.
 */
import { type Command as Cmd, Command, Option } from 'commander';
import { debugWanted, exitStatusOf, messageOf } from './exit.js';
import type { GlobalOptions } from './global-options.js';
import { IP_OBJECTS, showObject } from './ip-objects.js';
import { monitor, monitoredKinds } from './monitor.js';
import { withStore } from './open-store.js';
import { isBrokenPipe, Output } from './output.js';
import { RouteTables } from './route-tables.js';
import { printTable, type ShowOptions, showFilter, WHAT, whatOf } from './show.js';
import { formatContext } from './store-names.js';
import { packageVersion } from './version.js';

const out = new Output();
/** The journal commands load the library's journal code only when run. */
const journal = () => import('./journal.js');
// A failed write reaches the command through Output (EPIPE: the reader went away, the command ends quietly).
process.stdout.on('error', () => undefined);

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The options of the command and those given before it. */
const optionsOf = <T extends GlobalOptions>(cmd: Cmd): T => cmd.optsWithGlobals() as T;

const program = new Command()
  .name('netstate')
  .description('The network state of Linux namespaces, as a database: show it, watch it change, undo commits.')
  .version(packageVersion(), '-V, --version', 'print the version')
  .addOption(
    new Option('-n, --netns <name>', 'namespace to read (repeatable; the root namespace when omitted)').argParser(collect),
  )
  .option('-4', 'IPv4 only')
  .option('-6', 'IPv6 only')
  .option('-j, --json', 'print records as JSON (a plain array; monitor: one object per line)')
  .option('--debug', 'print the stack with an error (also NETSTATE_DEBUG=1)')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`netstate: ${text.replace(/^error: /, '')}`) })
  .configureHelp({ showGlobalOptions: true })
  .showHelpAfterError('(netstate --help for usage)');

// ip's objects: netstate link|address|route|neighbour|rule [show] [selectors].
for (const object of IP_OBJECTS) {
  program
    .command(object.name)
    .aliases(object.aliases)
    .description(object.description)
    .usage(object.usage)
    .argument('[words...]', 'show and selectors, as ip takes them')
    .action(async (words: string[], _opts: unknown, cmd: Cmd) => {
      await showObject(object, words, optionsOf(cmd), out);
    });
}

program
  .command('show')
  .description('print links, addresses, routes, rules or neighbours as aligned columns')
  .argument('[what]', `one of ${Object.keys(WHAT).join(', ')}`, 'links')
  .option('-t, --table <table>', "routes, rules: table number or name, or 'all' (routes: main when omitted)")
  .option('-d, --dev <ifname>', 'only records of this device')
  .action(async (word: string, _opts: unknown, cmd: Cmd) => {
    const o = optionsOf<ShowOptions>(cmd);
    const what = whatOf(word);
    const tables = RouteTables.load();
    const filter = showFilter(what, o, tables);
    await withStore(o.netns, (db) => printTable(db, what, filter, o.json === true, formatContext(db, tables), out));
  });

program
  .command('monitor')
  .description('print each change as it happens, like ip monitor')
  .argument('[objects...]', 'link, address, route, neigh, rule (all when omitted)')
  .option('-t, --timestamp', 'a Timestamp: line before each change (ip -t)')
  .option('--tshort', 'each line starts with [time] (ip -ts)')
  .action(async (objects: string[], _opts: unknown, cmd: Cmd) => {
    const o = optionsOf<GlobalOptions & { timestamp?: boolean; tshort?: boolean }>(cmd);
    const kinds = monitoredKinds(objects);
    await withStore(o.netns, async (db) => {
      const stop = (): void => void db.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await monitor(db, formatContext(db, RouteTables.load()), out, { ...o, kinds });
    });
  });

const journalOption = () =>
  new Option('--journal <file>', 'the commit journal (default: $NETSTATE_JOURNAL or /var/lib/netstate/journal.sqlite)');

program
  .command('journal')
  .description('list the commits of the journal: unfinished ones (applying, pending a confirm), or all it keeps')
  .addOption(journalOption())
  .option('-a, --all', 'every entry the journal keeps, finished ones too')
  .action(async (_opts: unknown, cmd: Cmd) => {
    const o = optionsOf<GlobalOptions & { journal?: string; all?: boolean }>(cmd);
    const { listJournal, journalPath } = await journal();
    await out.line(listJournal(journalPath(o.journal), o.all === true, o.json === true));
  });

program
  .command('confirm')
  .description('make a provisional commit (commit-confirmed) final, from any process')
  .argument('[id]', 'the commit (the only pending one when omitted)')
  .addOption(journalOption())
  .action(async (id: string | undefined, opts: { journal?: string }) => {
    const { confirmCommit, journalPath } = await journal();
    await out.line(confirmCommit(journalPath(opts.journal), id));
  });

program
  .command('rollback')
  .description('undo a provisional commit (commit-confirmed) now, from any process')
  .argument('[id]', 'the commit (the only pending one when omitted)')
  .addOption(journalOption())
  .action(async (id: string | undefined, opts: { journal?: string }) => {
    const { rollbackCommit, journalPath } = await journal();
    await out.line(await rollbackCommit(journalPath(opts.journal), id));
  });

program
  .command('recover')
  .description("undo what commits of processes that died left half-applied in the namespaces' journal")
  .addOption(journalOption())
  .action(async (_opts: unknown, cmd: Cmd) => {
    const o = optionsOf<GlobalOptions & { journal?: string }>(cmd);
    const { recoverCommits, journalPath } = await journal();
    await out.line(await recoverCommits(journalPath(o.journal), o.netns));
  });

/** The lab and desired-state commands load the runtime only when run. */
const labs = () => import('./lab.js');
const lab = program.command('lab').description('lab files: bring a lab up as one transaction, inspect it, draw it, take it down');

lab
  .command('up')
  .description('bring the lab of FILE up (or, running, to what FILE says) as one transaction; the review is printed first')
  .argument('<file>', 'the lab file (YAML)')
  .option('--dry-run', 'print the review and stop: nothing is changed')
  .option('--confirm <duration>', 'commit-confirmed: rolled back after this long (60s, 5m) unless `netstate confirm`')
  .option('--bmv2 <path>', 'the simple_switch_grpc executable (default: on PATH)')
  .addOption(journalOption())
  .action(async (file: string, _opts: unknown, cmd: Cmd) => {
    await (await labs()).labUpCommand(file, optionsOf(cmd), out);
  });

lab
  .command('down')
  .description('remove exactly what the lab made (also after a crash), and nothing of another lab')
  .argument('<lab>', 'the lab name, or its file')
  .addOption(journalOption())
  .action(async (what: string, _opts: unknown, cmd: Cmd) => {
    await (await labs()).labDownCommand(what, optionsOf<GlobalOptions & { journal?: string }>(cmd), out);
  });

lab
  .command('list')
  .description('the labs that are up')
  .addOption(journalOption())
  .action(async (_opts: unknown, cmd: Cmd) => {
    await (await labs()).labListCommand(optionsOf(cmd), out);
  });

lab
  .command('inspect')
  .description('nodes, interfaces, addresses, switches and processes of a running lab, as the kernel has them')
  .argument('<lab>', 'the lab name, or its file')
  .addOption(journalOption())
  .action(async (what: string, _opts: unknown, cmd: Cmd) => {
    await (await labs()).labInspectCommand(what, optionsOf(cmd), out);
  });

lab
  .command('graph')
  .description('draw the lab as SVG: nodes, links, interfaces and addresses')
  .argument('<lab>', 'a lab file, or the name of a running lab')
  .option('-o, --output <file>', 'write the SVG here (stdout when omitted)')
  .addOption(journalOption())
  .action(async (what: string, _opts: unknown, cmd: Cmd) => {
    await (await labs()).labGraphCommand(what, optionsOf<GlobalOptions & { output?: string; journal?: string }>(cmd), out);
  });

lab
  .command('check')
  .description('validate a lab file: every problem with its line and column, nothing changed')
  .argument('<file>', 'the lab file (YAML)')
  .action(async (file: string) => {
    await (await labs()).labCheckCommand(file, out);
  });

program
  .command('dump')
  .description('the state of the namespaces as YAML (what apply takes back)')
  .action(async (_opts: unknown, cmd: Cmd) => {
    const o = optionsOf(cmd);
    await (await labs()).dumpCommand(o.netns, o.json === true, out);
  });

program
  .command('diff')
  .description('what `apply FILE` would change, as a review')
  .argument('<file>', 'a state written by dump (YAML or JSON)')
  .action(async (file: string, _opts: unknown, cmd: Cmd) => {
    const o = optionsOf(cmd);
    await (await labs()).diffCommand(file, o.netns, o.json === true, out);
  });

program
  .command('apply')
  .description('make the namespaces as FILE says, in one transaction (commit-confirmed with --confirm)')
  .argument('<file>', 'a state written by dump (YAML or JSON)')
  .option('--confirm <duration>', 'rolled back after this long (60s, 5m) unless `netstate confirm`')
  .option('--dry-run', 'print the review and stop')
  .addOption(journalOption())
  .action(async (file: string, _opts: unknown, cmd: Cmd) => {
    await (await labs()).applyCommand(file, optionsOf(cmd), out);
  });

const debug = debugWanted(process.argv);
program
  .parseAsync()
  .then(() => out.flush())
  .catch((e: unknown) => {
    const message = messageOf(e, debug);
    if (message) process.stderr.write(`${message}\n`);
    process.exitCode = exitStatusOf(e);
    // The reader is gone and the store closed: nothing is left to do.
    if (isBrokenPipe(e)) process.exit(process.exitCode);
  });
