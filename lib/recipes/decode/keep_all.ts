/**
 * The decode policy that never evicts (full cache, or prefill-only compression).
 *
 * @module
 */
import type { DecodePolicy } from "../recipe.ts";

/** Keeps every decoded entry. */
export function noDecodeEviction(): DecodePolicy {
  return {
    name: "keep-all",
    needsStepAttention: false,
    needsEntryScores: false,
    needsSharedPositions: false,
    start: () => ({ afterStep() {} }),
  };
}
