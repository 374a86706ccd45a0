/**
 * ONNX graphs built from checkpoints: a small builder over onnx-proto, the LLaMA decoder with
 * per-layer caches and attention outputs, the CLIP vision tower with the LLaVA projector, and
 * the on-disk graph cache.
 *
 * @module
 */
export * from "./onnx_builder.ts";
export * from "./llama_graph.ts";
export * from "./clip_graph.ts";
export * from "./graph_cache.ts";
