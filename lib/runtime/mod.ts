/**
 * The runtime: onnxruntime sessions (cpu, cuda, webgpu), the model (prefill and decode steps
 * with per-layer attention), the per-layer KV cache, the cache-policy contract and greedy generation.
 *
 * @module
 */
export {
  CpuRows,
  cpuStorage,
  KV_LOCATIONS,
  KvCache,
  type KvCacheShape,
  type KvLocation,
  type KvRowStorage,
  type KvStorage,
  type RowData,
  type RowMerge,
  type RowMove,
} from "./kv_cache.ts";
export { GpuKvContext, GpuRows } from "./gpu_kv_cache.ts";
export {
  type AttentionNeeds,
  type CachePolicy,
  keepAll,
  type PrefillInfo,
  type PrefillNeeds,
  type StepInfo,
} from "./cache_policy.ts";
export {
  type Device,
  DEVICES,
  type RuntimeTensor,
  Session,
  type SessionOptions,
} from "./session.ts";
export {
  adapterLabel,
  findWebGpuAdapter,
  type GpuEntryPoint,
  type Precision,
  PRECISIONS,
  requireWebGpuAdapter,
  WEBGPU_INSTALL_HINT,
  WEBGPU_LIMITS,
  type WebGpuAdapterInfo,
  type WebGpuTransfers,
  webGpuTransfers,
} from "./webgpu.ts";
export {
  type GraphLoad,
  loadModel,
  type LoadModelOptions,
  Model,
  type ModelSource,
  type PrefillOptions,
  type PrefillResult,
  type Prompt,
  type PromptInput,
  type StepOptions,
  type StepResult,
} from "./model.ts";
export {
  generate,
  generateBatch,
  type GenerateBatchOptions,
  type GenerateBatchResult,
  type GenerateOptions,
  type GenerateResult,
  type GenerateTimings,
  type PositionMode,
} from "./generate.ts";
export { chatPrompt, type ChatPromptInput } from "./chat_prompt.ts";
export { ObservedPolicy, type PrefillSnapshot } from "./observed_policy.ts";
export {
  measureAttention,
  type MeasureAttentionOptions,
  type MeasuredAttention,
  type MeasuredImportance,
  measureImportance,
} from "./measure_importance.ts";
export {
  attentionViews,
  type Float32NdArray,
  headAttentionViews,
  type StackedImportance,
  stackImportance,
} from "./attention_views.ts";
