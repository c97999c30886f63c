/**
 * Seeded randomness for trials and fuzzing: every run prints its seed, and
 * the same seed replays the same choices (`SEED=1234 npx vitest run ...`,
 * or the variable a test names).
 */

/** mulberry32: a small, fast, well-distributed 32-bit generator. */
export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
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
}

/** The seed to use: the environment variable's when set (a replay), else a fresh one; printed either way. */
export function seedFrom(variable: string, what: string): number {
  const given = process.env[variable];
  const seed = given !== undefined ? Number(given) : Math.floor(Math.random() * 0xffffffff);
  console.log(`${what}: seed ${seed} (replay with ${variable}=${seed})`);
  return seed;
}
