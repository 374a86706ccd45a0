/**
 * `snapkv`: SnapKV's pooled observation-window scores with a uniform budget.
 *
 * @module
 */
import { z } from "zod";
import { uniformAllocation } from "../allocation/uniform.ts";
import { fixedDistance } from "../decode/fixed_distance.ts";
import { defineMethod } from "../method.ts";
import { distanceOption } from "../options.ts";
import { observationWindow, observationWindowSize } from "../scorers/observation_window.ts";
import { topKSelection } from "../selection/top_k.ts";

/** SnapKV. */
export const snapkv = defineMethod({
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
  options: z.object({
    window: z.number().int().min(1).default(32)
      .describe("observation window w: the last w prompt queries vote (min(w, N/4) if shorter)"),
    kernel: z.number().int().min(1).refine((k) => k % 2 === 1, "odd").default(5)
      .describe("width of the pooling that smooths the votes (odd)"),
    pooling: z.enum(["max", "avg"]).default("max").describe("pooling kind"),
    distance: distanceOption,
  }),
  build: (o) => ({
    scorer: observationWindow(o),
    allocation: uniformAllocation(),
    selection: topKSelection({
      name: `window+top-k(w=${o.window})`,
      sink: 0,
      recent: (count, n) => Math.min(count, observationWindowSize(n, o.window)),
      minKeep: () => 1,
    }),
    decode: fixedDistance(o.distance),
  }),
});
