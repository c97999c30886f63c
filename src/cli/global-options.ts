/** The options every command takes, given before or after the command (`netstate -6 -n lab route`, like `ip -6 -n lab route`). */
import { ValidationError } from '../errors.js';

export interface GlobalOptions {
  /** -n/--netns, repeatable: the namespaces to read (the root namespace when none). */
  netns?: string[];
  /** -j/--json */
  json?: boolean;
  /** -4 / -6: one address family. */
  '4'?: boolean;
  '6'?: boolean;
  /** --debug: stacks with error messages. */
  debug?: boolean;
}

/** The family -4/-6 ask for, or undefined for both; `fallback` is what the command shows when neither is given. */
export function familyOf(o: GlobalOptions, fallback?: 'inet' | 'inet6'): 'inet' | 'inet6' | undefined {
  if (o['4'] && o['6']) throw new ValidationError('-4 and -6 exclude each other', 'family');
  return o['4'] ? 'inet' : o['6'] ? 'inet6' : fallback;
}
