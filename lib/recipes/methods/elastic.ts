/**
 * `elastic`: Elastic Cache, the paper's merging baseline.
 *
 * @module
 */
import { z } from "zod";
import { uniformAllocation } from "../allocation/uniform.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption, startSizeOption } from "../options.ts";
import { prefillImportance } from "../scorers/prefill_importance.ts";
import { mergeIntoNearestAnchor } from "../selection/merge.ts";
import { ELASTIC_REF } from "./_references.ts";

/** Importance anchors with the rest merged into them. */
export const elastic = defineMethod({
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
  options: z.object({ startSize: startSizeOption, distance: distanceOption }),
  build: (o) => ({
    scorer: prefillImportance(),
    allocation: uniformAllocation(),
    selection: mergeIntoNearestAnchor(o.startSize),
    decode: fixedDistance(o.distance),
  }),
});
