/**
 * `vl-cache`: VL-Cache (Tu et al., arXiv 2410.23317v1, ICLR 2025), the sparsity-aware
 * layer budget and the modality-aware post-vision scoring, with their two parts:
 *
 * - {@link postVisionAttention} scores each entry by the attention that the *post-vision*
 *   queries (the language tokens after the last image token) pay it, summed over those queries:
 *   the paper's modality-aware token scoring ("Post-vision Attention", Fig. 4).
 * - {@link sparsityAllocation} measures each layer's sparsity γ_l on the same post-vision rows —
 *   the share of causal entries below τ = 1 % of their row's maximum — and gives layer l a share
 *   of the total budget proportional to its density 1 − γ_l: the paper's layer-adaptive
 *   sparsity-aware budget allocation.
 *
 * Choices where this toolkit differs or the paper text was not at hand (the arXiv HTML could not
 * be read from here beyond its abstract; the threshold and the density-proportional split follow
 * the public re-implementation in EffiVLM-Bench's `VlCacheKVCluster`): sparsity is measured on
 * the head-averaged matrices the runtime reports (one value per layer, not per head); per-layer
 * counts are clamped to [protected entries, N] and the remainder redistributed so the total is
 * exactly round(r·N·L) (the re-implementation clamps to [0.01·N, N] without redistributing);
 * the sink(s) and the last prompt token are protected and the rest is top-k by post-vision score
 * (no separate recent window); without an image every query counts as post-vision; decoding uses
 * the paper's fixed-distance eviction so the cache stays at the budget like every other recipe.
 *
 * @module
 */
import { z } from "zod";
import type { PrefillInfo } from "../../runtime/cache_policy.ts";
import { targetTotal } from "../allocation/pyramid.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption, startSizeOption } from "../options.ts";
import { apportion } from "../ranking.ts";
import type { Allocation, Scorer } from "../recipe.ts";
import { prefixSelection } from "../selection/prefix.ts";

/** First post-vision query: the position after the image (0 without one), at most N − 1. */
export function postVisionStart(info: PrefillInfo): number {
  return Math.min(info.imageSpan?.end ?? 0, info.promptLength - 1);
}

function matrices(info: PrefillInfo, numLayers: number, who: string): Float32Array[] {
  const att = info.attention;
  const n = info.promptLength;
  if (!att || att.length !== numLayers) {
    throw new Error(
      `${who}: the runtime reported ${att?.length ?? "no"} attention matrices for ` +
        `${numLayers} layers`,
    );
  }
  att.forEach((m, l) => {
    if (m.length !== n * n) throw new Error(`${who}: layer ${l} attention is not N × N`);
  });
  return att;
}

/** VL-Cache's modality-aware scores: attention summed over the post-vision queries. */
export function postVisionAttention(): Scorer {
  return {
    name: "post-vision-attention",
    needs: "matrices",
    layerShared: false,
    score(info, numLayers) {
      const n = info.promptLength;
      const from = postVisionStart(info);
      return matrices(info, numLayers, "scorer post-vision-attention").map((m) => {
        const sums = new Float64Array(n);
        for (let q = from; q < n; q++) {
          for (let k = 0; k <= q; k++) sums[k] += m[q * n + k];
        }
        return Float32Array.from(sums);
      });
    },
  };
}

/**
 * Sparsity γ of one `[n, n]` attention matrix over the query rows `[from, n)`: the share of
 * causal entries (k ≤ q) below `threshold` times their row's maximum.
 */
export function layerSparsity(
  matrix: ArrayLike<number>,
  n: number,
  from: number,
  threshold: number,
): number {
  let dense = 0;
  let total = 0;
  for (let q = from; q < n; q++) {
    let max = 0;
    for (let k = 0; k <= q; k++) max = Math.max(max, matrix[q * n + k]);
    for (let k = 0; k <= q; k++) if (matrix[q * n + k] >= threshold * max) dense++;
    total += q + 1;
  }
  return total === 0 ? 0 : 1 - dense / total;
}

/** What {@link sparsityAllocation} decided (the `vlCache` decision section). */
export interface VlCacheDecision {
  /** First post-vision query row. */
  postVisionStart: number;
  /** Relative threshold τ (share of the row maximum). */
  threshold: number;
  /** Sparsity γ_l per layer. */
  sparsity: number[];
}

/** VL-Cache's layer budget: shares of r·N·L proportional to each layer's density 1 − γ_l. */
export function sparsityAllocation(threshold = 0.01): Allocation {
  return {
    name: `sparsity(τ=${threshold})`,
    uniform: false,
    needsScores: false,
    needs: "matrices",
    allocate({ promptLength: n, numLayers, fraction, minKeep, prefill }) {
      const from = postVisionStart(prefill);
      const att = matrices(prefill, numLayers, "allocation sparsity");
      const sparsity = att.map((m) => layerSparsity(m, n, from, threshold));
      const density = sparsity.map((g) => 1 - g);
      const sum = density.reduce((s, d) => s + d, 0);
      const quotas = density.map((d) =>
        sum > 0 ? (d / sum) * fraction * n * numLayers : fraction * n
      );
      const total = targetTotal(fraction, n, numLayers, minKeep);
      const vlCache: VlCacheDecision = { postVisionStart: from, threshold, sparsity };
      return { kept: apportion(quotas, total, minKeep, n), sections: { vlCache: { ...vlCache } } };
    },
  };
}

/** VL-Cache. */
export const vlCache = defineMethod({
  name: "vl-cache",
  summary: "VL-Cache: layer budgets from post-vision sparsity, post-vision attention scores",
  description: "VL-Cache for vision-language prompts. The queries after the image (the " +
    "question's tokens) decide everything: each layer's sparsity γ_l is the share of their " +
    "causal attention entries below 1% of the row maximum, and the layers split the budget " +
    "r·N·L in proportion to their density 1 − γ_l (dense layers keep more); within a layer " +
    "the sink(s) and the last token are kept and the rest ranked by the attention the " +
    "post-vision queries pay them. Needs the prefill attention matrices. Choices of this " +
    "toolkit: head-averaged sparsity, counts clamped to [protected, N] with the exact total " +
    "kept, no recent window, every query counts when there is no image, and fixed-distance " +
    "decoding so the cache stays at the budget.",
  reference: "Tu et al., VL-Cache: Sparsity and Modality-Aware KV Cache Compression for " +
    "Vision-Language Model Inference Acceleration, arXiv 2410.23317v1 (ICLR 2025): its " +
    "layer-adaptive sparsity-aware budget allocation and modality-aware (post-vision) token " +
    "scoring",
  compresses: true,
  options: z.object({
    startSize: startSizeOption,
    threshold: z.number().gt(0).lt(1).default(0.01)
      .describe("sparsity threshold τ: entries below τ × their row's maximum count as sparse"),
    distance: distanceOption,
  }),
  build: (o) => ({
    scorer: postVisionAttention(),
    allocation: sparsityAllocation(o.threshold),
    selection: prefixSelection(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
