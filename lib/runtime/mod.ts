/**
 * The runtime: onnxruntime sessions, the model (prefill and decode steps with per-layer
 * attention), the per-layer KV cache, the cache-policy contract and greedy generation.
 *
 * @module
 */
export * from "./kv_cache.ts";
export * from "./cache_policy.ts";
export * from "./session.ts";
export * from "./model.ts";
export * from "./generate.ts";
export * from "./chat_prompt.ts";
export * from "./observed_policy.ts";
export * from "./measure_importance.ts";
