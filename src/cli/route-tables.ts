/**
 * Routing table names as iproute2 reads them: the built-in ones (default 253,
 * main 254, local 255), then rt_tables and rt_tables.d/*.conf of
 * /etc/iproute2 (or of /usr/share/iproute2, where newer iproute2 keeps its
 * defaults, when /etc has none). `ip route` and `netstate route` print the
 * same name for a table.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';

const BUILT_IN: [number, string][] = [
  [253, 'default'],
  [254, 'main'],
  [255, 'local'],
];

const DIRS = ['/etc/iproute2', '/usr/share/iproute2'];

/** `NUMBER NAME` lines; `#` starts a comment; numbers may be hex (0x...). */
function parse(text: string, into: Map<number, string>): void {
  for (const raw of text.split('\n')) {
    const [id, name] = (raw.split('#')[0] as string).trim().split(/\s+/);
    if (!id || !name) continue;
    const n = Number(id);
    if (Number.isInteger(n) && n >= 0 && n <= 0xffffffff) into.set(n, name);
  }
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export class RouteTables {
  private readonly byNumber: Map<number, string>;
  private readonly byName: Map<string, number>;

  constructor(entries: Map<number, string>) {
    this.byNumber = entries;
    this.byName = new Map([...entries].map(([n, name]) => [name, n]));
  }

  /** The tables of this machine's iproute2 configuration. */
  static load(dirs: readonly string[] = DIRS): RouteTables {
    const entries = new Map(BUILT_IN);
    const main = dirs.map((d) => readIfThere(join(d, 'rt_tables'))).find((t) => t !== undefined);
    if (main) parse(main, entries);
    for (const dir of dirs) {
      const d = join(dir, 'rt_tables.d');
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)
        .filter((f) => f.endsWith('.conf'))
        .sort())
        parse(readIfThere(join(d, f)) ?? '', entries);
    }
    return new RouteTables(entries);
  }

  /** A table's name, or its number when it has none. */
  name(table: number): string {
    return this.byNumber.get(table) ?? String(table);
  }

  /** A table given by name or number; 'all' stays 'all'. */
  parse(value: string): number | 'all' {
    if (value === 'all') return 'all';
    const named = this.byName.get(value);
    if (named !== undefined) return named;
    const n = Number(value);
    if (/^(\d+|0x[0-9a-f]+)$/i.test(value) && n <= 0xffffffff) return n;
    throw new ValidationError(
      `table: "${value}" is not a table number or a name of ${[...this.byName.keys()].join(', ')} (or all)`,
      'table',
    );
  }
}
