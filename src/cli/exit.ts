/**
 * How the command ends: its exit status and the one line it prints on
 * stderr.
 *
 *   0   done (also when the reader of stdout went away: `netstate route | head -1`)
 *   1   the command failed (a NetStateError, or anything unexpected)
 *   2   usage: an unknown command or option, a bad argument, a missing namespace
 *   77  missing privileges (EX_NOPERM)
 *
 * The message is one line; the stack only with --debug or NETSTATE_DEBUG=1.
 */
import { CommanderError } from 'commander';
import { NamespaceError, NetStateError, PrivilegeError, ValidationError } from '../errors.js';
import { isBrokenPipe } from './output.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, privilege: 77 } as const;

export function exitStatusOf(e: unknown): number {
  if (isBrokenPipe(e)) return EXIT.ok;
  if (e instanceof CommanderError) {
    // --help and --version end with 0; every other refusal of the command line is a usage error.
    return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (e instanceof PrivilegeError) return EXIT.privilege;
  if (e instanceof NamespaceError || e instanceof ValidationError) return EXIT.usage;
  return EXIT.failure;
}

/** What stderr says: nothing for what commander already printed or a reader that went away. */
export function messageOf(e: unknown, debug: boolean): string | undefined {
  if (isBrokenPipe(e) || e instanceof CommanderError) return undefined;
  if (debug && e instanceof Error && e.stack) return `netstate: ${e.stack}`;
  const text = e instanceof Error ? e.message : String(e);
  const oneLine = text.replace(/\s*\n\s*/g, ' ');
  return e instanceof NetStateError || !(e instanceof Error)
    ? `netstate: ${oneLine}`
    : `netstate: ${e.name}: ${oneLine} (NETSTATE_DEBUG=1 shows where)`;
}

export const debugWanted = (argv: readonly string[]): boolean =>
  argv.includes('--debug') || ((process.env.NETSTATE_DEBUG ?? '') !== '' && process.env.NETSTATE_DEBUG !== '0');
