/**
 * `pyramid`: PyramidKV's allocation as the PrefixKV paper's ablation.
 *
 * @module
 */
import { z } from "zod";
import { pyramidAllocation } from "../allocation/pyramid.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption, startSizeOption } from "../options.ts";
import { prefillImportance } from "../scorers/prefill_importance.ts";
import { prefixSelection } from "../selection/prefix.ts";
import { PREFIXKV_REF } from "./_references.ts";

/** Per-layer budgets decreasing linearly with depth. */
export const pyramid = defineMethod({
  name: "pyramid",
  summary: "PyramidKV allocation (linear decrease with depth) with PrefixKV selection",
  description: "The paper's 'PyramidKV' ablation: per-layer budgets decrease linearly with " +
    "depth, from 2C − C/β in the first layer to C/β in the last (C = r·N, β = 20, capped at N " +
    "as KVCache-Factory's PyramidKVCluster does), with PrefixKV's importance, selection and " +
    "fixed-distance decoding. No observation window is set aside; the sink and the last " +
    "token are protected instead.",
  reference: "Cai et al., PyramidKV, arXiv 2406.02069; as an ablation in " + PREFIXKV_REF,
  compresses: true,
  options: z.object({
    startSize: startSizeOption,
    distance: distanceOption,
    beta: z.number().min(1).default(20)
      .describe("slope β: the last layer keeps C/β, the first 2C − C/β (C = r·N)"),
  }),
  build: (o) => ({
    scorer: prefillImportance(),
    allocation: pyramidAllocation(o.beta),
    selection: prefixSelection(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
