/**
 * `h2o`: H2O as the PrefixKV paper's baseline ran it (ElasticCache's H2OCache).
 *
 * @module
 */
import { z } from "zod";
import { uniformAllocation } from "../allocation/uniform.ts";
import { accumulatedGlobal } from "../decode/accumulated.ts";
import { defineMethod } from "../method.ts";
import { startSizeOption } from "../options.ts";
import { layerMeanImportance } from "../scorers/layer_mean.ts";
import { topKSelection } from "../selection/top_k.ts";

/** One layer-averaged score, the same positions in every layer. */
export const h2o = defineMethod({
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
  options: z.object({ startSize: startSizeOption }),
  build: ({ startSize: s }) => ({
    scorer: layerMeanImportance(),
    allocation: uniformAllocation(),
    selection: topKSelection({
      name: `top-k(sink=${s},last)`,
      sink: s,
      recent: () => 1,
      minKeep: () => s + 1,
    }),
    decode: accumulatedGlobal(s),
  }),
});
