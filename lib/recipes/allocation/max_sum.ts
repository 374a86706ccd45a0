/**
 * Max-sum allocation: one global threshold on per-layer-normalised importances. Each layer's
 * scores are divided by their sum (as PrefixKV's priority sequence, paper.md §1.3); the
 * unprotected entries of all layers are ranked together and the top ones fill the budget. This
 * maximises the total retained normalised importance Σ_l P_l, where PrefixKV's bisection
 * equalises P_l across layers (max–min, paper.md §1.4); the two differ when layers' curves differ.
 *
 * Every layer keeps at least the selection's `minKeep`. When the selection protects fewer
 * positions than that (a sink and the last token, but a floor of 8), a layer's first
 * `minKeep − protected` ranked entries fill its floor and cost no budget, so the total stays
 * exactly round(r·N·L) and no layer exceeds N.
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
      const unprotected = n - isProtected.reduce((s, x) => s + x, 0); // ranked entries per layer
      const layerOf = new Int32Array(numLayers * unprotected);
      const value = new Float64Array(numLayers * unprotected);
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
      // Ranked entries a layer's floor already pays for (0 when the selection protects minKeep).
      const prepaid = new Int32Array(numLayers).fill(Math.max(0, minKeep - (n - unprotected)));
      let left = total - minKeep * numLayers;
      for (let i = 0; i < c && left > 0; i++) {
        const l = layerOf[order[i]];
        if (prepaid[l] > 0) prepaid[l]--;
        else {
          counts[l]++;
          left--;
        }
      }
      return { kept: counts };
    },
  };
}
