/**
 * `aircache`: AirCache (Huang et al., arXiv 2503.23956v1, ICCV 2025), the elite observation
 * window and the layer budget from the strength and skewness of each layer's importance
 * distribution, with their two parts:
 *
 * - {@link eliteObservationWindow}: the observation window is the text after the image (at
 *   most the last `window` prompt positions). Within it, per layer, the last prompt token keeps
 *   the window tokens it attends to most — the elite, a share `eliteRatio` of the window plus
 *   the last token itself — and every entry is scored by the attention of the elite queries
 *   only, so the visual entries are judged by the text that is relevant to the answer.
 * - {@link strengthSkewnessAllocation}: for each layer, over the entries the selection may
 *   drop, the strength S_l (the share of the layer's elite attention that falls on them) and
 *   the skewness G_l (third standardised moment of their scores). Layer l gets a share of
 *   r·N·L proportional to S_l / (1 + max(0, G_l)): a layer whose relevant attention is weak, or
 *   concentrated on a few entries, needs fewer of them.
 *
 * The paper's text could not be read from here beyond its abstract (which names the elite
 * observation window, "multi-perspective consistency", and a budget from "the strength and
 * skewness of token importance distribution"); every formula above is this toolkit's choice,
 * made to fit that description, and so are: choosing the elite with the last token's
 * attention, one elite set per layer, scoring text entries the same way as visual ones, the
 * weight S/(1 + max(0, G)), exact totals via clamped apportionment, the sink(s) and the last
 * token protected, and fixed-distance decoding so the cache stays at the budget.
 *
 * @module
 */
import { z } from "zod";
import type { PrefillInfo } from "../../runtime/cache_policy.ts";
import { targetTotal } from "../allocation/pyramid.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption, startSizeOption } from "../options.ts";
import { apportion, topK } from "../ranking.ts";
import type { Allocation, Scorer } from "../recipe.ts";
import { prefixSelection } from "../selection/prefix.ts";

/** Options of {@link eliteObservationWindow}. */
export interface EliteWindowOptions {
  /** Most positions in the observation window (default 32). */
  window?: number;
  /** Share of the window (besides the last token) that is elite, in (0, 1] (default 0.5). */
  eliteRatio?: number;
}

/** First position of the observation window: after the image, within the last `window`. */
export function observationStart(info: PrefillInfo, window: number): number {
  const n = info.promptLength;
  return Math.min(n - 1, Math.max(info.imageSpan?.end ?? 0, n - window));
}

/** The elite queries of one layer: the last position and the window tokens it attends to most. */
export function eliteQueries(
  matrix: ArrayLike<number>,
  n: number,
  start: number,
  eliteRatio: number,
): number[] {
  const last = n - 1;
  const row = Array.from({ length: n }, (_, k) => matrix[last * n + k]);
  const k = Math.ceil(eliteRatio * (last - start));
  return [...topK(row, start, last, k), last];
}

/** AirCache's scores: per layer, attention summed over that layer's elite queries. */
export function eliteObservationWindow(options: EliteWindowOptions = {}): Scorer {
  const window = options.window ?? 32;
  const eliteRatio = options.eliteRatio ?? 0.5;
  return {
    name: `elite-window(w=${window},elite=${eliteRatio})`,
    needs: "matrices",
    layerShared: false,
    score(info, numLayers) {
      const n = info.promptLength;
      const att = info.attention;
      if (!att || att.length !== numLayers) {
        throw new Error(
          `scorer elite-window: the runtime reported ${att?.length ?? "no"} attention ` +
            `matrices for ${numLayers} layers`,
        );
      }
      const start = observationStart(info, window);
      return att.map((m) => {
        const sums = new Float64Array(n);
        for (const q of eliteQueries(m, n, start, eliteRatio)) {
          for (let k = 0; k <= q; k++) sums[k] += m[q * n + k];
        }
        return Float32Array.from(sums);
      });
    },
  };
}

/** Strength and skewness of one layer's scores over the entries that are not protected. */
export function strengthAndSkewness(
  scores: ArrayLike<number>,
  isProtected: (position: number) => boolean,
): { strength: number; skewness: number } {
  let all = 0;
  const free: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    all += scores[i];
    if (!isProtected(i)) free.push(scores[i]);
  }
  const mass = free.reduce((s, x) => s + x, 0);
  const mean = free.length ? mass / free.length : 0;
  let m2 = 0;
  let m3 = 0;
  for (const x of free) {
    m2 += (x - mean) ** 2;
    m3 += (x - mean) ** 3;
  }
  m2 /= free.length || 1;
  m3 /= free.length || 1;
  return {
    strength: all > 0 ? mass / all : 0,
    skewness: m2 > 1e-30 ? m3 / m2 ** 1.5 : 0,
  };
}

/** What {@link strengthSkewnessAllocation} decided (the `aircache` decision section). */
export interface AirCacheDecision {
  /** Per layer, the share of its scores on the entries the selection may drop. */
  strength: number[];
  /** Per layer, the skewness of those entries' scores. */
  skewness: number[];
  /** Per layer, the weight S / (1 + max(0, G)) its budget share is proportional to. */
  weight: number[];
}

/** AirCache's layer budget from the strength and skewness of each layer's scores. */
export function strengthSkewnessAllocation(): Allocation {
  return {
    name: "strength-skewness",
    uniform: false,
    needsScores: true,
    allocate({ promptLength: n, numLayers, fraction, scores, minKeep, protectedPositions }) {
      if (!scores) throw new Error("allocation strength-skewness: no scores");
      const guarded = new Set(protectedPositions);
      const stats = scores.map((s) => strengthAndSkewness(s, (i) => guarded.has(i)));
      const weight = stats.map(({ strength, skewness }) => strength / (1 + Math.max(0, skewness)));
      const sum = weight.reduce((s, w) => s + w, 0);
      const quotas = weight.map((w) =>
        sum > 0 ? (w / sum) * fraction * n * numLayers : fraction * n
      );
      const total = targetTotal(fraction, n, numLayers, minKeep);
      const aircache: AirCacheDecision = {
        strength: stats.map((x) => x.strength),
        skewness: stats.map((x) => x.skewness),
        weight,
      };
      return {
        kept: apportion(quotas, total, minKeep, n),
        sections: { aircache: { ...aircache } },
      };
    },
  };
}

/** AirCache. */
export const airCache = defineMethod({
  name: "aircache",
  summary: "AirCache: elite observation window scores, budgets from strength and skewness",
  description: "AirCache for vision-language prompts. The observation window is the text " +
    "after the image (at most the last `window` positions); per layer, the last prompt token " +
    "picks the window tokens it attends to most (the elite, a share eliteRatio of the window) " +
    "and entries are scored by the elite queries' attention only. Layers split the budget " +
    "r·N·L by S/(1 + max(0, G)), where S is the share of a layer's elite attention on the " +
    "droppable entries and G the skewness of their scores; within a layer the sink(s) and the " +
    "last token are kept and the rest ranked by score. Needs the prefill attention matrices. " +
    "The paper's formulas were not at hand: these are this toolkit's choices fitting its " +
    "description (see lib/recipes/methods/aircache.ts); decoding is fixed-distance.",
  reference: "Huang et al., AirCache: Activating Inter-modal Relevancy KV Cache Compression " +
    "for Efficient Large Vision-Language Model Inference, arXiv 2503.23956v1 (ICCV 2025): its " +
    "elite observation window and strength/skewness layer budget, as described in the abstract",
  compresses: true,
  options: z.object({
    startSize: startSizeOption,
    window: z.number().int().min(1).default(32)
      .describe("observation window: the text after the image, at most this many positions"),
    eliteRatio: z.number().gt(0).max(1).default(0.5)
      .describe("share of the window the last token keeps as elite queries"),
    distance: distanceOption,
  }),
  build: (o) => ({
    scorer: eliteObservationWindow(o),
    allocation: strengthSkewnessAllocation(),
    selection: prefixSelection(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
