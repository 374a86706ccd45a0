/**
 * H2O as the paper's baseline code ran it: one score vector for the whole model, the prefill
 * importance averaged over layers (it is already averaged over heads), shared by every layer so
 * that all layers keep the same positions (paper.md §2, [EC-code] `H2OCache`).
 *
 * @module
 */
import type { Scorer } from "../recipe.ts";
import { requireImportance } from "./prefill_importance.ts";

/** The layer-averaged importance, the same vector for every layer. */
export function layerMeanImportance(): Scorer {
  return {
    name: "layer-mean-importance",
    needs: "importance",
    layerShared: true,
    score(info, numLayers) {
      const imp = requireImportance(info, numLayers, "layer-mean-importance");
      const n = info.promptLength;
      const sum = new Float64Array(n);
      for (const v of imp) for (let i = 0; i < n; i++) sum[i] += v[i];
      const mean = new Float32Array(n);
      for (let i = 0; i < n; i++) mean[i] = sum[i] / numLayers;
      return Array.from({ length: numLayers }, () => mean);
    },
  };
}
