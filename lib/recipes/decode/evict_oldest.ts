/**
 * StreamingLLM-style decoding ([EC-code] `LocalCache`): whenever a layer exceeds its share of
 * the tokens seen, drop its oldest non-sink entries. Sinks and the newest entry are never
 * dropped. Needs no attention.
 *
 * @module
 */
import type { DecodePolicy } from "../recipe.ts";
import { allowedLength } from "./target.ts";

/** Evict the oldest entries after the `startSize` sinks. */
export function evictOldest(startSize = 1): DecodePolicy {
  return {
    name: `evict-oldest(s=${startSize})`,
    needsStepAttention: false,
    needsEntryScores: false,
    needsSharedPositions: false,
    start: ({ promptLength, kept }) => ({
      afterStep(cache, info) {
        for (let l = 0; l < cache.numLayers; l++) {
          const allowed = allowedLength(kept[l], promptLength, info.tokensSeen);
          while (cache.length(l) > allowed && startSize < cache.length(l) - 1) {
            cache.evict(l, startSize);
          }
        }
      },
    }),
  };
}
