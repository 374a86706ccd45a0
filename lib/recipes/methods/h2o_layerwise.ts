/**
 * `h2o-layerwise`: the original Heavy-Hitter Oracle, per layer.
 *
 * @module
 */
import { z } from "zod";
import { uniformAllocation } from "../allocation/uniform.ts";
import { accumulatedLayerwise, recentHalf } from "../decode/accumulated.ts";
import { defineMethod } from "../method.ts";
import { prefillImportance } from "../scorers/prefill_importance.ts";
import { topKSelection } from "../selection/top_k.ts";

/** Per-layer accumulated scores, heavy hitters plus a recent window. */
export const h2oLayerwise = defineMethod({
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
  options: z.object({}),
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
});
