/**
 * PrefixKV's per-layer importance of a prompt on a real model: one prefill with the
 * `importance` attention output (head-averaged attention summed over all prompt queries; with
 * GQA averaged over query heads). Used by calibration and analysis. {@link measureAttention}
 * also returns every layer's attention matrix; both hand the data over as `ndarray` views.
 *
 * @module
 */
import {
  attentionViews,
  type Float32NdArray,
  headAttentionViews,
  stackImportance,
} from "./attention_views.ts";
import type { Model, Prompt } from "./model.ts";

/** Importance of one prompt. */
export interface MeasuredImportance {
  /** Per layer, N scores (the rows of {@link MeasuredImportance.stacked}: the same memory). */
  importance: Float32Array[];
  /** The importance as one `[layers, positions]` view, sliceable without copying. */
  stacked: Float32NdArray;
  /** N, the prompt length after image expansion. */
  promptLength: number;
  /** Image-feature positions, when the prompt has an image. */
  imageSpan?: { start: number; end: number };
  /** Prefill wall time, milliseconds. */
  prefillMs: number;
}

/**
 * Prefills `prompt` on `model` (a throwaway cache) and returns its per-layer importance.
 *
 * @example Each layer's importance of a scene question, and one position across layers
 * ```ts
 * import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR, chatPrompt } from "@prefixkv/prefixkv";
 * import { loadModel, measureImportance } from "@prefixkv/prefixkv";
 * const model = await loadModel(BUNDLED_MODEL_DIR);
 * const image = BUNDLED_EXAMPLE_IMAGE;
 * const prompt = await chatPrompt(model, { question: "Describe the image.", image });
 * const { importance, stacked } = await measureImportance(model, prompt);
 * console.log(importance.length, stacked.shape); // 8 [8, N]
 * console.log(stacked.pick(null, 0)); // the first position's importance in every layer
 * ```
 */
export async function measureImportance(model: Model, prompt: Prompt): Promise<MeasuredImportance> {
  await model.prepare("importance", "last");
  const t0 = performance.now();
  const out = await model.prefill(prompt.embeds, { attention: "importance", logits: "last" });
  const prefillMs = performance.now() - t0;
  if (!out.importance) throw new Error("prefill returned no importance");
  return measured(out.importance, prompt, prefillMs);
}

/** What {@link measureAttention} returns: the importance and every layer's attention matrix. */
export interface MeasuredAttention extends MeasuredImportance {
  /** Per layer, the head-averaged attention as a `[queries, keys]` view (no copy). */
  attention: Float32NdArray[];
  /**
   * Per layer, every query head's attention as a `[heads, queries, keys]` view (no copy); only
   * with `{ heads: true }`. Its mean over heads is `attention`.
   */
  heads?: Float32NdArray[];
}

/** Options of {@link measureAttention}. */
export interface MeasureAttentionOptions {
  /**
   * Also return every head's matrices (default false). They take 4·heads·N² bytes per layer
   * (LLaVA-1.5-7B, 32 heads, N = 640: 52 MB a layer), `heads` times the averaged ones.
   */
  heads?: boolean;
}

/**
 * Prefills `prompt` on `model` (a throwaway cache) with the full attention matrices: every
 * layer's head-averaged attention `[N, N]` and its importance (the column sums over all queries),
 * and with `{ heads: true }` every head's `[heads, N, N]`. The matrices take N² floats per layer
 * (heads · N² more with `heads`): use {@link measureImportance} when the importance is enough.
 *
 * @example The attention of layer 3's last query, and how much of it lands on the image
 * ```ts
 * import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR, chatPrompt } from "@prefixkv/prefixkv";
 * import { loadModel, measureAttention } from "@prefixkv/prefixkv";
 * const model = await loadModel(BUNDLED_MODEL_DIR);
 * const image = BUNDLED_EXAMPLE_IMAGE;
 * const prompt = await chatPrompt(model, { question: "Describe the image.", image });
 * const { attention, promptLength: n, imageSpan } = await measureAttention(model, prompt);
 * const lastQuery = attention[3].pick(n - 1, null); // [keys], a view
 * let onImage = 0;
 * for (let k = imageSpan!.start; k < imageSpan!.end; k++) onImage += lastQuery.get(k);
 * console.log(onImage);
 * ```
 *
 * @example Each head's share of the last query's attention on the image, in layer 3
 * ```ts
 * import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR, chatPrompt } from "@prefixkv/prefixkv";
 * import { loadModel, measureAttention } from "@prefixkv/prefixkv";
 * const model = await loadModel(BUNDLED_MODEL_DIR);
 * const image = BUNDLED_EXAMPLE_IMAGE;
 * const prompt = await chatPrompt(model, { question: "Describe the image.", image });
 * const { heads, promptLength: n, imageSpan } = await measureAttention(model, prompt, {
 *   heads: true,
 * });
 * const layer3 = heads![3]; // [heads, queries, keys]
 * for (let h = 0; h < layer3.shape[0]; h++) {
 *   const row = layer3.pick(h, n - 1, null);
 *   let onImage = 0;
 *   for (let k = imageSpan!.start; k < imageSpan!.end; k++) onImage += row.get(k);
 *   console.log(`head ${h}: ${onImage.toFixed(3)}`);
 * }
 * ```
 */
export async function measureAttention(
  model: Model,
  prompt: Prompt,
  options: MeasureAttentionOptions = {},
): Promise<MeasuredAttention> {
  const level = options.heads ? "headMatrices" : "matrices";
  await model.prepare(level, "last");
  const t0 = performance.now();
  const out = await model.prefill(prompt.embeds, { attention: level, logits: "last" });
  const prefillMs = performance.now() - t0;
  if (!out.importance || !out.attention) throw new Error("prefill returned no attention");
  if (options.heads && !out.headAttention) throw new Error("prefill returned no head attention");
  return {
    ...measured(out.importance, prompt, prefillMs),
    attention: attentionViews(out.attention, prompt.length),
    heads: out.headAttention && headAttentionViews(out.headAttention, prompt.length),
  };
}

function measured(
  importance: Float32Array[],
  prompt: Prompt,
  prefillMs: number,
): MeasuredImportance {
  const { stacked, layers } = stackImportance(importance);
  return {
    importance: layers,
    stacked,
    promptLength: prompt.length,
    imageSpan: prompt.imageSpan,
    prefillMs,
  };
}
