/**
 * Evaluation metrics of the experiments: ROUGE-L as the reference computes it, perplexity under
 * a compressed cache with teacher forcing, object F1 of scene descriptions, and efficiency
 * (time, tokens per second, KV bytes per layer, peak RSS).
 *
 * @module
 */
export * from "./rouge.ts";
export * from "./perplexity.ts";
export * from "./description_score.ts";
export * from "./efficiency.ts";
