/**
 * The full-cache selection: the layer keeps every entry.
 *
 * @module
 */
import { range } from "../ranking.ts";
import type { Selection } from "../recipe.ts";

/** Keeps every entry; only valid with an allocation that keeps all N (full cache). */
export function keepAllSelection(): Selection {
  return {
    name: "keep-all",
    merges: false,
    needsScores: false,
    keepsAll: true,
    // The full cache ignores the budget, so it sets no floor for it; select() insists on N.
    minKeep: () => 1,
    protectedPositions: (n) => Int32Array.from(range(0, n)),
    select({ promptLength: n, count, layer }) {
      if (count !== n) throw new Error(`selection keep-all: layer ${layer} asked to keep ${count}`);
      return { kind: "keep", indices: Int32Array.from(range(0, n)) };
    },
  };
}
