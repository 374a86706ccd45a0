/**
 * The paper's decode policy, inherited from Elastic Cache (paper.md §1.7): each layer deletes
 * the entry at a fixed cache index K_l − 25 whenever it holds more than its share (1 − ρ_l) of
 * the tokens seen, at most one per step. Wraps `FixedDistanceEviction` from `lib/prefix`. It
 * needs no scores, so it also serves merging selections.
 *
 * @module
 */
import { DEFAULT_DISTANCE, FixedDistanceEviction } from "../../prefix/fixed_distance.ts";
import type { DecodePolicy } from "../recipe.ts";

/** Fixed-distance eviction at K_l + `distance` (default −25; > 0 = absolute index). */
export function fixedDistance(distance = DEFAULT_DISTANCE): DecodePolicy {
  return {
    name: `fixed-distance(${distance})`,
    needsStepAttention: false,
    needsEntryScores: false,
    needsSharedPositions: false,
    start({ kept, evictRatios }) {
      const eviction = new FixedDistanceEviction(evictRatios, kept, distance);
      return { afterStep: (cache, info) => void eviction.step(cache, info.tokensSeen) };
    },
  };
}
