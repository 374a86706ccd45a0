/**
 * KV importance: scores from prefill attention, priority sequences, prefix cumulative
 * priority curves, Lorenz curves, Gini coefficients and modality shares.
 *
 * @module
 */
export { type Span } from "./validate.ts";
export {
  averageHeads,
  causalCounts,
  columnSums,
  importanceFromAttention,
  importanceFromVectors,
  type ImportanceOptions,
  type LayerImportance,
  normalizeByCausalCount,
} from "./compute.ts";
export { cumulativePriority, prefixCurve, priorityOrder, prioritySequence } from "./priority.ts";
export {
  analyzeImportance,
  type AnalyzeOptions,
  giniCoefficient,
  type ImportanceAnalysis,
  type LayerAnalysis,
  lorenzCurve,
} from "./analysis.ts";
