/**
 * PrefixKV's per-layer importance of a prompt on a real model: one prefill with the
 * `importance` attention output (head-averaged attention summed over all prompt queries; with
 * GQA averaged over query heads). Used by calibration and analysis.
 *
 * @module
 */
import type { Model, Prompt } from "./model.ts";

/** Importance of one prompt. */
export interface MeasuredImportance {
  /** Per layer, N scores. */
  importance: Float32Array[];
  /** N, the prompt length after image expansion. */
  promptLength: number;
  /** Image-feature positions, when the prompt has an image. */
  imageSpan?: { start: number; end: number };
  /** Prefill wall time, milliseconds. */
  prefillMs: number;
}

/** Prefills `prompt` on `model` (a throwaway cache) and returns its per-layer importance. */
export async function measureImportance(model: Model, prompt: Prompt): Promise<MeasuredImportance> {
  await model.prepare("importance", "last");
  const t0 = performance.now();
  const out = await model.prefill(prompt.embeds, { attention: "importance", logits: "last" });
  const prefillMs = performance.now() - t0;
  if (!out.importance) throw new Error("prefill returned no importance");
  return {
    importance: out.importance,
    promptLength: prompt.length,
    imageSpan: prompt.imageSpan,
    prefillMs,
  };
}
