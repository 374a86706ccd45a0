import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { join } from "node:path";
import { CheckpointError } from "../../lib/errors.ts";
import {
  detectLayout,
  imageTokenCount,
  LLAVA_IMAGE_TOKEN_INDEX,
  parseModelConfig,
  visionLayersUsed,
} from "../../lib/checkpoint/config.ts";
import { tinyLlavaHfConfig, writeJson } from "./fixture_files.ts";

const OLD_HF = ["language_model.model.embed_tokens.weight"];
const NEW_HF = ["model.language_model.embed_tokens.weight"];

/** Asserts a CheckpointError whose message contains every part. */
function rejects(fn: () => unknown, ...parts: string[]) {
  const e = assertThrows(fn, CheckpointError);
  for (const p of parts) assertStringIncludes(e.message, p);
}

Deno.test("llava-hf 1.5 config: omitted text fields take LlamaConfig defaults", () => {
  // The shape of llava-hf/llava-1.5-7b-hf's config.json (text_config is sparse).
  const config = {
    architectures: ["LlavaForConditionalGeneration"],
    ignore_index: -100,
    image_token_index: 32000,
    model_type: "llava",
    pad_token_id: 32001,
    projector_hidden_act: "gelu",
    text_config: {
      architectures: ["LlamaForCausalLM"],
      max_position_embeddings: 4096,
      model_type: "llama",
      rms_norm_eps: 1e-5,
      torch_dtype: "float16",
      vocab_size: 32064,
    },
    tie_word_embeddings: false,
    vision_config: {
      hidden_size: 1024,
      image_size: 336,
      intermediate_size: 4096,
      model_type: "clip_vision_model",
      num_attention_heads: 16,
      num_hidden_layers: 24,
      patch_size: 14,
      projection_dim: 768,
      vocab_size: 32000,
    },
    vision_feature_layer: -2,
    vision_feature_select_strategy: "default",
    vocab_size: 32064,
  };
  const spec = parseModelConfig(config, "/m", OLD_HF);
  assertEquals(spec.text, {
    vocabSize: 32064,
    hiddenSize: 4096,
    intermediateSize: 11008,
    numLayers: 32,
    numHeads: 32,
    numKvHeads: 32,
    headDim: 128,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 4096,
    tieWordEmbeddings: false,
    prefix: "language_model.model.",
    lmHead: "language_model.lm_head.weight",
  });
  assertEquals(spec.vision, {
    hiddenSize: 1024,
    intermediateSize: 4096,
    numLayers: 24,
    numHeads: 16,
    imageSize: 336,
    patchSize: 14,
    numChannels: 3,
    layerNormEps: 1e-5,
    hiddenAct: "quick_gelu",
    featureLayer: -2,
    selectStrategy: "default",
    prefix: "vision_tower.vision_model.",
  });
  assertEquals(spec.projector, {
    type: "mlp2x_gelu",
    act: "gelu",
    inDim: 1024,
    outDim: 4096,
    linear1: "multi_modal_projector.linear_1",
    linear2: "multi_modal_projector.linear_2",
  });
  assertEquals([spec.family, spec.imageTokenId, spec.imageTokens], ["llava", 32000, 576]);
  assertEquals([spec.bosTokenId, spec.eosTokenIds], [1, [2]]);
  assertEquals(visionLayersUsed(spec.vision!), 23);
});

Deno.test("llava-hf: transformers ≥ 4.52 names, full strategy, defaults of an empty config", () => {
  const cfg = { ...tinyLlavaHfConfig(), vision_feature_select_strategy: "full" };
  const spec = parseModelConfig(cfg, "/m", NEW_HF);
  assertEquals(spec.text.prefix, "model.language_model.");
  assertEquals(spec.text.lmHead, "lm_head.weight");
  assertEquals(spec.vision?.prefix, "model.vision_tower.vision_model.");
  assertEquals(spec.projector?.linear1, "model.multi_modal_projector.linear_1");
  assertEquals(spec.text.numKvHeads, 1);
  assertEquals(spec.text.headDim, 4);
  assertEquals(spec.imageTokens, 5); // (8/4)² + CLS
  const bare = parseModelConfig({ model_type: "llava" }, "/m", OLD_HF);
  assertEquals(bare.text.vocabSize, 32000);
  assertEquals(bare.text.maxPositionEmbeddings, 2048);
  assertEquals(bare.text.rmsNormEps, 1e-6);
  assertEquals(bare.vision?.imageSize, 336); // LlavaConfig's default tower: ViT-L/14-336
  assertEquals(imageTokenCount(bare.vision!), 576);
  // A config with vision_config given takes CLIPVisionConfig defaults for what it omits.
  const clipDefaults = parseModelConfig({ model_type: "llava", vision_config: {} }, "/m", OLD_HF);
  assertEquals(
    [
      clipDefaults.vision?.hiddenSize,
      clipDefaults.vision?.patchSize,
      clipDefaults.vision?.numLayers,
    ],
    [768, 32, 12],
  );
  const tied = parseModelConfig(
    { ...tinyLlavaHfConfig(), tie_word_embeddings: true },
    "/m",
    OLD_HF,
  );
  assertEquals(tied.text.lmHead, "language_model.model.embed_tokens.weight");
});

Deno.test("llama text model, rope_scaling linear, GQA", () => {
  const spec = parseModelConfig(
    {
      model_type: "llama",
      hidden_size: 64,
      num_attention_heads: 8,
      num_key_value_heads: 2,
      num_hidden_layers: 3,
      rope_scaling: { rope_type: "linear", factor: 2 },
      tie_word_embeddings: true,
      eos_token_id: [2, 7],
    },
    "/m",
    [],
  );
  assertEquals(spec.family, "llama");
  assertEquals(spec.vision, undefined);
  assertEquals(spec.text.ropeScaling, { type: "linear", factor: 2 });
  assertEquals([spec.text.headDim, spec.text.numKvHeads], [8, 2]);
  assertEquals([spec.text.prefix, spec.text.lmHead], ["model.", "model.embed_tokens.weight"]);
  assertEquals(spec.eosTokenIds, [2, 7]);
  assertEquals(
    parseModelConfig({ model_type: "llama", rope_scaling: { type: "linear", factor: 4 } }, "/m", [])
      .text.ropeScaling,
    { type: "linear", factor: 4 },
  );
});

Deno.test("original LLaVA-1.5 layout: CLIP directory resolved, tower mounted or embedded", () => {
  const dir = Deno.makeTempDirSync();
  Deno.mkdirSync(join(dir, "clip"));
  writeJson(join(dir, "clip"), "config.json", {
    model_type: "clip",
    vision_config: {
      hidden_size: 1024,
      intermediate_size: 4096,
      num_hidden_layers: 24,
      num_attention_heads: 16,
      image_size: 336,
      patch_size: 14,
    },
  });
  const config = {
    model_type: "llava_llama",
    hidden_size: 4096,
    mm_vision_tower: "clip",
    mm_projector_type: "mlp2x_gelu",
    mm_vision_select_layer: -2,
    mm_vision_select_feature: "patch",
    mm_hidden_size: 1024,
    mm_use_im_start_end: false,
    image_aspect_ratio: "pad",
  };
  assertEquals(detectLayout(config), "llava-original");
  const spec = parseModelConfig(config, dir, ["model.embed_tokens.weight"]);
  assertEquals(spec.imageTokenId, LLAVA_IMAGE_TOKEN_INDEX);
  assertEquals(spec.imageTokens, 576);
  assertEquals(spec.vision?.prefix, "vision_tower.vision_model.");
  assertEquals(spec.vision?.featureLayer, -2);
  assertEquals(spec.projector?.linear1, "model.mm_projector.0");
  assertEquals(spec.projector?.linear2, "model.mm_projector.2");
  assertEquals([spec.text.prefix, spec.text.lmHead], ["model.", "lm_head.weight"]);
  const embedded = parseModelConfig(
    {
      ...config,
      model_type: "llava",
      mm_vision_tower: join(dir, "clip"),
      mm_vision_select_feature: "cls_patch",
    },
    "/elsewhere",
    ["model.vision_tower.vision_tower.vision_model.embeddings.class_embedding"],
  );
  assertEquals(embedded.vision?.prefix, "model.vision_tower.vision_tower.vision_model.");
  assertEquals(embedded.vision?.selectStrategy, "full");
  assertEquals(embedded.imageTokens, 577);

  rejects(
    () =>
      parseModelConfig(
        { ...config, mm_vision_tower: "openai/clip-vit-large-patch14-336" },
        dir,
        [],
      ),
    "mm_vision_tower",
    "openai/clip-vit-large-patch14-336",
    "local CLIP directory",
  );
  rejects(() => parseModelConfig({ ...config, mm_hidden_size: 768 }, dir, []), "mm_hidden_size");
  rejects(
    () => parseModelConfig({ ...config, mm_projector_type: "linear" }, dir, []),
    "mm_projector_type",
    '"linear"',
    '"mlp2x_gelu"',
  );
  rejects(
    () => parseModelConfig({ ...config, image_aspect_ratio: "anyres" }, dir, []),
    "image_aspect_ratio",
    "anyres",
  );
  rejects(
    () => parseModelConfig({ ...config, mm_vision_select_feature: "cls" }, dir, []),
    "mm_vision_select_feature",
  );
});

Deno.test("bad input: unsupported model_type names the field, value and supported values", () => {
  rejects(
    () => parseModelConfig({ model_type: "mistral" }, "/m", []),
    "/m/config.json",
    "model_type",
    '"mistral"',
    '"llava"',
    '"llama"',
  );
  rejects(() => parseModelConfig([], "/m", []), "/m/config.json");
  rejects(
    () =>
      parseModelConfig(
        { ...tinyLlavaHfConfig(), text_config: { model_type: "mistral" } },
        "/m",
        OLD_HF,
      ),
    "text_config.model_type",
  );
});

Deno.test("bad input: unsupported hidden_act / projector act / rope / strategy / layer", () => {
  rejects(
    () => parseModelConfig({ model_type: "llama", hidden_act: "gelu" }, "/m", []),
    "hidden_act",
    '"gelu"',
    '"silu"',
  );
  const hf = tinyLlavaHfConfig();
  rejects(
    () => parseModelConfig({ ...hf, text_config: { hidden_act: "relu" } }, "/m", OLD_HF),
    "text_config.hidden_act",
    '"relu"',
  );
  rejects(
    () => parseModelConfig({ ...hf, projector_hidden_act: "relu" }, "/m", OLD_HF),
    "projector_hidden_act",
    '"relu"',
    '"gelu"',
  );
  rejects(
    () => parseModelConfig({ ...hf, vision_config: { hidden_act: "relu" } }, "/m", OLD_HF),
    "vision_config.hidden_act",
    '"quick_gelu"',
  );
  rejects(
    () =>
      parseModelConfig(
        { model_type: "llama", rope_scaling: { rope_type: "yarn", factor: 2 } },
        "/m",
        [],
      ),
    "rope_scaling.rope_type",
    '"yarn"',
    '"linear"',
  );
  rejects(
    () => parseModelConfig({ ...hf, vision_feature_select_strategy: "cls" }, "/m", OLD_HF),
    "vision_feature_select_strategy",
  );
  rejects(
    () => parseModelConfig({ ...hf, vision_feature_layer: -4 }, "/m", OLD_HF),
    "vision_feature_layer",
    "-4",
  );
  rejects(
    () => parseModelConfig({ ...hf, vision_feature_layer: [-2, -5] }, "/m", OLD_HF),
    "vision_feature_layer",
  );
  rejects(
    () => parseModelConfig({ model_type: "llama", hidden_size: "big" }, "/m", []),
    "hidden_size",
  );
  rejects(
    () => parseModelConfig(hf, "/m", ["model.embed_tokens.weight"]),
    "language_model.model.embed_tokens.weight",
  );
});
