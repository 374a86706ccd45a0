/**
 * Evaluation metrics of the experiments: ROUGE-L as the reference computes it, perplexity under
 * a compressed cache with teacher forcing, object F1 of scene descriptions, and efficiency
 * (time, tokens per second, KV bytes per layer, peak RSS).
 *
 * @module
 */
export { meanRougeL, rougeL, type RougeScore } from "./rouge.ts";
export {
  answerTokenIds,
  perplexity,
  teacherForcedNll,
  type TeacherForcedResult,
  type TeacherForcingModel,
  type TeacherForcingOptions,
} from "./perplexity.ts";
export { meanObjectF1, type ObjectF1, objectF1 } from "./description_score.ts";
export {
  type Efficiency,
  efficiencyOf,
  kvBytesPerLayer,
  meanEfficiency,
  peakRssBytes,
  type RunMeasurements,
} from "./efficiency.ts";
