/**
 * PrefixKV's online allocation: the global prefix search on the current prompt's importance
 * (bisection on the retained-information threshold p so that every layer keeps the same share
 * p of its importance mass; paper.md §1.4). Wraps `prefixSearch` from `lib/prefix`.
 *
 * @module
 */
import { prefixSearch } from "../../prefix/search.ts";
import type { Allocation } from "../recipe.ts";

/** Options of {@link prefixSearchAllocation}. */
export interface PrefixSearchAllocationOptions {
  /** Leading positions always kept (default 1). */
  startSize?: number;
  /** Search tolerance in tokens over all layers (default 5). */
  tolerance?: number;
  /** Bisection steps at most (default 100). */
  maxIterations?: number;
}

/** Per-prompt PrefixKV search (max–min: equal retained share across layers). */
export function prefixSearchAllocation(o: PrefixSearchAllocationOptions = {}): Allocation {
  return {
    name: "prefix-search",
    uniform: false,
    needsScores: true,
    allocate({ scores, fraction }) {
      if (!scores) throw new Error("allocation prefix-search: no scores");
      const found = prefixSearch(scores, {
        budget: fraction,
        startSize: o.startSize ?? 1,
        tolerance: o.tolerance,
        maxIterations: o.maxIterations,
      });
      return Int32Array.from(found.keep);
    },
  };
}
