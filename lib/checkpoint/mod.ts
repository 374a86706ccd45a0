/**
 * Checkpoint loading: safetensors (read and write), config schemas for llava-hf, original
 * LLaVA-1.5 and LLaMA layouts, tokenizers, chat formats and CLIP image preprocessing.
 *
 * @module
 */
export * from "./spec.ts";
export * from "./tensor_store.ts";
export * from "./safetensors.ts";
export * from "./safetensors_write.ts";
export * from "./config.ts";
export * from "./expected_tensors.ts";
export * from "./checkpoint.ts";
export * from "./tokenizer.ts";
export * from "./chat.ts";
export * from "./image.ts";
export * from "./rope.ts";
export { WEIGHT_FORMATS, type WeightFormat } from "./quantize.ts";
export { MAX_IMAGE_PIXELS } from "./image_limits.ts";
