/**
 * `prefixkv-merge`: PrefixKV's counts with Elastic Cache's merging.
 *
 * @module
 */
import { z } from "zod";
import { prefixAllocation, prefixAllocationOptions } from "../allocation/prefixkv_allocation.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption } from "../options.ts";
import { prefillImportance } from "../scorers/prefill_importance.ts";
import { mergeIntoNearestAnchor } from "../selection/merge.ts";
import { ELASTIC_REF, PREFIXKV_REF } from "./_references.ts";

/** PrefixKV allocation, dropped entries merged into the kept ones. */
export const prefixkvMerge = defineMethod({
  name: "prefixkv-merge",
  summary: "PrefixKV allocation with Elastic Cache merging of the dropped entries",
  description: "PrefixKV's per-layer counts (online search or offline config) with Elastic " +
    "Cache's selection: the kept entries become anchors and every dropped entry is merged " +
    "into its nearest ranked anchor by position instead of being discarded. Decoding: " +
    "fixed-distance eviction. Tests the paper's claim that merging is compatible with " +
    "PrefixKV.",
  reference: "new in this toolkit; combines " + PREFIXKV_REF + " and " + ELASTIC_REF,
  compresses: true,
  options: z.object({ ...prefixAllocationOptions, distance: distanceOption }),
  build: (o) => ({
    scorer: prefillImportance(),
    allocation: prefixAllocation(o, "prefixkv-merge"),
    selection: mergeIntoNearestAnchor(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
