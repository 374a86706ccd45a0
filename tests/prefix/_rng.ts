/** Seeded PRNG for property tests (mulberry32): the same seed gives the same cases. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random integer in [lo, hi]. */
export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/**
 * L × N random importances. `ties` rounds scores to a few levels so equal scores are common.
 */
export function randomImportance(
  r: () => number,
  layers: number,
  n: number,
  ties = false,
): number[][] {
  return Array.from({ length: layers }, () =>
    Array.from({ length: n }, () => {
      const v = r() ** 3; // skewed, like attention mass
      return ties ? Math.round(v * 4) / 4 + 0.25 : v + 1e-6;
    }));
}
