/**
 * Seeded randomness for fuzz and fault tests: a run is replayed exactly by
 * giving its seed back (`FUZZ_SEED=<n> npx vitest run <file>`).
 *
 *   const rnd = seeded('FUZZ_SEED');    // prints the seed
 *   rnd.int(0, 9); rnd.pick(['a', 'b']); rnd.chance(0.1);
 */

/** mulberry32: 32 bits of state, a full 2^32 period, and good enough spread for picking test inputs. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Random {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in min..max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `n` distinct items, in random order. */
  sample<T>(items: readonly T[], n: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy.slice(0, n);
  }

  /** Picks by weight: `[[3, 'often'], [1, 'rarely']]`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of choices) {
      r -= w;
      if (r < 0) return v;
    }
    return (choices[choices.length - 1] as readonly [number, T])[1];
  }

  /** A lower-case hex string of `bytes` random bytes. */
  hex(bytes: number): string {
    let out = '';
    for (let i = 0; i < bytes; i++) out += this.int(0, 255).toString(16).padStart(2, '0');
    return out;
  }
}

/**
 * The seed of this run: from the environment variable `name` when set (a
 * replay), else a fresh one. Printed either way, so any failure can be replayed.
 */
export function seeded(name: string): Random {
  const given = process.env[name];
  const seed = given !== undefined && given !== '' ? Number(given) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  console.log(`${name}=${seed}${given ? ' (replay)' : ''}`);
  return new Random(seed);
}

/** The seed to use: the environment variable's when set (a replay), else a fresh one; printed either way. */
export function seedFrom(variable: string, what: string): number {
  const given = process.env[variable];
  const seed = given !== undefined && given !== '' ? Number(given) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  console.log(`${what}: seed ${seed} (replay with ${variable}=${seed})`);
  return seed;
}
