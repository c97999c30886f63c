/**
 * A plan as the journal writes it: what undoing each step needs, in the
 * plan's order, as little of it as will do. Every byte here is written
 * durably before the first request of a commit goes out.
 *
 * - A simple object's step (route, rule, neighbour) is made from its staged
 *   pair alone, so the pair is all that is written, and a run of such steps
 *   is written as columns (journal-columns.ts): 100 000 routes that differ
 *   in their destination are their destinations and a few runs. Reading
 *   them back makes each step again with the function the plan made it with.
 * - Any other step is written as what an undo reads: its undo requests, the
 *   proofs a rollback waits for, what it cannot put back, and of its request
 *   the namespace, operation and command (not the body nor its place).
 */
import { type Columns, fromColumns, toColumns } from './journal-columns.js';
import {
  type ObjectChange,
  type ObjectKind,
  type ObjectProof,
  objectProofOf,
  objectStep,
  type Request,
  type Step,
} from './plan.js';

/** What the journal keeps of a step that is not a simple object's. */
type JournaledStep = Omit<Step, 'order' | 'phase' | 'request'> & { request: Omit<Request, 'spec'> };

/**
 * Consecutive steps of a plan: simple objects' changes of one kind (each
 * object before and after the change, as columns), or other steps.
 */
type Segment = { steps: JournaledStep[] } | { kind: ObjectKind; before: Columns; after: Columns };

/** A chunk of a plan, as one text. */
export function encodePlanChunk(steps: readonly Step[]): string {
  const segments: Segment[] = [];
  let others: JournaledStep[] = [];
  let proofs: ObjectProof[] = [];
  const flushProofs = () => {
    const first = proofs[0];
    if (!first) return;
    // A proof is what the store shows again once the step is undone: its base is the object after the change.
    const before = toColumns(proofs.map((p) => p.staged.target));
    const after = toColumns(proofs.map((p) => p.staged.base));
    segments.push({ kind: first.kind, before, after });
    proofs = [];
  };
  const flushOthers = () => {
    if (others.length) segments.push({ steps: others });
    others = [];
  };
  for (const step of steps) {
    const proof = objectProofOf(step);
    if (proof) {
      flushOthers();
      if (proofs[0] && proofs[0].kind !== proof.kind) flushProofs();
      proofs.push(proof);
    } else {
      flushProofs();
      others.push(forUndo(step));
    }
  }
  flushProofs();
  flushOthers();
  return JSON.stringify({ segments });
}

/** A chunk's steps again, as a rollback takes them (the fields it does not read are placeholders). */
export function decodePlanChunk(text: string): Step[] {
  const chunk = JSON.parse(text) as { segments: Segment[] } | JournaledStep[];
  // Files before the columns: the chunk is its steps.
  if (Array.isArray(chunk)) return chunk.map(fromJournal);
  return chunk.segments.flatMap((s) => ('steps' in s ? s.steps.map(fromJournal) : remade(s)));
}

function remade(s: { kind: ObjectKind; before: Columns; after: Columns }): Step[] {
  const bases = fromColumns(s.before);
  const targets = fromColumns(s.after);
  if (bases.length !== targets.length)
    throw new Error(`a ${s.kind} segment has ${bases.length} bases and ${targets.length} targets`);
  return bases.map((base, i) => {
    const staged = { base, target: targets[i] } as ObjectChange['staged'];
    const step = objectStep({ kind: s.kind, staged });
    if (!step) throw new Error(`a ${s.kind} segment holds a change that changes nothing`);
    return { order: 0, ...step };
  });
}

function forUndo(s: Step): JournaledStep {
  const { order: _o, phase: _p, request, ...rest } = s;
  const { spec: _s, ...kept } = request;
  return { ...rest, request: kept };
}

function fromJournal(s: JournaledStep): Step {
  return { order: 0, phase: 0, ...s, request: { ...s.request, spec: {} } };
}
