/**
 * The scorer for recipes that rank nothing (full cache, StreamingLLM-style local window): it
 * asks the runtime for no attention, so prefill and decoding run at full speed.
 *
 * @module
 */
import type { Scorer } from "../recipe.ts";

/** A scorer that gives no scores and needs no attention. */
export function noScores(): Scorer {
  return { name: "none", needs: "none", layerShared: true, score: () => undefined };
}
