/**
 * Studies of a prompt's importance on a model: the per-layer statistics and what PrefixKV keeps
 * of each layer at a budget, written as JSON with provenance.
 *
 * @module
 */
export {
  type KeptAnalysis,
  keptByPrefixKV,
  type KeptOptions,
  type KeptSearch,
  type ModalityKept,
  type PrefixKVKept,
} from "./kept.ts";
export {
  analyzePrompt,
  type PromptAnalysis,
  type PromptAnalysisFiles,
  type PromptAnalysisOptions,
  type PromptImportanceAnalysis,
  type PromptLayerAnalysis,
  writePromptAnalysis,
} from "./prompt_analysis.ts";
export { keptMask, KeptRecorder } from "./kept_positions.ts";
export {
  type BandwidthOptions,
  type DecoderSizes,
  decodeStepBytes,
  measureCopyBandwidth,
  rooflineMs,
  type StepBytes,
} from "./roofline.ts";
export { type ScenePrompt, scenePrompt, type ScenePromptOptions } from "./scene_prompts.ts";
export { type CurveSpread, curveSpread } from "./curve_spread.ts";
