/**
 * `config.json` → {@link ModelSpec}. Three layouts are understood:
 *
 * - **llava-hf** (`model_type: "llava"` with `text_config`/`vision_config`): tensor names are
 *   either the old `language_model.model.…` / `vision_tower.vision_model.…` /
 *   `multi_modal_projector.…` or the transformers ≥ 4.52 `model.language_model.…` /
 *   `model.vision_tower.vision_model.…` / `model.multi_modal_projector.…`; which one is detected
 *   from the tensor names.
 * - **original LLaVA-1.5** (`model_type: "llava_llama"`, or `"llava"` with `mm_*` fields): LLaMA
 *   fields at the top level, `model.mm_projector.{0,2}`, and the CLIP tower in the directory
 *   named by `mm_vision_tower`. Its tensors are mounted under `vision_tower.` by the loader (so
 *   the tower prefix is `vision_tower.vision_model.`) unless the checkpoint embeds them as
 *   `model.vision_tower.vision_tower.vision_model.…`.
 * - **llama** (`LlamaForCausalLM`, text only).
 *
 * Missing fields take the defaults of transformers' `LlamaConfig` / `CLIPVisionConfig`, as
 * llava-hf configs rely on them. Anything the runtime cannot run is rejected with a
 * {@link CheckpointError} naming the field, its value and the supported values.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import { z } from "zod";
import { CheckpointError, fileIsPresent, fileProblem } from "../errors.ts";
import { parseRope } from "./rope.ts";
import type { ClipVisionSpec, LlamaSpec, ModelSpec, ProjectorSpec } from "./spec.ts";

/**
 * Token id that stands for `<image>` in the original LLaVA code (`IMAGE_TOKEN_INDEX`). Its
 * tokenizer has no such token: the prompt text is split at `"<image>"` and this id is inserted
 * between the pieces (see `TextTokenizer.encodePrompt`).
 */
export const LLAVA_IMAGE_TOKEN_INDEX: number = -200;

const posInt = z.number().int().positive();
const posNum = z.number().positive();

/** `LlamaConfig` fields we read; all optional (defaults applied in {@link llamaSpec}). */
const LlamaConfigSchema = z.looseObject({
  model_type: z.string().nullish(),
  vocab_size: posInt.nullish(),
  hidden_size: posInt.nullish(),
  intermediate_size: posInt.nullish(),
  num_hidden_layers: posInt.nullish(),
  num_attention_heads: posInt.nullish(),
  num_key_value_heads: posInt.nullish(),
  head_dim: posInt.nullish(),
  rms_norm_eps: posNum.nullish(),
  rope_theta: posNum.nullish(),
  rope_scaling: z.looseObject({}).nullish(),
  rope_parameters: z.looseObject({}).nullish(),
  partial_rotary_factor: z.number().nullish(),
  max_position_embeddings: posInt.nullish(),
  hidden_act: z.string().nullish(),
  tie_word_embeddings: z.boolean().nullish(),
  attention_bias: z.boolean().nullish(),
  mlp_bias: z.boolean().nullish(),
  bos_token_id: z.number().int().nullish(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullish(),
  pad_token_id: z.number().int().nullish(),
});
type LlamaConfig = z.infer<typeof LlamaConfigSchema>;

/** `CLIPVisionConfig` fields we read. */
const ClipVisionConfigSchema = z.looseObject({
  model_type: z.string().nullish(),
  hidden_size: posInt.nullish(),
  intermediate_size: posInt.nullish(),
  num_hidden_layers: posInt.nullish(),
  num_attention_heads: posInt.nullish(),
  image_size: posInt.nullish(),
  patch_size: posInt.nullish(),
  num_channels: posInt.nullish(),
  layer_norm_eps: posNum.nullish(),
  hidden_act: z.string().nullish(),
});
type ClipVisionConfig = z.infer<typeof ClipVisionConfigSchema>;

/** llava-hf `LlavaConfig`. */
const LlavaHfConfigSchema = z.looseObject({
  model_type: z.literal("llava"),
  text_config: LlamaConfigSchema.nullish(),
  vision_config: ClipVisionConfigSchema.nullish(),
  vision_feature_layer: z.union([z.number().int(), z.array(z.number().int())]).nullish(),
  vision_feature_select_strategy: z.string().nullish(),
  image_token_index: z.number().int().nullish(),
  image_token_id: z.number().int().nullish(),
  projector_hidden_act: z.string().nullish(),
  multimodal_projector_bias: z.boolean().nullish(),
  tie_word_embeddings: z.boolean().nullish(),
});

/** The original repository's `LlavaConfig(LlamaConfig)` with its `mm_*` fields. */
const LlavaOriginalConfigSchema = LlamaConfigSchema.extend({
  mm_vision_tower: z.string().nullish(),
  mm_projector_type: z.string().nullish(),
  mm_vision_select_layer: z.number().int().nullish(),
  mm_vision_select_feature: z.string().nullish(),
  mm_hidden_size: posInt.nullish(),
  mm_use_im_start_end: z.boolean().nullish(),
  mm_patch_merge_type: z.string().nullish(),
  image_aspect_ratio: z.string().nullish(),
});
type LlavaOriginalConfig = z.infer<typeof LlavaOriginalConfigSchema>;

/** The CLIP directory's `config.json`: a `CLIPVisionConfig` or a `CLIPConfig`. */
const ClipDirConfigSchema = z.looseObject({
  model_type: z.string().nullish(),
  vision_config: ClipVisionConfigSchema.nullish(),
});

/** The ViT-L/14-336 tower `LlavaConfig` builds when `vision_config` is absent. */
const LLAVA_DEFAULT_VISION: ClipVisionConfig = {
  model_type: "clip_vision_model",
  hidden_size: 1024,
  intermediate_size: 4096,
  num_hidden_layers: 24,
  num_attention_heads: 16,
  image_size: 336,
  patch_size: 14,
};

/** Which on-disk layout a config describes. */
export type CheckpointLayout = "llava-hf" | "llava-original" | "llama";

/** Throws a {@link CheckpointError} when `value` is not one of `allowed`. */
function requireOneOf<T>(file: string, field: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value)) {
    throw new CheckpointError(
      `${file}: ${field} = ${JSON.stringify(value)} is not supported ` +
        `(supported: ${allowed.map((a) => JSON.stringify(a)).join(", ")})`,
    );
  }
}

/** Validates `json` with `schema`, turning zod issues into one readable error. */
function parseWith<T extends z.ZodType>(
  file: string,
  schema: T,
  json: unknown,
  prefix = "",
): z.infer<T> {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${prefix}${i.path.join(".") || "(root)"}: ${i.message}`);
  throw new CheckpointError(`${file}: invalid config: ${lines.join("; ")}`);
}

/** Reads and parses a JSON file, with errors that name it. */
export function readJsonFile(path: string, what = "file"): unknown {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new CheckpointError(`${path}: ${what} not found`);
    }
    throw new CheckpointError(`${path}: cannot read ${what}: ${fileProblem(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${path}: malformed JSON in ${what}: ${(err as Error).message}`);
  }
}

/** Tells which layout `config` (a parsed `config.json`) uses; rejects unknown model types. */
export function detectLayout(config: unknown, file = "config.json"): CheckpointLayout {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new CheckpointError(`${file}: expected a JSON object`);
  }
  const c = config as Record<string, unknown>;
  const mt = c.model_type;
  if (mt === "llava_llama") return "llava-original";
  if (mt === "llava") {
    if (c.text_config == null && c.vision_config == null && c.mm_vision_tower != null) {
      return "llava-original";
    }
    return "llava-hf";
  }
  if (mt === "llama") return "llama";
  throw new CheckpointError(
    `${file}: model_type = ${JSON.stringify(mt)} is not supported ` +
      `(supported: "llava", "llava_llama", "llama")`,
  );
}

/**
 * Builds a {@link LlamaSpec} from LLaMA fields, with `LlamaConfig`'s defaults (vocab 32000,
 * hidden 4096, intermediate 11008, 32 layers, 32 heads, kv heads = heads, eps 1e-6, theta
 * 10000, 2048 positions, silu). `field` is the dotted path of `c` for messages.
 */
function llamaSpec(
  file: string,
  field: string,
  c: LlamaConfig,
  names: { prefix: string; lmHead: string },
  tieOverride?: boolean | null,
): LlamaSpec {
  const f = (k: string) => field ? `${field}.${k}` : k;
  requireOneOf(file, f("hidden_act"), c.hidden_act ?? "silu", ["silu"]);
  requireOneOf(file, f("attention_bias"), c.attention_bias ?? false, [false]);
  requireOneOf(file, f("mlp_bias"), c.mlp_bias ?? false, [false]);
  const hiddenSize = c.hidden_size ?? 4096;
  const numHeads = c.num_attention_heads ?? 32;
  const numKvHeads = c.num_key_value_heads ?? numHeads;
  if (numHeads % numKvHeads !== 0) {
    throw new CheckpointError(
      `${file}: ${f("num_attention_heads")} (${numHeads}) must be a multiple of ` +
        `${f("num_key_value_heads")} (${numKvHeads})`,
    );
  }
  if (c.head_dim == null && hiddenSize % numHeads !== 0) {
    throw new CheckpointError(
      `${file}: ${f("hidden_size")} (${hiddenSize}) is not divisible by ` +
        `${f("num_attention_heads")} (${numHeads}); set head_dim`,
    );
  }
  const tie = tieOverride ?? c.tie_word_embeddings ?? false;
  return {
    vocabSize: c.vocab_size ?? 32000,
    hiddenSize,
    intermediateSize: c.intermediate_size ?? 11008,
    numLayers: c.num_hidden_layers ?? 32,
    numHeads,
    numKvHeads,
    headDim: c.head_dim ?? hiddenSize / numHeads,
    rmsNormEps: c.rms_norm_eps ?? 1e-6,
    ...parseRope(file, field, c),
    maxPositionEmbeddings: c.max_position_embeddings ?? 2048,
    tieWordEmbeddings: tie,
    prefix: names.prefix,
    lmHead: tie ? `${names.prefix}embed_tokens.weight` : names.lmHead,
  };
}

/**
 * Builds a {@link ClipVisionSpec} with `CLIPVisionConfig`'s defaults (hidden 768, intermediate
 * 3072, 12 layers, 12 heads, image 224, patch 32, eps 1e-5, quick_gelu).
 */
function clipSpec(
  file: string,
  field: string,
  c: ClipVisionConfig,
  featureLayer: number,
  selectStrategy: "default" | "full",
  prefix: string,
  featureField: string,
): ClipVisionSpec {
  const f = (k: string) => field ? `${field}.${k}` : k;
  requireOneOf(file, f("model_type"), c.model_type ?? "clip_vision_model", ["clip_vision_model"]);
  const hiddenAct = c.hidden_act ?? "quick_gelu";
  requireOneOf(file, f("hidden_act"), hiddenAct, ["quick_gelu", "gelu"]);
  const spec: ClipVisionSpec = {
    hiddenSize: c.hidden_size ?? 768,
    intermediateSize: c.intermediate_size ?? 3072,
    numLayers: c.num_hidden_layers ?? 12,
    numHeads: c.num_attention_heads ?? 12,
    imageSize: c.image_size ?? 224,
    patchSize: c.patch_size ?? 32,
    numChannels: c.num_channels ?? 3,
    layerNormEps: c.layer_norm_eps ?? 1e-5,
    hiddenAct: hiddenAct as "quick_gelu" | "gelu",
    featureLayer,
    selectStrategy,
    prefix,
  };
  if (spec.imageSize % spec.patchSize !== 0) {
    throw new CheckpointError(
      `${file}: ${f("image_size")} (${spec.imageSize}) is not a multiple of ` +
        `${f("patch_size")} (${spec.patchSize})`,
    );
  }
  if (spec.hiddenSize % spec.numHeads !== 0) {
    throw new CheckpointError(
      `${file}: ${f("hidden_size")} (${spec.hiddenSize}) is not divisible by ` +
        `${f("num_attention_heads")} (${spec.numHeads})`,
    );
  }
  const L = spec.numLayers;
  if (featureLayer < -(L + 1) || featureLayer > L) {
    throw new CheckpointError(
      `${file}: ${featureField} = ${featureLayer} is out of range for a ${L}-layer vision ` +
        `tower (supported: ${-(L + 1)} … ${L})`,
    );
  }
  return spec;
}

/** Number of encoder layers of the tower that contribute to the selected feature layer. */
export function visionLayersUsed(vision: ClipVisionSpec): number {
  const f = vision.featureLayer;
  return f < 0 ? vision.numLayers + 1 + f : f;
}

/** Number of feature vectors (LLM positions) one image becomes. */
export function imageTokenCount(vision: ClipVisionSpec): number {
  const side = vision.imageSize / vision.patchSize;
  return side * side + (vision.selectStrategy === "full" ? 1 : 0);
}

function eosIds(c: LlamaConfig): number[] {
  const e = c.eos_token_id ?? 2;
  return Array.isArray(e) ? e : [e];
}

/** Tensor-name prefixes of a llava-hf checkpoint's parts. */
interface LlavaHfPrefixes {
  text: string;
  lmHead: string;
  vision: string;
  projector: string;
}

/**
 * Finds the llava-hf naming from the tensor names. The decoder is `language_model.model.…`
 * (saved by transformers < 4.52 and again by 5.x) or `model.language_model.…` (4.52 – 4.57);
 * the vision tower sits under `vision_tower.vision_model.…` (transformers 4) or `vision_tower.…`
 * (transformers 5), with or without the leading `model.`; so does the projector. Each part is
 * looked up on its own; a tower or projector found under none of its names keeps the name of the
 * decoder's generation, and the tensor check then reports it missing.
 */
function llavaHfPrefixes(file: string, names: ReadonlySet<string>): LlavaHfPrefixes {
  let root: string;
  let text: string;
  if (names.has("model.language_model.embed_tokens.weight")) {
    [root, text] = ["model.", "model.language_model."];
  } else if (names.has("language_model.model.embed_tokens.weight")) {
    [root, text] = ["", "language_model.model."];
  } else {
    throw new CheckpointError(
      `${file}: the weights contain neither language_model.model.embed_tokens.weight ` +
        `(llava-hf, transformers 4 and 5) nor model.language_model.embed_tokens.weight ` +
        `(transformers 4.52 – 4.57); they do not belong to this llava config`,
    );
  }
  const other = root === "" ? "model." : "";
  const find = (candidates: string[], probe: string) =>
    candidates.find((c) => names.has(c + probe)) ?? candidates[0];
  return {
    text,
    lmHead: root === "" ? "language_model.lm_head.weight" : "lm_head.weight",
    vision: find(
      [root, other].flatMap((r) => [`${r}vision_tower.vision_model.`, `${r}vision_tower.`]),
      "embeddings.patch_embedding.weight",
    ),
    projector: find(
      [`${root}multi_modal_projector.`, `${other}multi_modal_projector.`],
      "linear_1.weight",
    ),
  };
}

/** Parses the llava-hf layout. */
function parseLlavaHf(file: string, json: unknown, names: ReadonlySet<string>): ModelSpec {
  const c = parseWith(file, LlavaHfConfigSchema, json);
  const p = llavaHfPrefixes(file, names);
  const textCfg = c.text_config ?? {};
  requireOneOf(file, "text_config.model_type", textCfg.model_type ?? "llama", ["llama"]);
  const text = llamaSpec(
    file,
    "text_config",
    textCfg,
    { prefix: p.text, lmHead: p.lmHead },
    c.tie_word_embeddings ?? textCfg.tie_word_embeddings,
  );
  const layer = c.vision_feature_layer ?? -2;
  if (Array.isArray(layer)) {
    throw new CheckpointError(
      `${file}: vision_feature_layer = ${JSON.stringify(layer)} is not supported ` +
        `(supported: a single integer)`,
    );
  }
  const strategy = c.vision_feature_select_strategy ?? "default";
  requireOneOf(file, "vision_feature_select_strategy", strategy, ["default", "full"]);
  const vision = clipSpec(
    file,
    "vision_config",
    c.vision_config ?? LLAVA_DEFAULT_VISION,
    layer,
    strategy as "default" | "full",
    p.vision,
    "vision_feature_layer",
  );
  requireOneOf(file, "projector_hidden_act", c.projector_hidden_act ?? "gelu", ["gelu"]);
  requireOneOf(file, "multimodal_projector_bias", c.multimodal_projector_bias ?? true, [true]);
  const projector: ProjectorSpec = {
    type: "mlp2x_gelu",
    act: "gelu",
    inDim: vision.hiddenSize,
    outDim: text.hiddenSize,
    linear1: `${p.projector}linear_1`,
    linear2: `${p.projector}linear_2`,
  };
  const t = textCfg;
  return {
    family: "llava",
    modelType: "llava",
    text,
    vision,
    projector,
    imageTokenId: c.image_token_id ?? c.image_token_index ?? 32000,
    imageTokens: imageTokenCount(vision),
    bosTokenId: t.bos_token_id ?? 1,
    eosTokenIds: eosIds(t),
    padTokenId: t.pad_token_id ?? undefined,
  };
}

/**
 * Resolves the original layout's `mm_vision_tower` to a local CLIP directory: absolute, or
 * relative to the model directory. The directory must hold `config.json`.
 */
export function resolveVisionTowerDir(config: unknown, dir: string, file = "config.json"): string {
  const tower = (config as { mm_vision_tower?: unknown })?.mm_vision_tower;
  const fix = "point it at a local CLIP directory holding config.json and model.safetensors " +
    "(absolute, or relative to the model directory)";
  if (typeof tower !== "string" || tower === "") {
    throw new CheckpointError(`${file}: mm_vision_tower is missing; ${fix}`);
  }
  const path = isAbsolute(tower) ? tower : join(dir, tower);
  if (!fileIsPresent(join(path, "config.json"), "CLIP config")) {
    throw new CheckpointError(
      `${file}: mm_vision_tower = ${JSON.stringify(tower)} is not a local CLIP directory ` +
        `(${join(path, "config.json")} not found); ${fix}`,
    );
  }
  return path;
}

/** Prefix of embedded tower tensors in original-layout checkpoints that were saved with them. */
const EMBEDDED_TOWER_PREFIX = "model.vision_tower.vision_tower.vision_model.";
/** Prefix under which the loader mounts the CLIP directory's `vision_model.…` tensors. */
export const MOUNTED_TOWER_PREFIX = "vision_tower.";

/** True when an original-layout checkpoint carries its own copy of the vision tower. */
export function embedsVisionTower(tensorNames: Iterable<string>): boolean {
  for (const n of tensorNames) if (n.startsWith(EMBEDDED_TOWER_PREFIX)) return true;
  return false;
}

/** Parses the original LLaVA-1.5 repository layout (reads the CLIP directory's config.json). */
function parseLlavaOriginal(
  file: string,
  json: unknown,
  dir: string,
  names: ReadonlySet<string>,
): ModelSpec {
  const c: LlavaOriginalConfig = parseWith(file, LlavaOriginalConfigSchema, json);
  const text = llamaSpec(file, "", c, { prefix: "model.", lmHead: "lm_head.weight" });
  requireOneOf(file, "mm_projector_type", c.mm_projector_type ?? "linear", ["mlp2x_gelu"]);
  requireOneOf(file, "mm_use_im_start_end", c.mm_use_im_start_end ?? false, [false]);
  requireOneOf(file, "mm_patch_merge_type", c.mm_patch_merge_type ?? "flat", ["flat"]);
  requireOneOf(file, "image_aspect_ratio", c.image_aspect_ratio ?? "square", ["pad", "square"]);
  const feature = c.mm_vision_select_feature ?? "patch";
  requireOneOf(file, "mm_vision_select_feature", feature, ["patch", "cls_patch"]);
  const towerDir = resolveVisionTowerDir(json, dir, file);
  const clipFile = join(towerDir, "config.json");
  const clipJson = parseWith(clipFile, ClipDirConfigSchema, readJsonFile(clipFile, "CLIP config"));
  let visionCfg: ClipVisionConfig;
  let visionField: string;
  if (clipJson.model_type === "clip") {
    visionCfg = clipJson.vision_config ?? {};
    visionField = "vision_config";
  } else {
    visionCfg = parseWith(clipFile, ClipVisionConfigSchema, clipJson);
    visionField = "";
  }
  const prefix = embedsVisionTower(names)
    ? EMBEDDED_TOWER_PREFIX
    : `${MOUNTED_TOWER_PREFIX}vision_model.`;
  const vision = clipSpec(
    clipFile,
    visionField,
    visionCfg,
    c.mm_vision_select_layer ?? -2,
    feature === "cls_patch" ? "full" : "default",
    prefix,
    `mm_vision_select_layer (in ${file})`,
  );
  const mmHidden = c.mm_hidden_size ?? vision.hiddenSize;
  if (mmHidden !== vision.hiddenSize) {
    throw new CheckpointError(
      `${file}: mm_hidden_size = ${mmHidden} differs from the CLIP tower's hidden_size ` +
        `${vision.hiddenSize} (${clipFile}); mm_vision_tower names the wrong CLIP model`,
    );
  }
  return {
    family: "llava",
    modelType: c.model_type ?? "llava_llama",
    text,
    vision,
    projector: {
      type: "mlp2x_gelu",
      act: "gelu",
      inDim: vision.hiddenSize,
      outDim: text.hiddenSize,
      linear1: "model.mm_projector.0",
      linear2: "model.mm_projector.2",
    },
    imageTokenId: LLAVA_IMAGE_TOKEN_INDEX,
    imageTokens: imageTokenCount(vision),
    bosTokenId: c.bos_token_id ?? 1,
    eosTokenIds: eosIds(c),
    padTokenId: c.pad_token_id ?? undefined,
  };
}

/**
 * Parses a checkpoint's `config.json` (already JSON-parsed) into a {@link ModelSpec}.
 *
 * @param configJson the parsed `config.json`
 * @param dir the model directory (the original layout resolves `mm_vision_tower` against it)
 * @param tensorNames names of the tensors in the model directory's weights (picks the prefixes)
 * @param file how to name `config.json` in messages (defaults to `dir/config.json`)
 */
export function parseModelConfig(
  configJson: unknown,
  dir: string,
  tensorNames: Iterable<string>,
  file: string = join(dir, "config.json"),
): ModelSpec {
  const names = new Set(tensorNames);
  const layout = detectLayout(configJson, file);
  if (layout === "llava-hf") return parseLlavaHf(file, configJson, names);
  if (layout === "llava-original") return parseLlavaOriginal(file, configJson, dir, names);
  const c = parseWith(file, LlamaConfigSchema, configJson);
  const text = llamaSpec(file, "", c, { prefix: "model.", lmHead: "lm_head.weight" });
  return {
    family: "llama",
    modelType: "llama",
    text,
    bosTokenId: c.bos_token_id ?? 1,
    eosTokenIds: eosIds(c),
    padTokenId: c.pad_token_id ?? undefined,
  };
}

/** LLaVA's `image_aspect_ratio` (original layout only): `"pad"` → pad to square first. */
export function aspectModeOf(configJson: unknown): "pad" | "none" {
  const a = (configJson as { image_aspect_ratio?: unknown })?.image_aspect_ratio;
  return a === "pad" ? "pad" : "none";
}
