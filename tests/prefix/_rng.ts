import { mulberry32 } from "../../lib/random.ts";

/** Seeded PRNG for property tests (mulberry32): the same seed gives the same cases. */
export const rng: (seed: number) => () => number = mulberry32;

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
