/**
 * Small files the checkpoint tests write for themselves: raw safetensors bytes built by hand,
 * tiny tokenizers, and whole tiny model directories.
 *
 * @module
 */

import { join } from "node:path";
import { encodeSafetensors, type TensorToWrite } from "../../lib/checkpoint/safetensors_write.ts";
import { expectedTensors } from "../../lib/checkpoint/expected_tensors.ts";
import type { ModelSpec } from "../../lib/checkpoint/spec.ts";

/** Builds safetensors bytes from an explicit header object and data section (no checks). */
export function rawSafetensors(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setFloat32(i * 4, x, true));
  return out;
}

/** Little-endian bytes of 16-bit words. */
export function u16Bytes(words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 2);
  const v = new DataView(out.buffer);
  words.forEach((x, i) => v.setUint16(i * 2, x, true));
  return out;
}

/** Writes `value` as JSON to `dir/name`. */
export function writeJson(dir: string, name: string, value: unknown): void {
  Deno.writeTextFileSync(join(dir, name), JSON.stringify(value, null, 1));
}

/** A WordLevel tokenizer.json over `words` (ids in order), `<image>` an added special token. */
export function wordLevelTokenizer(words: string[]): Record<string, unknown> {
  const vocab = Object.fromEntries(words.map((w, i) => [w, i]));
  const special = ["<unk>", "<s>", "</s>", "<image>"].filter((w) => w in vocab);
  return {
    version: "1.0",
    added_tokens: special.map((w) => ({
      id: vocab[w],
      content: w,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: "WhitespaceSplit" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<s>": { id: "<s>", ids: [vocab["<s>"]], tokens: ["<s>"] } },
    },
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  };
}

/** The vocabulary of the tiny test models. */
export const TINY_WORDS = [
  "<unk>",
  "<s>",
  "</s>",
  "<image>",
  "USER:",
  "ASSISTANT:",
  "a",
  "red",
  "square",
  "what",
  "is",
  "this?",
];

/** A deterministic float32 tensor of `shape` (values in [-0.5, 0.5)). */
export function patternTensor(shape: readonly number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((i * 7919 + seed * 104729) % 1000) / 1000) - 0.5;
  return out;
}

/** Writes every tensor `spec` needs (F16), optionally altered by `edit`, to `path`. */
export function writeWeightsFor(
  spec: ModelSpec,
  path: string,
  edit: (tensors: TensorToWrite[]) => TensorToWrite[] = (t) => t,
): void {
  const tensors: TensorToWrite[] = expectedTensors(spec).map(({ name, shape }, i) => ({
    name,
    dtype: "F16",
    shape,
    data: patternTensor(shape, i),
  }));
  Deno.writeFileSync(path, encodeSafetensors(edit(tensors)));
}

/** A tiny llava-hf `config.json` (2-layer decoder, 2-layer 8×8 tower, patch 4). */
export function tinyLlavaHfConfig(): Record<string, unknown> {
  return {
    architectures: ["LlavaForConditionalGeneration"],
    model_type: "llava",
    image_token_index: 3,
    projector_hidden_act: "gelu",
    vision_feature_layer: -2,
    vision_feature_select_strategy: "default",
    text_config: {
      model_type: "llama",
      vocab_size: TINY_WORDS.length,
      hidden_size: 8,
      intermediate_size: 12,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 64,
      rms_norm_eps: 1e-5,
      bos_token_id: 1,
      eos_token_id: 2,
    },
    vision_config: {
      model_type: "clip_vision_model",
      hidden_size: 4,
      intermediate_size: 6,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      image_size: 8,
      patch_size: 4,
    },
  };
}
