/**
 * `aircache`: AirCache (Huang et al., arXiv 2503.23956v1, ICCV 2025), the elite observation
 * window and the layer budget from the strength and skewness of each layer's visual importance.
 *
 * **Sources.** The paper's text itself could not be read from here (its arXiv HTML is not
 * reachable). Its equations below come from secondary sources found in a public code index: a
 * paper note that restates them ("[Paper Note] AirCache: …", dated 2026-05-08, in English and
 * in its Chinese original), a structured Chinese summary that names Fig. 1, Fig. 3b and
 * Tables 1, 3, 5 and 6, and a third-party implementation of the elite window (a LLaVA
 * data-generation script's `keep_topk_image_token_aircache`) that cites the paper's Eq. (5)
 * for the threshold. None of them gives section numbers, so this file names the equations by
 * what they define.
 *
 * **What the paper specifies, as those sources give it, and what this file does:**
 *
 * - Prompt = visual tokens X_v then text X_t. Elite window (Eq. (5) per the implementation):
 *   Att = softmax(Q_t K_tᵀ) over the text tokens; the elite are the text tokens j with
 *   Att[N_t − 1, j] ≥ α · max Att[N_t − 1, :], α = 0.9 — the tokens the last text token
 *   attends to most. Here {@link eliteTokens} (Att: the heads' mean of their softmaxes).
 * - Visual importance: A_vtk = softmax(Q_tk K_vtkᵀ), the elite queries over the visual and the
 *   elite keys; I_v = the mean over the elite queries of A_vtk's visual columns. Here
 *   {@link eliteImportance} (a row restricted to those keys and renormalised is that softmax).
 * - Strength s_t = Σ_v I_v; skewness s_k = N_v / ((N_v − 1)(N_v − 2)) · Σ ((I_v − μ)/σ)³;
 *   budget r̂_l = ½ (s'_t + s'_k) · r with s' normalised across layers; r is a share of the
 *   *visual* KV cache ("10 % of visual KV cache"), and compressing only the visual cache beats
 *   compressing text and visual together (Table 6, per the summary). One compression after
 *   prefill. Here {@link strengthAndSkewness}, {@link airCacheWeights} and
 *   {@link strengthSkewnessAllocation}.
 *
 * **Budget convention.** A toolkit budget is the kept fraction r of *all* entries, exactly
 * round(r·N·L), so that recipes compare at equal memory. With `text: "keep"` (the default, the
 * paper's rule) every text entry is kept and the visual entries share what is left,
 * V = round(r·N·L) − L·N_t, split by r̂_l (so the visual kept ratio the paper calls r is
 * V / (L·N_v), in the decision). When the budget is smaller than the text itself the paper has
 * no rule; rather than refuse (sweeps run 10 %…90 % on prompts whose text is a quarter of the
 * entries), the layers then keep equal counts of text only, ranked by the elite's attention,
 * and the decision says `textTrimmed: true`. `text: "rank"` is the unified variant of Table 6:
 * text and visual entries compete in one ranking by the elite's attention.
 *
 * **Heads.** The sources write one softmax and leave open how the heads combine. Here each
 * restricted softmax is taken per head, then averaged over the heads (`needs: "headMatrices"`):
 * head h's row restricted to the key subset and renormalised is that head's softmax over the
 * subset, and I_v is the mean over heads and elite queries. The elite threshold is applied to
 * the mean over heads of the last row's text-restricted softmax (each head's last row over X_t,
 * renormalised, then averaged), the same rule. A head-averaged row restricted and renormalised
 * differs: heads with little mass on the subset count as much as the others in the paper's rule
 * and less in the averaged one. One set of positions is kept per layer.
 *
 * **Open in the paper; this toolkit's choices.** X_t is the text *after* the image: the notation
 * puts the text after the visual tokens, and under causal attention text before the image
 * cannot see it (on the bundled model the last token's strongest text key lies before the
 * image in 91 of 192 layer × prompt pairs, 12 scenes × 2 questions, and such an elite adds
 * nothing to I_v; the third-party implementation takes every non-image token). σ is the
 * sample standard deviation (the n/((n−1)(n−2)) factor is the adjusted Fisher–Pearson
 * estimator), skewness is 0 for fewer than 3 visual entries or σ = 0, and negative skewness
 * counts as 0 (a layer without a head effect gets no skewness share). "Normalised across
 * layers": divided by the layers' mean, so the r̂_l average r and the total is the budget; a
 * layer's quota is capped at its visual count and the counts apportioned exactly (ties to the
 * lower layer). Text scores are 2 + the elite's attention, above every visual I_v ≤ 1, so the
 * selection's top-k takes text first. The sink(s) and the last token are always kept. Without
 * an image every entry is a candidate: the elite come from the positions after the sink(s),
 * with the last position added (its row sees every entry), scores are the elite's mean
 * attention and the statistics run over the droppable entries. The paper compresses once,
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
import { prefillHeadMatrices } from "../prefill_attention.ts";
import { apportion } from "../ranking.ts";
import type { Allocation, Scorer } from "../recipe.ts";
import { prefixSelection } from "../selection/prefix.ts";

/** How text entries are treated: kept before any visual entry (the paper), or ranked with them. */
export type AirCacheText = "keep" | "rank";

/** Options of {@link eliteObservationWindow} and {@link strengthSkewnessAllocation}. */
export interface AirCacheOptions {
  /** Relevancy threshold α of the elite window, in (0, 1] (default 0.9, the paper's). */
  alpha?: number;
  /** Text entries kept first (`"keep"`, default) or ranked with the visual ones (`"rank"`). */
  text?: AirCacheText;
  /** Leading positions the selection protects; without an image the elite come after them. */
  startSize?: number;
}

/** Score offset of text entries under `text: "keep"`: above every visual importance (≤ 1). */
export const TEXT_TIER = 2;

/** Which positions play which part for one prompt. */
export interface AirCacheRoles {
  /** The visual entries `[start, end)`, or undefined without an image. */
  visual?: { start: number; end: number };
  /** First position of X_t, the text the elite are chosen from (up to N − 1). */
  textFrom: number;
}

/** The roles of a prompt's positions: the image span, and X_t = the text after it. */
export function airCacheRoles(info: PrefillInfo, startSize = 1): AirCacheRoles {
  const n = info.promptLength;
  const span = info.imageSpan;
  if (!span || span.end <= span.start) return { textFrom: Math.min(startSize, n - 1) };
  return { visual: { ...span }, textFrom: Math.min(span.end, n - 1) };
}

/**
 * The elite of one layer: the positions j in `[from, n)` whose attention from the last
 * position is at least `alpha` times the largest there (sorted; never empty). That attention is
 * the mean over `heads` (`[n, n]` matrices) of each head's last row restricted to `[from, n)`
 * and renormalised (its softmax over those keys).
 */
export function eliteTokens(
  heads: readonly ArrayLike<number>[],
  n: number,
  from: number,
  alpha: number,
): number[] {
  const last = (n - 1) * n;
  const row = new Float64Array(n);
  for (const matrix of heads) {
    let z = 0;
    for (let j = from; j < n; j++) z += matrix[last + j];
    if (z > 0) { for (let j = from; j < n; j++) row[j] += matrix[last + j] / z; }
  }
  let max = 0;
  for (let j = from; j < n; j++) max = Math.max(max, row[j]);
  const elite: number[] = [];
  for (let j = from; j < n; j++) if (row[j] >= alpha * max) elite.push(j);
  return elite;
}

/**
 * The elite of one layer for a prompt's roles: {@link eliteTokens} over X_t; without an image
 * the last position joins them (an early elite's row sees only the first few entries).
 */
export function layerElite(
  heads: readonly ArrayLike<number>[],
  n: number,
  roles: AirCacheRoles,
  alpha: number,
): number[] {
  const elite = eliteTokens(heads, n, roles.textFrom, alpha);
  if (!roles.visual && elite.at(-1) !== n - 1) elite.push(n - 1);
  return elite;
}

/**
 * Importance of every key in `keys` (others 0): the mean over `heads` (`[n, n]` matrices) and
 * the `elite` queries of each head's attention restricted to the causal keys in `keys` and
 * renormalised to sum to 1 (that head's softmax over those keys).
 */
export function eliteImportance(
  heads: readonly ArrayLike<number>[],
  n: number,
  elite: readonly number[],
  keys: (position: number) => boolean,
): Float64Array {
  const importance = new Float64Array(n);
  for (const matrix of heads) {
    for (const q of elite) {
      let z = 0;
      for (let k = 0; k <= q; k++) if (keys(k)) z += matrix[q * n + k];
      if (z <= 0) continue;
      for (let k = 0; k <= q; k++) if (keys(k)) importance[k] += matrix[q * n + k] / z;
    }
  }
  const count = heads.length * elite.length;
  for (let k = 0; k < n; k++) importance[k] /= count;
  return importance;
}

/**
 * AirCache's scores. With an image and `text: "keep"`: visual entries get I_v, text entries
 * {@link TEXT_TIER} + the elite's mean attention. Otherwise every entry gets the elite's mean
 * attention.
 */
export function eliteObservationWindow(options: AirCacheOptions = {}): Scorer {
  const alpha = options.alpha ?? 0.9;
  const text = options.text ?? "keep";
  const startSize = options.startSize ?? 1;
  return {
    name: `elite-window(α=${alpha},text=${text})`,
    needs: "headMatrices",
    layerShared: false,
    score(info, numLayers) {
      const n = info.promptLength;
      const roles = airCacheRoles(info, startSize);
      const visual = roles.visual;
      return prefillHeadMatrices(info, numLayers, "scorer elite-window").map((heads) => {
        const elite = layerElite(heads, n, roles, alpha);
        const everyKey = eliteImportance(heads, n, elite, () => true);
        if (!visual || text === "rank") return Float32Array.from(everyKey);
        const isVisual = (k: number) => k >= visual.start && k < visual.end;
        const eliteSet = new Set(elite);
        const iv = eliteImportance(heads, n, elite, (k) => isVisual(k) || eliteSet.has(k));
        return Float32Array.from(
          { length: n },
          (_, k) => isVisual(k) ? iv[k] : TEXT_TIER + everyKey[k],
        );
      });
    },
  };
}

/**
 * Adjusted Fisher–Pearson skewness n/((n−1)(n−2)) · Σ ((x − μ)/s)³ with s the sample standard
 * deviation; 0 for fewer than 3 values or no spread.
 */
export function sampleSkewness(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 3) return 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  let m2 = 0;
  for (let i = 0; i < n; i++) m2 += (values[i] - mean) ** 2;
  const s = Math.sqrt(m2 / (n - 1));
  if (!(s > 1e-15 * Math.max(1, Math.abs(mean)))) return 0;
  let cubes = 0;
  for (let i = 0; i < n; i++) cubes += ((values[i] - mean) / s) ** 3;
  return (n / ((n - 1) * (n - 2))) * cubes;
}

/** Strength s_t (the sum) and skewness s_k of one layer's scores at `positions`. */
export function strengthAndSkewness(
  scores: ArrayLike<number>,
  positions: readonly number[],
): { strength: number; skewness: number } {
  const values = positions.map((p) => scores[p]);
  return { strength: values.reduce((s, x) => s + x, 0), skewness: sampleSkewness(values) };
}

/**
 * ½ (s'_t + s'_k) per layer, each statistic divided by its mean over the layers (negative
 * skewness as 0; a statistic that is 0 in every layer counts as 1 everywhere), so the weights
 * average 1.
 */
export function airCacheWeights(
  strength: readonly number[],
  skewness: readonly number[],
): number[] {
  const normalised = (xs: readonly number[]) => {
    const pos = xs.map((x) => Math.max(0, x));
    const mean = pos.reduce((s, x) => s + x, 0) / pos.length;
    return pos.map((x) => (mean > 0 ? x / mean : 1));
  };
  const st = normalised(strength);
  const sk = normalised(skewness);
  return st.map((s, l) => (s + sk[l]) / 2);
}

/** What {@link strengthSkewnessAllocation} decided (the `aircache` decision section). */
export interface AirCacheDecision {
  /** How text entries were treated: `"keep"`, `"rank"`, or `"no image"` (every entry ranked). */
  text: AirCacheText | "no image";
  /** Per layer, the elite positions. */
  elite: number[][];
  /** Per layer, the strength s_t (sum of the scores the statistics run over). */
  strength: number[];
  /** Per layer, the skewness s_k of those scores. */
  skewness: number[];
  /** Per layer, ½ (s'_t + s'_k): its budget relative to the mean layer. */
  weight: number[];
  /** Entries every layer keeps whatever the scores: text (under `"keep"`) and protected. */
  fixed: number;
  /** Per layer, the candidates kept beyond the fixed entries (the visual ones under "keep"). */
  candidatesKept: number[];
  /** Share of the candidates kept over all layers (the paper's r under `"keep"`). */
  candidateRatio: number;
  /** True when the budget was below the fixed entries, so text itself was trimmed. */
  textTrimmed: boolean;
}

/**
 * AirCache's layer budget from the strength and skewness of each layer's visual importance.
 * Under `text: "keep"` its counts are every text entry plus each layer's visual share, so they
 * mean "all text, then the best visual entries" only with a scorer that ranks text first, as
 * {@link eliteObservationWindow} does.
 */
export function strengthSkewnessAllocation(options: AirCacheOptions = {}): Allocation {
  const alpha = options.alpha ?? 0.9;
  const text = options.text ?? "keep";
  const startSize = options.startSize ?? 1;
  return {
    name: `strength-skewness(text=${text})`,
    uniform: false,
    needsScores: true,
    needs: "headMatrices",
    allocate(input) {
      const { promptLength: n, numLayers: layers, fraction, scores, minKeep, prefill } = input;
      if (!scores) throw new Error("allocation strength-skewness: no scores");
      const roles = airCacheRoles(prefill, startSize);
      const visual = roles.visual;
      const guarded = new Set(input.protectedPositions);
      const keepText = visual !== undefined && text === "keep";
      const isVisual = (k: number) => visual !== undefined && k >= visual.start && k < visual.end;
      const all = Array.from({ length: n }, (_, k) => k);
      const fixed = all.filter((k) => guarded.has(k) || (keepText && !isVisual(k))).length;
      // The statistics run over the visual entries (the paper's I_v), else the droppable ones.
      const measured = visual ? all.filter(isVisual) : all.filter((k) => !guarded.has(k));
      const stats = scores.map((s) => strengthAndSkewness(s, measured));
      const weight = airCacheWeights(stats.map((x) => x.strength), stats.map((x) => x.skewness));
      const total = targetTotal(fraction, n, layers, minKeep);
      const extra = total - layers * fixed;
      const free = n - fixed;
      let kept: Int32Array;
      let candidatesKept: number[];
      if (extra >= 0) {
        const lo = Math.max(0, minKeep - fixed);
        const counts = apportion(weight.map((w) => (w * extra) / layers), extra, lo, free);
        candidatesKept = Array.from(counts);
        kept = counts.map((c) => c + fixed);
      } else {
        kept = apportion(new Array(layers).fill(total / layers), total, minKeep, fixed);
        candidatesKept = new Array(layers).fill(0);
      }
      const heads = prefillHeadMatrices(prefill, layers, "allocation strength-skewness");
      const aircache: AirCacheDecision = {
        text: visual ? text : "no image",
        elite: heads.map((h) => layerElite(h, n, roles, alpha)),
        strength: stats.map((x) => x.strength),
        skewness: stats.map((x) => x.skewness),
        weight,
        fixed,
        candidatesKept,
        candidateRatio: free > 0 ? Math.max(0, extra) / (layers * free) : 1,
        textTrimmed: extra < 0,
      };
      return { kept, sections: { aircache: { ...aircache } } };
    },
  };
}

/** AirCache. */
export const airCache = defineMethod({
  name: "aircache",
  summary: "AirCache: elite-window visual importance, budgets from strength and skewness",
  description: "AirCache for vision-language prompts. The elite are the text tokens after the " +
    "image that the last token attends to at least α = 0.9 times its strongest text key (the " +
    "heads' mean text-only softmax); a " +
    "visual entry's importance I_v is the elite queries' mean attention over the visual and " +
    "elite keys, renormalised per head and averaged over heads. Each layer's strength (Σ I_v) and skewness (adjusted " +
    "Fisher–Pearson) are divided by their mean over the layers, and layer l's visual budget is " +
    "½(s'_t + s'_k) times the mean. Text entries are kept whole and the visual entries share " +
    "the rest of the budget r·N·L (exact totals; below the text share, text is trimmed by the " +
    "elite's attention and no visual entry is kept); text: rank ranks text and visual entries " +
    "together. Sink(s) and the last token are always kept. Needs every head's prefill " +
    "attention matrices. The paper was read through secondary sources (a paper note restating " +
    "its equations, a summary, a third-party implementation); the per-head softmaxes averaged " +
    "over heads, the text window, the normalisation and fixed-distance decoding are this " +
    "toolkit's choices (see " +
    "lib/recipes/methods/aircache.ts).",
  reference: "Huang et al., AirCache: Activating Inter-modal Relevancy KV Cache Compression " +
    "for Efficient Large Vision-Language Model Inference, arXiv 2503.23956v1 (ICCV 2025): the " +
    "elite observation window (Eq. (5) threshold), visual importance I_v, strength and " +
    "skewness layer budget r̂ = ½(s'_t + s'_k)·r, visual-only compression (Table 6), as " +
    "restated by a public paper note ([Paper Note] AirCache, 2026) and a paper summary",
  compresses: true,
  options: z.object({
    startSize: startSizeOption,
    alpha: z.number().gt(0).max(1).default(0.9)
      .describe("relevancy threshold α: elite text tokens get ≥ α × the last token's top score"),
    text: z.enum(["keep", "rank"]).default("keep")
      .describe("keep: text kept whole, visual entries share the rest; rank: one ranking"),
    distance: distanceOption,
  }),
  build: (o) => ({
    scorer: eliteObservationWindow(o),
    allocation: strengthSkewnessAllocation(o),
    selection: prefixSelection(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
