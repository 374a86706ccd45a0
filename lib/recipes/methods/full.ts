/**
 * `full`: no compression, the reference every other recipe is compared with.
 *
 * @module
 */
import { z } from "zod";
import { keepAllAllocation } from "../allocation/keep_all.ts";
import { noDecodeEviction } from "../decode/keep_all.ts";
import { defineMethod } from "../method.ts";
import { noScores } from "../scorers/no_scores.ts";
import { keepAllSelection } from "../selection/keep_all.ts";

/** The full cache. */
export const full = defineMethod({
  name: "full",
  summary: "no compression: every layer keeps every entry",
  description: "Keeps the whole KV cache in every layer and asks the runtime for no " +
    "attention, so prefill and decoding run at full speed. It ignores the budget; every " +
    "other recipe at budget 100% keeps exactly the same entries. The reference for PPL and " +
    "for ROUGE-L fidelity.",
  reference: "full-cache baseline of every KV-retention paper",
  compresses: false,
  options: z.object({}),
  build: () => ({
    scorer: noScores(),
    allocation: keepAllAllocation(),
    selection: keepAllSelection(),
    decode: noDecodeEviction(),
  }),
});
