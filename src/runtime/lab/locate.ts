/**
 * Where a value of a lab file is written: a path into the parsed data
 * (`['topology', 'nodes', 'h1', 'kind']`) mapped back to a line and column
 * through yaml's syntax tree and LineCounter. A path that leads through an
 * alias or a `<<` merge is followed there; a path that is not written at
 * all (a missing field, a value inherited from `defaults`) lands on the
 * nearest thing that is written, usually the key of the map that lacks it.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node, type Pair } from 'yaml';

export type Path = readonly (string | number)[];

export interface Position {
  line: number;
  col: number;
}

/** Which part of a `key: value` pair a problem is about. */
export type Part = 'key' | 'value';

export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The position of the value (or key) at `path`; of its nearest written ancestor when it is not written. */
  at(path: Path, part: Part = 'value'): Position {
    let node: unknown = this.doc.contents;
    let best = rangeStart(node) ?? 0;
    let keyStart: number | undefined;
    for (const segment of path) {
      const found = this.step(node, segment);
      // Not written (missing, or inherited): the key of the nearest map that lacks it.
      if (!found) return this.pos(keyStart ?? best);
      node = found.node;
      keyStart = found.pair ? rangeStart(found.pair.key) : undefined;
      best = (written(node) ? rangeStart(node) : undefined) ?? keyStart ?? best;
    }
    return this.pos(part === 'key' && keyStart !== undefined ? keyStart : best);
  }

  private step(node: unknown, segment: string | number): { node: unknown; pair?: Pair } | undefined {
    if (isAlias(node)) node = node.resolve(this.doc);
    if (isMap(node)) {
      for (const item of node.items) {
        if (keyText(item.key) === String(segment)) return { node: item.value, pair: item };
      }
      // YAML 1.1 merge keys: `<<: *defaults` (later maps first, as the merge does).
      for (const item of node.items) {
        if (keyText(item.key) !== '<<') continue;
        const sources = isSeq(item.value) ? [...item.value.items].reverse() : [item.value];
        for (const source of sources) {
          const found = this.step(source, segment);
          if (found) return found;
        }
      }
      return undefined;
    }
    if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      return item === undefined ? undefined : { node: item };
    }
    return undefined;
  }

  private pos(offset: number): Position {
    return this.lines.linePos(offset);
  }
}

function keyText(key: unknown): string | undefined {
  // A merge key's value is a symbol (Symbol(<<)) when the document is parsed with merge: true.
  if (isScalar(key)) return typeof key.value === 'symbol' ? '<<' : String(key.value);
  if (typeof key === 'string' || typeof key === 'number') return String(key);
  return undefined;
}

/** An empty value (`h1:`) has a range, but at the end of its key's line: point at the key instead. */
function written(node: unknown): boolean {
  return node != null && !(isScalar(node) && node.value === null && !node.source);
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}

/** A path the way a reader writes it: `topology.links[2].endpoints[0]`, `sysctls["net.ipv4.ip_forward"]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
