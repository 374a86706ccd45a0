/**
 * Score-ranked selection with protected ends: keep the first `sink` entries and the last
 * `recent(count)` ones, then the highest-scored of the rest (a true top-k, ties to the lower
 * position). One parametrised part serves H2O as the baseline code ran it (sink + last token),
 * the original H2O (heavy hitters + a recent window of half the budget) and SnapKV (the
 * observation window kept whole).
 *
 * @module
 */
import { range, sortedUnion, topK } from "../ranking.ts";
import type { Selection } from "../recipe.ts";

/** Options of {@link topKSelection}. */
export interface TopKOptions {
  /** Part name shown in descriptions. */
  name: string;
  /** Leading entries always kept (attention sinks). */
  sink: number;
  /** Trailing entries always kept when a layer keeps `count` of `promptLength`. */
  recent: (count: number, promptLength: number) => number;
  /** Fewest entries a layer may keep. */
  minKeep: (promptLength: number) => number;
}

/** Top-k by score between protected leading and trailing entries. */
export function topKSelection(o: TopKOptions): Selection {
  const ends = (n: number, count: number) => {
    const sinks = Math.min(o.sink, count);
    const recent = Math.min(o.recent(count, n), count - sinks);
    return { sinks, recent };
  };
  return {
    name: o.name,
    merges: false,
    needsScores: true,
    minKeep: (n) => Math.min(n, o.minKeep(n)),
    protectedPositions(n, count) {
      const { sinks, recent } = ends(n, count);
      return sortedUnion(range(0, sinks), range(n - recent, n));
    },
    select({ promptLength: n, count, scores }) {
      if (!scores) throw new Error(`selection ${o.name}: no scores`);
      const { sinks, recent } = ends(n, count);
      const heavy = topK(scores, sinks, n - recent, count - sinks - recent);
      return { kind: "keep", indices: sortedUnion(range(0, sinks), heavy, range(n - recent, n)) };
    },
  };
}
