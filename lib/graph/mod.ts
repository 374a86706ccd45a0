/**
 * ONNX graphs built from checkpoints: a small builder over onnx-proto, the LLaMA decoder with
 * per-layer caches and attention outputs, the CLIP vision tower with the LLaVA projector, and
 * the on-disk graph cache.
 *
 * @module
 */
export {
  type AttrValue,
  type Dim,
  type DType,
  FileRegion,
  float,
  FloatAttr,
  floats,
  FloatsAttr,
  GraphBuilder,
  type GraphOptions,
  type OpOptions,
  type RegionPart,
  type SavedModel,
  type SaveOptions,
  type TensorData,
  type TensorParts,
  type TensorRegion,
} from "./onnx_builder.ts";
export { type AttentionOutputs, buildLlamaGraph, type LlamaGraphOptions } from "./llama_graph.ts";
export { buildClipGraph, type ClipGraphOptions } from "./clip_graph.ts";
export {
  type CachedGraph,
  checkpointFingerprint,
  defaultGraphCacheDir,
  type FingerprintSource,
  type GraphRequest,
  loadOrBuildGraph,
} from "./graph_cache.ts";
