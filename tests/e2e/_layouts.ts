/**
 * Rewrites one tiny llava-hf checkpoint (old tensor names, as `writeTinyLlava` makes it) into the
 * other layouts the loader understands, with the very same weights: llava-hf with transformers
 * ≥ 4.52 names, the original LLaVA-1.5 repository layout (decoder + projector in the model
 * directory, the CLIP tower in a separate directory named by `mm_vision_tower`), and the text
 * part alone as a `LlamaForCausalLM`.
 *
 * @module
 */

import { join } from "node:path";
import { type TensorToWrite, writeSafetensors } from "../../lib/checkpoint/safetensors_write.ts";
import type { WrittenCheckpoint } from "../fixtures/tiny_checkpoint.ts";

const OLD_TEXT = "language_model.model.";
const OLD_HEAD = "language_model.lm_head.weight";
const OLD_TOWER = "vision_tower.vision_model.";
const OLD_PROJ = "multi_modal_projector.";

/** The checkpoint's tensors renamed by `rename` (dropped where it returns `null`), as F32. */
function renamed(src: WrittenCheckpoint, rename: (name: string) => string | null): TensorToWrite[] {
  const out: TensorToWrite[] = [];
  for (const name of src.store.names()) {
    const to = rename(name);
    if (to === null) continue;
    const shape = src.store.info(name)!.shape;
    out.push({ name: to, dtype: "F32", shape, data: src.store.getF32(name) });
  }
  return out;
}

function readJson(dir: string, name: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(join(dir, name)));
}

function writeJson(dir: string, name: string, value: unknown): void {
  Deno.writeTextFileSync(join(dir, name), JSON.stringify(value, null, 2) + "\n");
}

function copy(from: string, to: string, ...names: string[]): void {
  for (const n of names) Deno.copyFileSync(join(from, n), join(to, n));
}

/** Writes the transformers ≥ 4.52 naming of `src` (`model.language_model.…`, `lm_head.weight`). */
export async function writeNewHfNaming(src: WrittenCheckpoint, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const tensors = renamed(src, (n) => {
    if (n === OLD_HEAD) return "lm_head.weight";
    if (n.startsWith(OLD_TEXT)) return `model.language_model.${n.slice(OLD_TEXT.length)}`;
    if (n.startsWith(OLD_TOWER)) return `model.${n}`;
    if (n.startsWith(OLD_PROJ)) return `model.${n}`;
    throw new Error(`unexpected tensor ${n}`);
  });
  await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  copy(
    src.dir,
    dir,
    "config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
  );
}

/** The original layout's variants. */
export interface OriginalLayoutOptions {
  /** The CLIP directory's config: a `CLIPVisionConfig` (default) or a full `CLIPConfig`. */
  clipConfig?: "vision" | "clip";
  /** Top-level `model_type`: LLaVA's own `"llava_llama"` (default) or `"llava"`. */
  modelType?: "llava_llama" | "llava";
  /** `image_aspect_ratio` (default `"pad"`, as LLaVA-1.5 ships). */
  aspect?: "pad" | "square";
  /** Save the tower inside the model's weights as `model.vision_tower.vision_tower.…` too. */
  embedTower?: boolean;
  /** `mm_projector_type` (default `"mlp2x_gelu"`). */
  projectorType?: string;
}

/**
 * The tiny tokenizer with `<image>` removed from its vocabulary (id 3 renamed): the original
 * LLaVA's LLaMA tokenizer has no such token; the prompt is split at the text `<image>` instead.
 */
function tokenizerWithoutImageToken(srcDir: string): Record<string, unknown> {
  const tok = readJson(srcDir, "tokenizer.json");
  tok.added_tokens = (tok.added_tokens as { content: string }[]).filter((t) =>
    t.content !== "<image>"
  );
  const model = tok.model as { vocab: Record<string, number> };
  const id = model.vocab["<image>"];
  delete model.vocab["<image>"];
  model.vocab["<unused_image>"] = id;
  return tok;
}

/**
 * Writes `src` in the original LLaVA-1.5 layout: `dir/config.json` (LLaMA fields at the top,
 * `mm_*` fields), `dir/model.safetensors` (`model.layers.…`, `lm_head.weight`,
 * `model.mm_projector.{0,2}`), and the CLIP tower in `dir/clip` (`vision_model.…` tensors, its
 * own config.json and preprocessor_config.json), named by `mm_vision_tower: "clip"`. Returns
 * the CLIP directory.
 */
export async function writeOriginalLayout(
  src: WrittenCheckpoint,
  dir: string,
  opts: OriginalLayoutOptions = {},
): Promise<string> {
  const clipDir = join(dir, "clip");
  await Deno.mkdir(clipDir, { recursive: true });
  const hf = readJson(src.dir, "config.json");
  const text = hf.text_config as Record<string, unknown>;
  const vision = hf.vision_config as Record<string, unknown>;
  writeJson(dir, "config.json", {
    ...text,
    architectures: ["LlavaLlamaForCausalLM"],
    model_type: opts.modelType ?? "llava_llama",
    mm_vision_tower: "clip",
    mm_projector_type: opts.projectorType ?? "mlp2x_gelu",
    mm_hidden_size: vision.hidden_size,
    mm_vision_select_layer: hf.vision_feature_layer,
    mm_vision_select_feature: hf.vision_feature_select_strategy === "full" ? "cls_patch" : "patch",
    mm_use_im_start_end: false,
    mm_use_im_patch_token: false,
    mm_patch_merge_type: "flat",
    image_aspect_ratio: opts.aspect ?? "pad",
    tune_mm_mlp_adapter: false,
    use_cache: true,
  });
  const own = renamed(src, (n) => {
    if (n === OLD_HEAD) return "lm_head.weight";
    if (n.startsWith(OLD_TEXT)) return `model.${n.slice(OLD_TEXT.length)}`;
    if (n.startsWith(OLD_PROJ)) {
      const rest = n.slice(OLD_PROJ.length);
      return `model.mm_projector.${rest.replace(/^linear_1\./, "0.").replace(/^linear_2\./, "2.")}`;
    }
    if (n.startsWith(OLD_TOWER)) return opts.embedTower ? `model.vision_tower.${n}` : null;
    throw new Error(`unexpected tensor ${n}`);
  });
  await writeSafetensors(join(dir, "model.safetensors"), own, { format: "pt" });
  writeJson(dir, "tokenizer.json", tokenizerWithoutImageToken(src.dir));
  const tokCfg = readJson(src.dir, "tokenizer_config.json");
  delete tokCfg.chat_template; // the original repository's checkpoints carry none
  delete tokCfg.image_token;
  writeJson(dir, "tokenizer_config.json", tokCfg);

  const tower = renamed(src, (n) => n.startsWith("vision_tower.") ? n.slice(13) : null);
  const visionConfig = { ...vision, model_type: "clip_vision_model" };
  if (opts.clipConfig === "clip") {
    // A full CLIPModel directory (as openai/clip-vit-large-patch14-336): the text tower and
    // projections are there too, and must simply be ignored.
    writeJson(clipDir, "config.json", {
      architectures: ["CLIPModel"],
      model_type: "clip",
      projection_dim: 8,
      text_config: { model_type: "clip_text_model", hidden_size: 8, vocab_size: 10 },
      vision_config: visionConfig,
    });
    const V = vision.hidden_size as number;
    tower.push(
      {
        name: "text_model.embeddings.token_embedding.weight",
        dtype: "F32",
        shape: [10, 8],
        data: new Float32Array(80).fill(0.5),
      },
      {
        name: "visual_projection.weight",
        dtype: "F32",
        shape: [8, V],
        data: new Float32Array(8 * V).fill(-0.25),
      },
    );
  } else {
    writeJson(clipDir, "config.json", { architectures: ["CLIPVisionModel"], ...visionConfig });
  }
  await writeSafetensors(join(clipDir, "model.safetensors"), tower, { format: "pt" });
  copy(src.dir, clipDir, "preprocessor_config.json");
  return clipDir;
}

/** Writes the language model of `src` alone as a `LlamaForCausalLM` checkpoint. */
export async function writeLlamaText(src: WrittenCheckpoint, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const hf = readJson(src.dir, "config.json");
  writeJson(dir, "config.json", {
    ...(hf.text_config as Record<string, unknown>),
    architectures: ["LlamaForCausalLM"],
  });
  const tensors = renamed(src, (n) => {
    if (n === OLD_HEAD) return "lm_head.weight";
    if (n.startsWith(OLD_TEXT)) return `model.${n.slice(OLD_TEXT.length)}`;
    return null;
  });
  await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  copy(src.dir, dir, "tokenizer.json", "tokenizer_config.json");
}

/** Variants of {@link writeTransformers5Layout}. */
export interface Transformers5Options {
  /**
   * Prefix every part with `model.` (`model.language_model.…`, `model.vision_tower.…`,
   * `lm_head.weight`) as the in-memory module tree of transformers 5 names them; default false,
   * the names 5.18's `save_pretrained` writes (`language_model.model.…`, `vision_tower.…`).
   */
  modelPrefix?: boolean;
}

/** `src`'s RoPE as transformers 5 writes it: `rope_parameters` with snake_case keys. */
function ropeParameters(src: WrittenCheckpoint): Record<string, unknown> {
  const t = src.spec.text;
  const s = t.ropeScaling;
  if (s === null) return { rope_type: "default", rope_theta: t.ropeTheta };
  if (s.type === "linear") {
    return { rope_type: "linear", rope_theta: t.ropeTheta, factor: s.factor };
  }
  return {
    rope_type: "llama3",
    rope_theta: t.ropeTheta,
    factor: s.factor,
    low_freq_factor: s.lowFreqFactor,
    high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalMaxPositionEmbeddings,
  };
}

/**
 * Writes `src` as transformers 5.x saves a `LlavaForConditionalGeneration`: the vision tower's
 * tensors without `vision_model.` (`vision_tower.embeddings.…`, `vision_tower.encoder.…`),
 * `text_config.rope_parameters` in place of `rope_theta` / `rope_scaling`, and `dtype` in place
 * of `torch_dtype`.
 */
export async function writeTransformers5Layout(
  src: WrittenCheckpoint,
  dir: string,
  opts: Transformers5Options = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const m = opts.modelPrefix ? "model." : "";
  const tensors = renamed(src, (n) => {
    if (n === OLD_HEAD) return opts.modelPrefix ? "lm_head.weight" : n;
    if (n.startsWith(OLD_TEXT)) {
      return opts.modelPrefix ? `model.language_model.${n.slice(OLD_TEXT.length)}` : n;
    }
    if (n.startsWith(OLD_TOWER)) return `${m}vision_tower.${n.slice(OLD_TOWER.length)}`;
    if (n.startsWith(OLD_PROJ)) return `${m}${n}`;
    throw new Error(`unexpected tensor ${n}`);
  });
  await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  const hf = readJson(src.dir, "config.json");
  const { rope_theta: _t, rope_scaling: _s, torch_dtype, ...text } = hf.text_config as Record<
    string,
    unknown
  >;
  const { torch_dtype: topDtype, ...top } = hf;
  writeJson(dir, "config.json", {
    ...top,
    dtype: topDtype ?? torch_dtype,
    transformers_version: "5.18.0",
    text_config: { ...text, dtype: torch_dtype, rope_parameters: ropeParameters(src) },
  });
  copy(src.dir, dir, "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json");
}
