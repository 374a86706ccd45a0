/**
 * `vl-cache`: VL-Cache (Tu et al., arXiv 2410.23317v1, ICLR 2025), the sparsity-aware layer
 * budget and the modality-aware post-vision scoring.
 *
 * **Sources.** The paper's text itself could not be read from here (only the abstract and the
 * start of §1 of its arXiv HTML). Its rules below are taken from two secondary sources, which
 * cite its equations: the written specification of the `vl_cache_reimpl` baseline in
 * arupcsedu/MosaicKV (`mosaickv/docs/baselines/vl_cache_spec.md`, with its implementation
 * `src/mosaickv/baselines/vl_cache.py`; a re-implementation, not the authors' code) and a
 * structured summary of the paper that names Eq. (1)–(2), §3.1, §3.2 and Algorithm 1. Neither
 * is the paper; where they disagree on a section number (the specification puts the
 * post-vision score in §3.2, its code in §4.2) both are named.
 *
 * **What the paper specifies, as those sources give it, and what this file does:**
 *
 * - Post-vision queries P: the language positions after the last image token (§3.2). Here
 *   {@link postVisionStart}.
 * - Eq. (1), ThresholdFilter(A, p): an entry counts when it is at least p = 1 % of its row's
 *   maximum; Eq. (2) and Algorithm 1: a layer's sparsity γ_l is the share of the post-vision
 *   rows' causal entries that the filter zeroes, measured per head and averaged over heads;
 *   density d_l = 1 − γ_l. Here {@link layerSparsity} (one head) and {@link headSparsity}.
 * - Algorithm 1's layer budget: β_l = clip(d_l / Σ_j d_j · α·L, 0.01, 1), α the kept fraction.
 *   Here {@link sparsityAllocation}: quotas β_l·N, clipped to [max(protected, ⌈0.01·N⌉), N].
 * - Modality-aware score (§3.2 / §4.2): s_j = Σ_{q ∈ P} A_qj over all causal keys j, visual
 *   and language alike (not only post-vision keys). Here {@link postVisionAttention}.
 * - Recent window (§5): the most recent tokens, 10 % of the layer's budget, are kept. The
 *   specification notes that §5 may mean this for the baselines only; this file follows its
 *   reading for every method, as the option `recentRatio` (0 turns it off).
 *
 * **Per head, as Algorithm 1 measures it.** The allocation asks the runtime for every head's
 * attention (`needs: "headMatrices"`) and averages the heads' γ_{l,h} ({@link headSparsity}).
 * Head averaging the matrix first would give a lower γ (an entry one head attends to and another
 * ignores is dense after averaging: two heads with disjoint halves of a row have γ = 0.5 each,
 * their averaged matrix γ = 0; `tests/recipes/vl_cache_test.ts`). The score needs only the
 * head-averaged matrix: a sum over queries of the head mean is the head mean of the sums. A
 * layer keeps one set of positions for all its KV heads (the specification ranks per KV head).
 *
 * **Open in the paper; this toolkit's choices.** Integer counts: the clipped β_l·N are
 * apportioned so the layers keep exactly round(r·N·L) (the specification also apportions;
 * ties to the lower layer). The sink(s) (`startSize`, default 1) and the last prompt token are
 * always kept; the recent window is ⌊recentRatio · K_l⌋, at least the last token. Without an
 * image every query counts as post-vision (the specification refuses such prompts; here the
 * recipe then degrades to sparsity-aware full-prompt attention). The paper compresses once,
 * after prefill; decoding here uses fixed-distance eviction so the cache stays at the budget
 * like every other recipe.
 *
 * @module
 */
import { z } from "zod";
import type { PrefillInfo } from "../../runtime/cache_policy.ts";
import { targetTotal } from "../allocation/pyramid.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption, startSizeOption } from "../options.ts";
import { prefillHeadMatrices, prefillMatrices } from "../prefill_attention.ts";
import { apportion } from "../ranking.ts";
import type { Allocation, Scorer, Selection } from "../recipe.ts";
import { topKSelection } from "../selection/top_k.ts";

/** Algorithm 1's lower clip of a layer's kept ratio β_l. */
export const VL_CACHE_MIN_RATIO = 0.01;

/** First post-vision query: the position after the image (0 without one), at most N − 1. */
export function postVisionStart(info: PrefillInfo): number {
  return Math.min(info.imageSpan?.end ?? 0, info.promptLength - 1);
}

/** VL-Cache's modality-aware scores: attention summed over the post-vision queries (§3.2). */
export function postVisionAttention(): Scorer {
  return {
    name: "post-vision-attention",
    needs: "matrices",
    layerShared: false,
    score(info, numLayers) {
      const n = info.promptLength;
      const from = postVisionStart(info);
      return prefillMatrices(info, numLayers, "scorer post-vision-attention").map((m) => {
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
 * Sparsity γ of one `[n, n]` attention matrix over the query rows `[from, n)` (Eq. (1)–(2)):
 * the share of causal entries (k ≤ q) below `threshold` times their row's maximum.
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

/**
 * A layer's γ_l as Algorithm 1 measures it: the mean over its heads of each head's
 * {@link layerSparsity} (each head an `[n, n]` matrix).
 */
export function headSparsity(
  heads: readonly ArrayLike<number>[],
  n: number,
  from: number,
  threshold: number,
): number {
  let sum = 0;
  for (const matrix of heads) sum += layerSparsity(matrix, n, from, threshold);
  return heads.length === 0 ? 0 : sum / heads.length;
}

/**
 * Algorithm 1's kept ratio per layer: β_l = clip(d_l / Σ d · α·L, `min`, 1) for densities
 * d_l = 1 − γ_l and kept fraction α; uniform (β_l = α) when every layer is fully sparse.
 */
export function layerRatios(sparsity: readonly number[], fraction: number, min: number): number[] {
  const density = sparsity.map((g) => 1 - g);
  const sum = density.reduce((s, d) => s + d, 0);
  const layers = sparsity.length;
  return density.map((d) => {
    const beta = sum > 0 ? (d / sum) * fraction * layers : fraction;
    return Math.min(1, Math.max(min, beta));
  });
}

/** What {@link sparsityAllocation} decided (the `vlCache` decision section). */
export interface VlCacheDecision {
  /** First post-vision query row. */
  postVisionStart: number;
  /** Relative threshold p of Eq. (1) (share of the row maximum). */
  threshold: number;
  /** Sparsity γ_l per layer: the mean of its heads' ({@link headSparsity}). */
  sparsity: number[];
  /** Algorithm 1's clipped kept ratio β_l per layer, before integer apportionment. */
  ratios: number[];
}

/**
 * VL-Cache's layer budget (Algorithm 1): each layer's share of r·N·L follows its post-vision
 * density (1 − the mean of its heads' sparsities), clipped to [1 %, 100 %] of N; integer counts
 * sum exactly to round(r·N·L). Reads every head's prefill attention (`needs: "headMatrices"`).
 */
export function sparsityAllocation(threshold = 0.01): Allocation {
  return {
    name: `sparsity(τ=${threshold})`,
    uniform: false,
    needsScores: false,
    needs: "headMatrices",
    allocate({ promptLength: n, numLayers, fraction, minKeep, prefill }) {
      const from = postVisionStart(prefill);
      const heads = prefillHeadMatrices(prefill, numLayers, "allocation sparsity");
      const sparsity = heads.map((layer) => headSparsity(layer, n, from, threshold));
      const ratios = layerRatios(sparsity, fraction, VL_CACHE_MIN_RATIO);
      const total = targetTotal(fraction, n, numLayers, minKeep);
      // The 1 % clip as a lower bound, unless the budget itself is below it (then every layer
      // keeps at least what the selection protects and the mean is the budget).
      const lo = Math.max(
        minKeep,
        Math.min(Math.ceil(VL_CACHE_MIN_RATIO * n), Math.floor(total / numLayers)),
      );
      const vlCache: VlCacheDecision = { postVisionStart: from, threshold, sparsity, ratios };
      return {
        kept: apportion(ratios.map((b) => b * n), total, lo, n),
        sections: { vlCache: { ...vlCache } },
      };
    },
  };
}

/**
 * VL-Cache's selection: the sink(s), the most recent ⌊recentRatio · K⌋ entries (at least the
 * last prompt token) and the top post-vision scores between them.
 */
export function vlCacheSelection(startSize = 1, recentRatio = 0.1): Selection {
  return topKSelection({
    name: `sink+recent+top(s=${startSize},recent=${recentRatio})`,
    sink: startSize,
    recent: (count) => Math.max(1, Math.floor(recentRatio * count)),
    minKeep: () => startSize + 1,
  });
}

/** VL-Cache. */
export const vlCache = defineMethod({
  name: "vl-cache",
  summary: "VL-Cache: layer budgets from post-vision sparsity, post-vision attention scores",
  description: "VL-Cache for vision-language prompts. The queries after the image (the " +
    "question's tokens) decide everything. Each layer's sparsity γ_l is the share of their " +
    "causal attention entries below p = 1% of the row maximum, measured per head and averaged " +
    "over heads (Eq. (1)–(2)); Algorithm 1 " +
    "gives layer l the kept ratio β_l = clip((1 − γ_l)/Σ(1 − γ)·r·L, 0.01, 1), and the counts " +
    "are apportioned so the layers keep exactly r·N·L. Within a layer the sink(s), a recent " +
    "window of 10% of its count (§5) and the entries with the most attention from the " +
    "post-vision queries (§3.2; visual and text keys alike) are kept. Needs every head's " +
    "prefill attention matrices. The paper was read through secondary sources (MosaicKV's " +
    "VL-Cache specification and a paper summary); choices of this toolkit: " +
    "one set of positions per layer, sinks protected, every query post-vision when " +
    "there is no image, and fixed-distance decoding so the cache stays at the budget.",
  reference: "Tu et al., VL-Cache: Sparsity and Modality-Aware KV Cache Compression for " +
    "Vision-Language Model Inference Acceleration, arXiv 2410.23317v1 (ICLR 2025): Eq. (1)–(2) " +
    "and Algorithm 1 (sparsity-aware layer budget), §3.2 (post-vision attention score), §5 " +
    "(recent window), as cited by arupcsedu/MosaicKV's vl_cache_spec.md",
  compresses: true,
  options: z.object({
    startSize: startSizeOption,
    threshold: z.number().gt(0).lt(1).default(0.01)
      .describe("Eq. (1)'s p: entries below p × their row's maximum count as sparse"),
    recentRatio: z.number().min(0).lt(1).default(0.1)
      .describe("recent window as a share of each layer's count (§5: 0.1; 0 = last token only)"),
    distance: distanceOption,
  }),
  build: (o) => ({
    scorer: postVisionAttention(),
    allocation: sparsityAllocation(o.threshold),
    selection: vlCacheSelection(o.startSize, o.recentRatio),
    decode: fixedDistance(o.distance),
  }),
});
