/**
 * Seeded random labs of 2..50 nodes: each must validate without a problem,
 * round-trip (model -> YAML -> model), and every single mutation of it must
 * be reported at the line and column the generator wrote the broken value.
 * Replay a run with LAB_SEED=<seed> (printed); LAB_COUNT and LAB_MUTATIONS
 * (per lab) make a longer run: LAB_COUNT=200 LAB_MUTATIONS=1000 tries them all.
 */
import { describe, expect, test } from 'vitest';
import { checkLab } from '../../../src/runtime/lab/parse.js';
import { labToYaml } from '../../../src/runtime/lab/serialize.js';
import { Random, seedFrom } from '../../helpers/random.js';
import { type RandomLab, randomLab } from '../../helpers/random-lab.js';

const seed = seedFrom('LAB_SEED', 'random labs');
const LABS = Number(process.env.LAB_COUNT ?? 30);

function labs(): { lab: RandomLab; size: number; i: number }[] {
  const r = new Random(seed);
  return Array.from({ length: LABS }, (_, i) => {
    const size = i === 0 ? 2 : i === 1 ? 50 : r.int(2, 50);
    return { lab: randomLab(r, size, `r${i}`), size, i };
  });
}

describe(`random lab files (seed ${seed})`, () => {
  const all = labs();

  test('they cover every kind, both link forms, shaping, routes and all the mutation kinds', () => {
    const text = all.map((l) => l.lab.text).join('\n');
    for (const s of ['kind: bridge', 'kind: bmv2', '- { node:', 'impair:', 'routes:', 'mtu:', 'device-id:', 'mac:'])
      expect(text).toContain(s);
    const names = new Set(all.flatMap((l) => l.lab.mutations.map((m) => m.name)));
    expect(names.size).toBeGreaterThanOrEqual(14);
  });

  test.each(all)('lab $i ($size nodes) validates and round-trips', ({ lab, size }) => {
    const { model, problems } = checkLab(lab.text);
    expect(problems, lab.text).toEqual([]);
    expect(Object.keys(model!.nodes)).toEqual(lab.nodes);
    expect(Object.keys(model!.nodes)).toHaveLength(size);
    const written = Object.values(model!.nodes).flatMap((n) => Object.values(n.interfaces).flatMap((i) => i.addresses));
    expect(written.sort()).toEqual([...lab.addresses].sort());
    const again = checkLab(labToYaml(model!));
    expect(again.problems).toEqual([]);
    expect(again.model).toEqual(model);
  });

  test.each(all)('lab $i, each single mutation is reported at its line and column', ({ lab }) => {
    const r = new Random(seed ^ lab.text.length);
    const lines = lab.text.split('\n');
    for (const m of r.sample(lab.mutations, Number(process.env.LAB_MUTATIONS ?? 6))) {
      const text = m.apply(lines).join('\n');
      const { model, problems } = checkLab(text);
      const found = problems.find(
        (p) => p.severity === 'error' && p.line === m.line && p.col === m.col && p.message.includes(m.message),
      );
      const context = `mutation "${m.name}" (seed ${seed}), line ${m.line}: ${text.split('\n')[m.line - 1]}\nexpected ${m.line}:${m.col} ${m.message}\ngot:\n${problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n')}`;
      expect(model, context).toBeUndefined();
      expect(found, context).toBeDefined();
    }
  });
});
