/** The SQL schema, generated from the kinds: one table per kind, keyed as the kernel keys. */
import type { Kind } from './kinds/kind.js';

/** One row per followed namespace (a "source"); every object row points at one. */
export const NAMESPACES_DDL = `CREATE TABLE IF NOT EXISTS namespaces (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL
)`;

export function kindDdl(kind: Kind): string[] {
  const cols = kind.columns.map(([name, type]) => `  ${name} ${type}`.trimEnd());
  const out = [
    `CREATE TABLE IF NOT EXISTS ${kind.table} (
  id INTEGER PRIMARY KEY,
  ns INTEGER NOT NULL,
${cols.join(',\n')},
  body BLOB NOT NULL
)`,
    `CREATE UNIQUE INDEX IF NOT EXISTS ${kind.table}_key ON ${kind.table} (ns, ${kind.key.join(', ')})`,
  ];
  for (const index of kind.indexes) {
    const partial = kind.columns.find(([n]) => n === index[0])?.[1].includes('NOT NULL') ? '' : ` WHERE ${index[0]} IS NOT NULL`;
    out.push(`CREATE INDEX IF NOT EXISTS ${kind.table}_${index.join('_')} ON ${kind.table} (ns, ${index.join(', ')})${partial}`);
  }
  if (kind.extraOifs) {
    out.push(`CREATE TABLE IF NOT EXISTS ${kind.table}_oifs (
  owner INTEGER NOT NULL REFERENCES ${kind.table}(id) ON DELETE CASCADE,
  ns INTEGER NOT NULL,
  oif INTEGER NOT NULL
)`);
    out.push(`CREATE INDEX IF NOT EXISTS ${kind.table}_oifs_oif ON ${kind.table}_oifs (ns, oif)`);
    out.push(`CREATE INDEX IF NOT EXISTS ${kind.table}_oifs_owner ON ${kind.table}_oifs (owner)`);
  }
  return out;
}
