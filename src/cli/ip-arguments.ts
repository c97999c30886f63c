/**
 * The words after an object, as `ip` reads them: an optional action
 * (`show`, `list`, `lst` or a prefix of them), then selectors such as
 * `dev v0`, `table main`, or a bare value (`ip link show v0`,
 * `ip route show 10.0.0.0/24`). Anything else is refused before the store
 * is opened, naming the word.
 */
import { ValidationError } from '../errors.js';

/** What a keyword takes: the next word (a value), or nothing (a flag). */
export interface Grammar {
  /** Keywords followed by a value: `dev v0`. Several keywords may share a selector (`to`, `dst`). */
  values: Record<string, string>;
  /** Keywords that stand alone: `up`. */
  flags?: string[];
  /** The selector a bare word fills (`ip link show v0` is `dev v0`). */
  bare?: string;
}

export type Selectors = Record<string, string | true>;

const SHOW = ['show', 'list', 'lst'];
/** ip's actions that change something: named in the refusal. */
const CHANGES = ['add', 'change', 'replace', 'delete', 'del', 'set', 'flush', 'append', 'prepend'];

function isShow(word: string): boolean {
  return SHOW.some((s) => s.startsWith(word)) && word.length > 0;
}

/** Selectors from the words; ValidationError naming the first word that is not understood. */
export function parseSelectors(object: string, args: readonly string[], grammar: Grammar): Selectors {
  const words = [...args];
  // A bare value needs the action before it: `link show v0`, not `link v0` (ip refuses that too).
  const shown = words.length > 0 && isShow(words[0] as string);
  if (shown) words.shift();
  const out: Selectors = {};
  const set = (key: string, value: string | true, word: string): void => {
    if (out[key] !== undefined) throw new ValidationError(`${object}: "${word}" is given twice`, key);
    out[key] = value;
  };
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    const key = grammar.values[word];
    if (key !== undefined) {
      const value = words[++i];
      if (value === undefined) throw new ValidationError(`${object}: "${word}" needs a value`, key);
      set(key, value, word);
    } else if (grammar.flags?.includes(word)) {
      set(word, true, word);
    } else if (i === 0 && CHANGES.includes(word)) {
      throw new ValidationError(
        `${object} ${word}: netstate ${object} only shows; changes go through a transaction (see the README)`,
        'action',
      );
    } else if (!shown && i === 0) {
      throw new ValidationError(`${object}: "${word}" is not an action (netstate ${object} [show] ...)`, 'action');
    } else if (grammar.bare && out[grammar.bare] === undefined) {
      set(grammar.bare, word, word);
    } else {
      const known = [...Object.keys(grammar.values), ...(grammar.flags ?? [])].join(', ');
      throw new ValidationError(`${object}: "${word}" is not understood here (known: ${known})`, word);
    }
  }
  return out;
}
