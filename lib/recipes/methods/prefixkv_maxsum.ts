/**
 * `prefixkv-maxsum`: the max-sum variant of PrefixKV's allocation.
 *
 * @module
 */
import { z } from "zod";
import { maxSumAllocation } from "../allocation/max_sum.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption, startSizeOption } from "../options.ts";
import { prefillImportance } from "../scorers/prefill_importance.ts";
import { prefixSelection } from "../selection/prefix.ts";
import { PREFIXKV_REF } from "./_references.ts";

/** One global threshold on per-layer-normalised importances. */
export const prefixkvMaxsum = defineMethod({
  name: "prefixkv-maxsum",
  summary: "max-sum allocation: one global threshold on per-layer-normalised importances",
  description: "A PrefixKV variant (paper.md §1.4, §6): each layer's importance is normalised " +
    "to sum 1 and the unprotected entries of all layers are ranked together; the top ones " +
    "fill the budget. This maximises the total retained normalised importance Σ_l P_l, " +
    "where PrefixKV equalises P_l across layers (max-sum vs max-min). Selection and " +
    "decoding as PrefixKV.",
  reference: "new in this toolkit; allocation objective contrasted with " + PREFIXKV_REF,
  compresses: true,
  options: z.object({ startSize: startSizeOption, distance: distanceOption }),
  build: (o) => ({
    scorer: prefillImportance(),
    allocation: maxSumAllocation(),
    selection: prefixSelection(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
