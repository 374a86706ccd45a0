/**
 * KV importance: scores from prefill attention, priority sequences, prefix cumulative
 * priority curves, Lorenz curves, Gini coefficients and modality shares.
 *
 * @module
 */
export * from "./validate.ts";
export * from "./compute.ts";
export * from "./priority.ts";
export * from "./analysis.ts";
