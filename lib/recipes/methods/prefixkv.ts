/**
 * `prefixkv`: the method this toolkit is centred on.
 *
 * @module
 */
import { z } from "zod";
import { prefixAllocation, prefixAllocationOptions } from "../allocation/prefixkv_allocation.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption } from "../options.ts";
import { prefillImportance } from "../scorers/prefill_importance.ts";
import { prefixSelection } from "../selection/prefix.ts";
import { PREFIXKV_REF } from "./_references.ts";

/** PrefixKV: per-layer prefixes from one global threshold (or an offline config). */
export const prefixkv = defineMethod({
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
  options: z.object({ ...prefixAllocationOptions, distance: distanceOption }),
  build: (o) => ({
    scorer: prefillImportance(),
    allocation: prefixAllocation(o, "prefixkv"),
    selection: prefixSelection(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
