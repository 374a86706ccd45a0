/**
 * The full-cache allocation: every layer keeps its whole prompt, whatever the budget.
 *
 * @module
 */
import type { Allocation } from "../recipe.ts";

/** Every layer keeps all N entries. */
export function keepAllAllocation(): Allocation {
  return {
    name: "keep-all",
    uniform: true,
    needsScores: false,
    keepsAll: true,
    allocate: ({ promptLength, numLayers }) => ({
      kept: new Int32Array(numLayers).fill(promptLength),
    }),
  };
}
