/**
 * The uniform allocation of every baseline in the paper's tables (Local, H2O, Elastic) and of
 * its "Uniform" ablation: each layer keeps round(r·N) entries, the same count everywhere, so
 * recipes that share one ranking keep the same positions in every layer.
 *
 * @module
 */
import type { Allocation } from "../recipe.ts";

/** Every layer keeps round(fraction · N) entries (at least the protected ones). */
export function uniformAllocation(): Allocation {
  return {
    name: "uniform",
    uniform: true,
    needsScores: false,
    allocate({ promptLength, numLayers, fraction, minKeep }) {
      const k = Math.min(promptLength, Math.max(minKeep, Math.round(fraction * promptLength)));
      return { kept: new Int32Array(numLayers).fill(k) };
    },
  };
}
