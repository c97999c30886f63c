/**
 * How the things a lab makes are named, and so how they are found again.
 *
 * containerlab names a node's container `clab-LAB-NODE`; with a `-` inside
 * lab names that is ambiguous (lab `a-b` node `c` and lab `a` node `b-c`
 * both give `clab-a-b-c`), and `destroy a` matching the prefix `clab-a-`
 * would take lab `a-b` with it. netstate names a node's namespace
 * `LAB.NODE`: lab names never contain a `.`, so everything up to the first
 * `.` is the lab, and the prefix `LAB.` (the lab's tag) matches this lab's
 * namespaces and no other lab's. Two labs that both have an `h1` get
 * `demo.h1` and `test.h1`, side by side.
 *
 * Everything else a lab makes lives inside its node namespaces (veth ends
 * are created straight into them, the bridge of a bridge node, the
 * processes of `exec` and the BMv2 switches), so removing the namespaces
 * tagged `LAB.` removes the lab, also after a crash.
 */

/** Lab names: lower-case letters, digits and `-`, 1..16 characters, starting and ending with a letter or digit. */
export const LAB_NAME = /^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$/;
/** Node names: letters, digits, `_` and `-`, 1..15 characters, starting with a letter or digit. */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$/;

const SEPARATOR = '.';

/** Why `name` cannot name a lab, or undefined. */
export function labNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a lab name is a string like "demo", not ${JSON.stringify(name)}`;
  if (LAB_NAME.test(name)) return undefined;
  if (name.length > 16) return `"${name}" is longer than 16 characters (it begins every namespace name of the lab)`;
  return `"${name}" is not a lab name: use a-z, 0-9 and '-' (not first or last), like "demo" or "p4-lab1"`;
}

/** Why `name` cannot name a node, or undefined. */
export function nodeNameProblem(name: string): string | undefined {
  if (NODE_NAME.test(name)) return undefined;
  if (name.length > 15) return `node name "${name}" is longer than 15 characters`;
  return `"${name}" is not a node name: use letters, digits, '_' and '-', starting with a letter or digit`;
}

/** The namespace of node `node` of lab `lab`: `demo.h1`. */
export function labNamespace(lab: string, node: string): string {
  return `${lab}${SEPARATOR}${node}`;
}

/** The prefix every namespace of lab `lab` has, and no other lab's has (its tag): `demo.`. */
export function labTag(lab: string): string {
  return `${lab}${SEPARATOR}`;
}

/** The lab and node a namespace name belongs to, or undefined when it is not a lab node's name. */
export function parseLabNamespace(namespace: string): { lab: string; node: string } | undefined {
  const at = namespace.indexOf(SEPARATOR);
  if (at < 0) return undefined;
  const lab = namespace.slice(0, at);
  const node = namespace.slice(at + 1);
  if (!LAB_NAME.test(lab) || !NODE_NAME.test(node)) return undefined;
  return { lab, node };
}

/** Of `namespaces` (e.g. `ip netns list`), those lab `lab` made, whatever its file now says. */
export function namespacesOfLab(lab: string, namespaces: Iterable<string>): string[] {
  return [...namespaces].filter((ns) => parseLabNamespace(ns)?.lab === lab);
}
