/**
 * PrefixKV's online allocation: the global prefix search on the current prompt's importance
 * (bisection on the retained-information threshold p so that every layer keeps the same share
 * p of its importance mass; paper.md §1.4). Wraps `prefixSearch` from `lib/prefix`; its
 * decision (p, iterations, convergence) travels in the `prefixkv` section.
 *
 * The search keeps at least `startSize + 1` entries per layer. Composed with a selection that
 * protects more (a recent window, a larger sink), every layer's count is floored at the
 * selection's `minKeep`: the search caps each layer's evictions at N − minKeep, so the total
 * stays within the search's tolerance of the budget (then the reference's rescale and floor).
 * PrefixKV's own selection protects exactly `startSize + 1`, so its counts are unchanged.
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

/** What a PrefixKV allocation decided for one prompt (the `prefixkv` decision section). */
export interface PrefixKvDecision {
  /** `online`: searched on this prompt; `offline`: counts from a calibrated config. */
  mode: "online" | "offline";
  /** Retained-information threshold of the online search (null offline). */
  p: number | null;
  /** Bisection steps of the online search (null offline). */
  iterations: number | null;
  /** Whether the online search reached its tolerance (null offline). */
  converged: boolean | null;
  /** Entries each layer kept after prefill. */
  kept: number[];
  /** Offline: the config's per-layer eviction fractions that decoding maintains. */
  configEvictRatios: number[] | null;
  /** Offline: where the config came from (a file path, or "PrefixKV config"). */
  source?: string;
  /**
   * Offline: entries moved between layers to lift layers to the selection's minKeep (absent
   * when the config's counts already meet it, as with PrefixKV's own selection).
   */
  floorMoved?: number;
}

/**
 * Per-prompt PrefixKV search (max–min: equal retained share across layers), every layer
 * floored at the selection's `minKeep`.
 */
export function prefixSearchAllocation(o: PrefixSearchAllocationOptions = {}): Allocation {
  return {
    name: "prefix-search",
    uniform: false,
    needsScores: true,
    allocate({ scores, fraction, minKeep }) {
      if (!scores) throw new Error("allocation prefix-search: no scores");
      const found = prefixSearch(scores, {
        budget: fraction,
        minKeep,
        startSize: o.startSize ?? 1,
        tolerance: o.tolerance,
        maxIterations: o.maxIterations,
      });
      const prefixkv: PrefixKvDecision = {
        mode: "online",
        p: found.p,
        iterations: found.iterations,
        converged: found.converged,
        kept: [...found.keep],
        configEvictRatios: null,
      };
      return { kept: Int32Array.from(found.keep), sections: { prefixkv: { ...prefixkv } } };
    },
  };
}
