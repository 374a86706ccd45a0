/**
 * `local`: the paper's StreamingLLM-style baseline.
 *
 * @module
 */
import { z } from "zod";
import { uniformAllocation } from "../allocation/uniform.ts";
import { evictOldest } from "../decode/evict_oldest.ts";
import { defineMethod } from "../method.ts";
import { startSizeOption } from "../options.ts";
import { noScores } from "../scorers/no_scores.ts";
import { sinkAndRecent } from "../selection/sink_recent.ts";

/** Sink tokens plus the most recent entries. */
export const local = defineMethod({
  name: "local",
  summary: "StreamingLLM-style: sink tokens + most recent entries, same in every layer",
  description: "The paper's 'Local' baseline. After prefill every layer keeps the first " +
    "startSize sink tokens and the most recent r·N − startSize prompt entries (so an image " +
    "that precedes the question is mostly lost); the positions are the same in every layer " +
    "and no attention is needed. While decoding, a layer over its share r of the tokens seen " +
    "drops its oldest non-sink entries. Keys keep their original RoPE positions (no " +
    "StreamingLLM position shift).",
  reference: "Xiao et al., StreamingLLM, arXiv 2309.17453 (ICLR 2024); as ElasticCache's " +
    "LocalCache",
  compresses: true,
  options: z.object({ startSize: startSizeOption }),
  build: (o) => ({
    scorer: noScores(),
    allocation: uniformAllocation(),
    selection: sinkAndRecent(o.startSize),
    decode: evictOldest(o.startSize),
  }),
});
