/**
 * PrefixKV's selection (paper.md §1.5): keep the first `startSize` positions and the last prompt
 * position, and of the positions between them the highest-importance ones; the others are
 * dropped. Wraps `selectKept` from `lib/prefix`.
 *
 * @module
 */
import { selectKept } from "../../prefix/select.ts";
import { range, sortedUnion } from "../ranking.ts";
import type { Selection } from "../recipe.ts";

/** The protected positions of PrefixKV-style selections: `[0, startSize)` and N − 1. */
export function sinkAndLast(promptLength: number, startSize: number): Int32Array {
  return sortedUnion(range(0, Math.min(startSize, promptLength - 1)), [promptLength - 1]);
}

/** Top-importance entries between the protected first `startSize` and last positions. */
export function prefixSelection(startSize = 1): Selection {
  return {
    name: `prefix-top(s=${startSize})`,
    merges: false,
    needsScores: true,
    minKeep: (n) => Math.min(n, startSize + 1),
    protectedPositions: (n) => sinkAndLast(n, startSize),
    select({ promptLength: n, count, scores }) {
      if (!scores) throw new Error("selection prefix-top: no scores");
      return { kind: "keep", indices: selectKept(scores, n - count, startSize) };
    },
  };
}
