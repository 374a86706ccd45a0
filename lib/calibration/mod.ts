/**
 * Offline calibration on a model: prefill each calibration prompt with attention importance,
 * run PrefixKV's search, and average the per-layer ratios into a reference-format config
 * (resumable, with progress and provenance).
 *
 * @module
 */
export * from "./calibrate_model.ts";
