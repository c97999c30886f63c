/**
 * What the iproute2-style formatters need besides the record: names for
 * interface indexes and routing tables, and which fields a filter already
 * fixed (iproute2 leaves `dev X` out of each line of `ip route show dev X`,
 * and `table T` out of `ip route show table T`).
 */
export interface FormatContext {
  /** The name of an interface index in a namespace (`if<N>` when unknown). */
  ifname(netns: string, index: unknown): string;
  /** A routing table's name (main, local, rt_tables entries) or number. */
  table(n: number): string;
  /** Fields every printed record shares because a selector named them. */
  omit?: { dev?: boolean; table?: boolean; via?: boolean; proto?: boolean; scope?: boolean };
}

/** An address with its prefix length, without the length when it is a whole address (as iproute2 prints). */
export function hostOrPrefix(prefix: string): string {
  const [addr, len] = prefix.split('/');
  if (len === undefined) return prefix;
  return (addr?.includes(':') ? len === '128' : len === '32') ? (addr as string) : prefix;
}

/** Joins the words that are there. */
export function words(...parts: (string | false | undefined | null)[]): string {
  return parts.filter((p) => p !== undefined && p !== null && p !== false && p !== '').join(' ');
}
