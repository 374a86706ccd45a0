/**
 * prefixkv: a toolkit for studying KV-cache retention in vision-language models, centred on
 * PrefixKV (arXiv 2412.03409).
 *
 * The pipeline reads as the paper does: load a checkpoint ({@link loadModel}), prefill a prompt
 * with per-layer attention ({@link Model.prefill}), analyse each layer's importance
 * ({@link analyzeImportance}, {@link giniCoefficient}), find the per-layer budgets
 * ({@link prefixSearch}, {@link calibrate}) and generate under a retention recipe
 * ({@link createRecipe}, {@link generate}).
 *
 * Budgets mean the fraction of KV entries **kept** everywhere in this API; the reference code's
 * `ratio` (fraction evicted) appears only where its config files are read or written.
 *
 * @example Describe a scene under a 20 % PrefixKV budget
 * ```ts
 * import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR, chatPrompt, createRecipe, generate, loadModel } from "./mod.ts";
 * const model = await loadModel(BUNDLED_MODEL_DIR);
 * const prompt = await chatPrompt(model, {
 *   question: "Describe the image in detail.",
 *   image: BUNDLED_EXAMPLE_IMAGE,
 * });
 * const out = await generate(model, prompt, {
 *   maxNewTokens: 64,
 *   policy: createRecipe("prefixkv").policy({ fraction: 0.2 }),
 * });
 * console.log(out.text);
 * ```
 *
 * @module
 */
export { CheckpointError, InputError, NumericError } from "./lib/errors.ts";
export { type Provenance, provenance } from "./lib/provenance.ts";
export { Prng } from "./lib/random.ts";
export { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR } from "./lib/bundled.ts";
export * from "./lib/checkpoint/mod.ts";
export * from "./lib/graph/mod.ts";
export * from "./lib/runtime/mod.ts";
export * from "./lib/importance/mod.ts";
export * from "./lib/prefix/mod.ts";
export * from "./lib/recipes/mod.ts";
export * from "./lib/analysis/mod.ts";
export * from "./lib/calibration/mod.ts";
export * from "./lib/metrics/mod.ts";
export * from "./lib/plot/mod.ts";
export * from "./lib/data/scenes/mod.ts";
export * from "./lib/data/mod.ts";
