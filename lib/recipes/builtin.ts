/**
 * The built-in recipes. Each is a composition of parts from `scorers/`, `allocation/`,
 * `selection/` and `decode/`; adding a recipe means adding a definition here (or calling
 * `registerRecipe`), after which the shared test matrix covers it.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { keepAllAllocation } from "./allocation/keep_all.ts";
import { maxSumAllocation } from "./allocation/max_sum.ts";
import { offlineConfigAllocation } from "./allocation/offline_config.ts";
import { prefixSearchAllocation } from "./allocation/prefix_search.ts";
import { pyramidAllocation } from "./allocation/pyramid.ts";
import { uniformAllocation } from "./allocation/uniform.ts";
import { accumulatedGlobal, accumulatedLayerwise, recentHalf } from "./decode/accumulated.ts";
import { evictOldest } from "./decode/evict_oldest.ts";
import { fixedDistance } from "./decode/fixed_distance.ts";
import { noDecodeEviction } from "./decode/keep_all.ts";
import type { RecipeDefinition, RecipeOptions } from "./definition.ts";
import type { Allocation } from "./recipe.ts";
import { layerMeanImportance } from "./scorers/layer_mean.ts";
import { noScores } from "./scorers/no_scores.ts";
import {
  checkWindowOptions,
  observationWindow,
  observationWindowSize,
} from "./scorers/observation_window.ts";
import { prefillImportance } from "./scorers/prefill_importance.ts";
import { keepAllSelection } from "./selection/keep_all.ts";
import { mergeIntoNearestAnchor } from "./selection/merge.ts";
import { prefixSelection } from "./selection/prefix.ts";
import { sinkAndRecent } from "./selection/sink_recent.ts";
import { topKSelection } from "./selection/top_k.ts";

const PREFIXKV_REF = "Wang et al., PrefixKV, arXiv 2412.03409 (NeurIPS 2025); " +
  "github.com/THU-MIG/PrefixKV";
const ELASTIC_REF = "Liu et al., Efficient Inference of Vision Instruction-Following Models " +
  "with Elastic Cache, arXiv 2407.18121 (ECCV 2024); github.com/liuzuyan/ElasticCache";

/** PrefixKV's allocation: the offline config when one is given, else the online search. */
function prefixAllocation(o: RecipeOptions, name: string): Allocation {
  if (o.conf !== undefined) {
    if (o.online) {
      throw new InputError(
        `recipe ${name}: give either an offline config (--conf) or --online, not both`,
      );
    }
    return offlineConfigAllocation(o.conf, o.startSize ?? 1, o.confSource);
  }
  return prefixSearchAllocation({
    startSize: o.startSize,
    tolerance: o.tolerance,
    maxIterations: o.maxIterations,
  });
}

const PREFIX_OPTIONS = [
  "startSize",
  "distance",
  "conf",
  "confSource",
  "online",
  "tolerance",
  "maxIterations",
] as const;

/** Every built-in recipe, in listing order. */
export const BUILTIN_RECIPES: readonly RecipeDefinition[] = [
  {
    name: "full",
    summary: "no compression: every layer keeps every entry",
    description: "Keeps the whole KV cache in every layer and asks the runtime for no " +
      "attention, so prefill and decoding run at full speed. It ignores the budget; every " +
      "other recipe at budget 100% keeps exactly the same entries. The reference for PPL and " +
      "for ROUGE-L fidelity.",
    reference: "full-cache baseline of every KV-retention paper",
    compresses: false,
    options: [],
    build: () => ({
      scorer: noScores(),
      allocation: keepAllAllocation(),
      selection: keepAllSelection(),
      decode: noDecodeEviction(),
    }),
  },
  {
    name: "local",
    summary: "StreamingLLM-style: sink tokens + most recent entries, same in every layer",
    description: "The paper's 'Local' baseline. After prefill every layer keeps the first " +
      "startSize sink tokens and the most recent r·N − startSize prompt entries (so an image " +
      "that precedes the question is mostly lost); the positions are the same in every layer " +
      "and no attention is needed. While decoding, a layer over its share r of the tokens seen " +
      "drops its oldest non-sink entries. Keys keep their original RoPE positions (no " +
      "StreamingLLM position shift).",
    reference: "Xiao et al., StreamingLLM, arXiv 2309.17453 (ICLR 2024); as ElasticCache's " +
      "LocalCache",
    compresses: true,
    options: ["startSize"],
    build: (o) => ({
      scorer: noScores(),
      allocation: uniformAllocation(),
      selection: sinkAndRecent(o.startSize ?? 1),
      decode: evictOldest(o.startSize ?? 1),
    }),
  },
  {
    name: "h2o",
    summary: "H2O as the paper's baseline ran it: one layer-averaged score, same positions",
    description: "The paper's 'H2O' baseline, as in ElasticCache's H2OCache: a single score " +
      "vector, the prefill attention averaged over heads and layers and summed over queries, " +
      "ranks the prompt; every layer keeps the same round(r·N) positions (sinks, the last " +
      "token and the top-scored rest). While decoding each new token's head- and " +
      "layer-averaged attention is added to the scores and, when a layer exceeds its share, " +
      "the lowest-scored entry outside the sinks and the newest token is evicted in every " +
      "layer. This implements the CORRECT top-k: the baseline code's " +
      "where(argsort(score) > forget) selects rank positions, not the top-scored tokens, so " +
      "the paper's H2O numbers may be lower than this recipe's.",
    reference: "Zhang et al., H2O, arXiv 2306.14048 (NeurIPS 2023); as ElasticCache's H2OCache",
    compresses: true,
    options: ["startSize"],
    build: (o) => {
      const s = o.startSize ?? 1;
      return {
        scorer: layerMeanImportance(),
        allocation: uniformAllocation(),
        selection: topKSelection({
          name: `top-k(sink=${s},last)`,
          sink: s,
          recent: () => 1,
          minKeep: () => s + 1,
        }),
        decode: accumulatedGlobal(s),
      };
    },
  },
  {
    name: "h2o-layerwise",
    summary: "original H2O: per-layer accumulated scores, heavy hitters + recent window",
    description: "The original Heavy-Hitter Oracle. Every layer ranks by its own accumulated " +
      "attention (head-averaged prefill column sums, then each decoded token's attention added " +
      "on) and keeps the same count r·N, split into a recent window (the newest half) and the " +
      "heavy hitters (the top-scored of the rest). While decoding, a layer over its share of " +
      "the tokens seen evicts its lowest-scored entry outside the recent window. Needs the " +
      "attention of every decode step.",
    reference: "Zhang et al., H2O: Heavy-Hitter Oracle, arXiv 2306.14048 (NeurIPS 2023)",
    compresses: true,
    options: [],
    build: () => ({
      scorer: prefillImportance(),
      allocation: uniformAllocation(),
      selection: topKSelection({
        name: "heavy+recent-half",
        sink: 0,
        recent: (count) => recentHalf(count),
        minKeep: () => 1,
      }),
      decode: accumulatedLayerwise(),
    }),
  },
  {
    name: "elastic",
    summary: "Elastic Cache: uniform budget, importance anchors, the rest merged into them",
    description: "The paper's 'Elastic' baseline. Every layer keeps the same count r·N of " +
      "anchors: the first startSize tokens, the last prompt token and the entries with the " +
      "highest per-layer importance (head-averaged prefill attention summed over all queries). " +
      "Every other entry is merged into its nearest ranked anchor by position (the anchor's " +
      "key and value become the mean of itself and the entries it absorbs). Decoding uses the " +
      "fixed-point eviction at index K − 25. Uses a correct top-k for the anchors (the " +
      "baseline code's argsort selection is not reproduced).",
    reference: ELASTIC_REF,
    compresses: true,
    options: ["startSize", "distance"],
    build: (o) => ({
      scorer: prefillImportance(),
      allocation: uniformAllocation(),
      selection: mergeIntoNearestAnchor(o.startSize ?? 1),
      decode: fixedDistance(o.distance),
    }),
  },
  {
    name: "uniform",
    summary: "PrefixKV importance and selection with the same ratio in every layer (ablation)",
    description: "The paper's 'Uniform' ablation: PrefixKV's importance, selection and " +
      "decoding, but every layer keeps the same r·N entries instead of an adaptive prefix. " +
      "Compare with prefixkv to measure what the layer-wise allocation alone buys.",
    reference: PREFIXKV_REF + " (ablation)",
    compresses: true,
    options: ["startSize", "distance"],
    build: (o) => ({
      scorer: prefillImportance(),
      allocation: uniformAllocation(),
      selection: prefixSelection(o.startSize ?? 1),
      decode: fixedDistance(o.distance),
    }),
  },
  {
    name: "pyramid",
    summary: "PyramidKV allocation (linear decrease with depth) with PrefixKV selection",
    description: "The paper's 'PyramidKV' ablation: per-layer budgets decrease linearly with " +
      "depth, from 2C − C/β in the first layer to C/β in the last (C = r·N, β = 20, capped at N " +
      "as KVCache-Factory's PyramidKVCluster does), with PrefixKV's importance, selection and " +
      "fixed-distance decoding. No observation window is set aside; the sink and the last " +
      "token are protected instead.",
    reference: "Cai et al., PyramidKV, arXiv 2406.02069; as an ablation in " + PREFIXKV_REF,
    compresses: true,
    options: ["startSize", "distance", "beta"],
    build: (o) => ({
      scorer: prefillImportance(),
      allocation: pyramidAllocation(o.beta ?? 20),
      selection: prefixSelection(o.startSize ?? 1),
      decode: fixedDistance(o.distance),
    }),
  },
  {
    name: "snapkv",
    summary: "SnapKV: pooled observation-window attention, uniform budget",
    description: "Scores each prompt entry by the attention of the last w prompt queries (the " +
      "observation window, w = 32 by default, min(w, N/4) for short prompts), smoothed by a " +
      "max (or average) pool of width 5; every layer keeps the same count r·N: the whole window " +
      "plus the top-scored earlier entries. Needs the prefill attention matrices. SnapKV does " +
      "not evict while decoding; here decoding uses the paper's fixed-distance eviction so " +
      "that the cache stays at the budget like every other recipe.",
    reference: "Li et al., SnapKV, arXiv 2404.14469 (NeurIPS 2024)",
    compresses: true,
    options: ["window", "kernel", "pooling", "distance"],
    build: (o) => {
      const w = checkWindowOptions(o);
      return {
        scorer: observationWindow(w),
        allocation: uniformAllocation(),
        selection: topKSelection({
          name: `window+top-k(w=${w.window})`,
          sink: 0,
          recent: (count, n) => Math.min(count, observationWindowSize(n, w.window)),
          minKeep: () => 1,
        }),
        decode: fixedDistance(o.distance),
      };
    },
  },
  {
    name: "prefixkv",
    summary: "PrefixKV: per-layer prefix from a global threshold search (or offline config)",
    description: "PrefixKV. Each layer's importance (head-averaged prefill attention summed " +
      "over all queries) is normalised and sorted into a priority sequence; a bisection finds " +
      "one retained-information threshold p so that every layer keeps the shortest prefix " +
      "holding a share p of its importance, with the total at the budget (max–min: the layers " +
      "retain equal shares). Online searches each prompt; with an offline config (the " +
      "reference's per-layer eviction fractions) only the counts come from the file. Kept: " +
      "the sink(s), the last prompt token and the top-importance rest. Decoding: fixed-distance " +
      "eviction at K_l − 25, keeping each layer's ratio.",
    reference: PREFIXKV_REF,
    compresses: true,
    options: PREFIX_OPTIONS,
    build: (o) => ({
      scorer: prefillImportance(),
      allocation: prefixAllocation(o, "prefixkv"),
      selection: prefixSelection(o.startSize ?? 1),
      decode: fixedDistance(o.distance),
    }),
  },
  {
    name: "prefixkv-maxsum",
    summary: "max-sum allocation: one global threshold on per-layer-normalised importances",
    description: "A PrefixKV variant (paper.md §1.4, §6): each layer's importance is normalised " +
      "to sum 1 and the unprotected entries of all layers are ranked together; the top ones " +
      "fill the budget. This maximises the total retained normalised importance Σ_l P_l, " +
      "where PrefixKV equalises P_l across layers (max-sum vs max-min). Selection and " +
      "decoding as PrefixKV.",
    reference: "new in this toolkit; allocation objective contrasted with " + PREFIXKV_REF,
    compresses: true,
    options: ["startSize", "distance"],
    build: (o) => ({
      scorer: prefillImportance(),
      allocation: maxSumAllocation(),
      selection: prefixSelection(o.startSize ?? 1),
      decode: fixedDistance(o.distance),
    }),
  },
  {
    name: "prefixkv-merge",
    summary: "PrefixKV allocation with Elastic Cache merging of the dropped entries",
    description: "PrefixKV's per-layer counts (online search or offline config) with Elastic " +
      "Cache's selection: the kept entries become anchors and every dropped entry is merged " +
      "into its nearest ranked anchor by position instead of being discarded. Decoding: " +
      "fixed-distance eviction. Tests the paper's claim that merging is compatible with " +
      "PrefixKV.",
    reference: "new in this toolkit; combines " + PREFIXKV_REF + " and " + ELASTIC_REF,
    compresses: true,
    options: PREFIX_OPTIONS,
    build: (o) => ({
      scorer: prefillImportance(),
      allocation: prefixAllocation(o, "prefixkv-merge"),
      selection: mergeIntoNearestAnchor(o.startSize ?? 1),
      decode: fixedDistance(o.distance),
    }),
  },
];
