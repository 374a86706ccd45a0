/**
 * Checkpoint loading: safetensors (read and write), config schemas for llava-hf, original
 * LLaVA-1.5 and LLaMA layouts, tokenizers, chat formats and CLIP image preprocessing.
 *
 * @module
 */
export {
  type ClipVisionSpec,
  type ImageProcessorSpec,
  type LlamaSpec,
  type ModelSpec,
  type ProjectorSpec,
  type RopeScaling,
} from "./spec.ts";
export {
  MemoryTensorStore,
  type StoredRegion,
  type TensorDtype,
  type TensorInfo,
  type TensorStore,
} from "./tensor_store.ts";
export { openCheckpointTensors, openSafetensors, SafetensorsFile } from "./safetensors.ts";
export {
  encodeSafetensors,
  type TensorToWrite,
  type WritableDtype,
  writeSafetensors,
} from "./safetensors_write.ts";
export {
  type CheckpointLayout,
  detectLayout,
  imageTokenCount,
  LLAVA_IMAGE_TOKEN_INDEX,
  parseModelConfig,
} from "./config.ts";
export {
  type ExpectedTensor,
  expectedTensors,
  findTensorProblems,
  validateTensors,
} from "./expected_tensors.ts";
export {
  loadCheckpoint,
  loadCheckpointSync,
  type LoadedCheckpoint,
  type LoadOptions,
} from "./checkpoint.ts";
export {
  type DecodeOptions,
  type EncodeOptions,
  IMAGE_PLACEHOLDER,
  TextTokenizer,
} from "./tokenizer.ts";
export { type ChatFormat, type ChatMessage, defaultChatFormat, formatPrompt } from "./chat.ts";
export {
  decodeImage,
  loadImage,
  parseImageProcessorConfig,
  preprocessImage,
  type RgbImage,
} from "./image.ts";
export { type ParsedRope } from "./rope.ts";
export { WEIGHT_FORMATS, type WeightFormat } from "./quantize.ts";
export { MAX_IMAGE_PIXELS } from "./image_limits.ts";
