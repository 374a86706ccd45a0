/**
 * StreamingLLM-style selection (the paper's "Local" baseline, [EC-code] `LocalCache`): keep the
 * first `startSize` sink tokens and the most recent `count − startSize` prompt entries; no
 * attention is used, so every layer keeps the same positions.
 *
 * @module
 */
import { range, sortedUnion } from "../ranking.ts";
import type { Selection } from "../recipe.ts";

/** Sinks `[0, startSize)` plus the most recent entries. */
export function sinkAndRecent(startSize = 1): Selection {
  return {
    name: `sink+recent(s=${startSize})`,
    merges: false,
    needsScores: false,
    minKeep: (n) => Math.min(n, startSize + 1),
    protectedPositions: (n) => sortedUnion(range(0, Math.min(startSize, n - 1)), [n - 1]),
    select({ promptLength: n, count }) {
      const sinks = Math.min(startSize, count);
      return { kind: "keep", indices: sortedUnion(range(0, sinks), range(n - (count - sinks), n)) };
    },
  };
}
