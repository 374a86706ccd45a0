/**
 * Max-sum allocation: one global threshold on per-layer-normalised importances. Each layer's
 * scores are divided by their sum (as PrefixKV's priority sequence, paper.md §1.3); the
 * unprotected entries of all layers are ranked together and the top ones fill the budget. This
 * maximises the total retained normalised importance Σ_l P_l, where PrefixKV's bisection
 * equalises P_l across layers (max–min, paper.md §1.4); the two differ when layers' curves differ.
 *
 * @module
 */
import type { Allocation } from "../recipe.ts";
import { targetTotal } from "./pyramid.ts";

/** The max-sum allocation over normalised scores. */
export function maxSumAllocation(): Allocation {
  return {
    name: "max-sum",
    uniform: false,
    needsScores: true,
    allocate({ promptLength: n, numLayers, fraction, scores, minKeep, protectedPositions }) {
      if (!scores) throw new Error("allocation max-sum: no scores");
      const total = targetTotal(fraction, n, numLayers, minKeep);
      const isProtected = new Uint8Array(n);
      for (const p of protectedPositions) isProtected[p] = 1;
      const extra = n - minKeep; // unprotected entries per layer
      const layerOf = new Int32Array(numLayers * extra);
      const value = new Float64Array(numLayers * extra);
      let c = 0;
      for (let l = 0; l < numLayers; l++) {
        const s = scores[l];
        let sum = 0;
        for (let i = 0; i < n; i++) sum += s[i];
        for (let i = 0; i < n; i++) {
          if (isProtected[i]) continue;
          layerOf[c] = l;
          value[c] = sum > 0 ? s[i] / sum : 0;
          c++;
        }
      }
      // Rank (value desc, then layer, then position): ties resolve deterministically.
      const order = Array.from({ length: c }, (_, i) => i);
      order.sort((a, b) => value[b] - value[a] || a - b);
      const counts = new Int32Array(numLayers).fill(minKeep);
      for (let i = 0; i < total - minKeep * numLayers; i++) counts[layerOf[order[i]]]++;
      return { kept: counts };
    },
  };
}
