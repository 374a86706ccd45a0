/**
 * `uniform`: the PrefixKV paper's "Uniform" ablation.
 *
 * @module
 */
import { z } from "zod";
import { uniformAllocation } from "../allocation/uniform.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption, startSizeOption } from "../options.ts";
import { prefillImportance } from "../scorers/prefill_importance.ts";
import { prefixSelection } from "../selection/prefix.ts";
import { PREFIXKV_REF } from "./_references.ts";

/** PrefixKV's parts with the same ratio in every layer. */
export const uniform = defineMethod({
  name: "uniform",
  summary: "PrefixKV importance and selection with the same ratio in every layer (ablation)",
  description: "The paper's 'Uniform' ablation: PrefixKV's importance, selection and " +
    "decoding, but every layer keeps the same r·N entries instead of an adaptive prefix. " +
    "Compare with prefixkv to measure what the layer-wise allocation alone buys.",
  reference: PREFIXKV_REF + " (ablation)",
  compresses: true,
  options: z.object({ startSize: startSizeOption, distance: distanceOption }),
  build: (o) => ({
    scorer: prefillImportance(),
    allocation: uniformAllocation(),
    selection: prefixSelection(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
