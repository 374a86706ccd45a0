/**
 * The project's one seeded pseudo-random generator (mulberry32), so that a seed picks the same
 * scenes, samples, weights and test cases on every machine and every run (no `Math.random`
 * anywhere), plus two seed-mixing helpers.
 *
 * @module
 */

/** 2³², the range of one raw draw. */
const UINT32_RANGE = 4294967296;

/** Seeded 32-bit PRNG (mulberry32): each draw depends only on the seed and the number of draws. */
export class Prng {
  #state: number;

  /** Creates a generator from any 32-bit integer seed (other numbers are truncated to 32 bits). */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Next raw unsigned 32-bit value (one mulberry32 step). */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1): the next raw value over 2³². */
  next(): number {
    return this.nextUint32() / UINT32_RANGE;
  }

  /** Uniform integer in [0, n). Exact: a 32-bit value times n fits a float64 mantissa. */
  int(n: number): number {
    return Math.floor((this.nextUint32() * n) / UINT32_RANGE);
  }

  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** One element of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A uniformly shuffled copy of `items` (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

/** A {@link Prng} as a function of no arguments returning uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

/**
 * Mixes several integers into one 32-bit seed (murmur3-style finaliser), so that item `i` of a
 * set depends only on (seed, set, i) and not on how many items were drawn before it.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A 32-bit hash of a short ASCII string (FNV-1a), used to fold names (e.g. splits) into seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h >>> 0;
}
