import type { Prng } from "../lib/random.ts";

/**
 * L × N random importances for property tests. `ties` rounds scores to a few levels so equal
 * scores are common.
 */
export function randomImportance(r: Prng, layers: number, n: number, ties = false): number[][] {
  return Array.from({ length: layers }, () =>
    Array.from({ length: n }, () => {
      const v = r.next() ** 3; // skewed, like attention mass
      return ties ? Math.round(v * 4) / 4 + 0.25 : v + 1e-6;
    }));
}
