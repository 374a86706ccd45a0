/**
 * Loads a checkpoint directory: config → {@link ModelSpec}, weights as one lazy
 * {@link TensorStore} (the original LLaVA's separate CLIP tower mounted under `vision_tower.`),
 * tokenizer, prompt format and image preprocessing, with every required tensor checked.
 *
 * @module
 */

import { basename, join } from "node:path";
import { CheckpointError, fileIsPresent } from "../errors.ts";
import { type ChatFormat, defaultChatFormat } from "./chat.ts";
import {
  aspectModeOf,
  detectLayout,
  embedsVisionTower,
  MOUNTED_TOWER_PREFIX,
  parseModelConfig,
  readJsonFile,
  resolveVisionTowerDir,
} from "./config.ts";
import { validateTensors } from "./expected_tensors.ts";
import {
  checkProcessorConfig,
  nestedImageProcessor,
  processorChatTemplate,
} from "./processor_config.ts";
import { defaultImageProcessor, parseImageProcessorConfig } from "./image.ts";
import { CompositeTensorStore, openCheckpointTensors } from "./safetensors.ts";
import type { ImageProcessorSpec, ModelSpec } from "./spec.ts";
import type { TensorStore } from "./tensor_store.ts";
import { TextTokenizer } from "./tokenizer.ts";

/** Everything read from a checkpoint directory. Call `tensors.close()` when done. */
export interface LoadedCheckpoint {
  /** The checkpoint directory as given. */
  dir: string;
  /** The normalised model description. */
  spec: ModelSpec;
  /** All weights, tower included; names as in `spec` (prefixes, projector, LM head). */
  tensors: TensorStore;
  /** The checkpoint's tokenizer. */
  tokenizer: TextTokenizer;
  /** How questions become prompt text for this checkpoint. */
  chatFormat: ChatFormat;
  /** Image preprocessing (LLaVA only). */
  imageProcessor?: ImageProcessorSpec;
}

/** Options of {@link loadCheckpoint}. */
export interface LoadOptions {
  /** Check every required tensor's presence and shape up front (default true). */
  validate?: boolean;
}

function fileExists(path: string): boolean {
  // Absent is false; a file that is there but unreadable is an error saying why.
  return fileIsPresent(path, basename(path));
}

/**
 * Loads `dir` (llava-hf, original LLaVA-1.5 or LLaMA layout). Throws {@link CheckpointError}s
 * that name the file or field at fault.
 */
export function loadCheckpoint(dir: string, opts: LoadOptions = {}): Promise<LoadedCheckpoint> {
  // Synchronous inside (lazy file reads); async in signature so callers need not change if
  // loading ever streams.
  return Promise.resolve().then(() => loadCheckpointSync(dir, opts));
}

/** Synchronous {@link loadCheckpoint}. */
export function loadCheckpointSync(dir: string, opts: LoadOptions = {}): LoadedCheckpoint {
  const configPath = join(dir, "config.json");
  if (!fileExists(configPath)) {
    throw new CheckpointError(
      `${configPath}: config.json not found; ${dir} is not a Hugging Face model directory`,
    );
  }
  const config = readJsonFile(configPath, "model config");
  const layout = detectLayout(config, configPath);
  const own = openCheckpointTensors(dir);
  let tensors: TensorStore = own;
  try {
    let towerDir: string | undefined;
    if (layout === "llava-original") {
      towerDir = resolveVisionTowerDir(config, dir, configPath);
      if (!embedsVisionTower(own.names())) {
        tensors = new CompositeTensorStore().add(own).add(
          openCheckpointTensors(towerDir),
          MOUNTED_TOWER_PREFIX,
        );
      }
    }
    const spec = parseModelConfig(config, dir, own.names(), configPath);
    if (opts.validate ?? true) validateTensors(spec, tensors, dir);
    const tokenizer = TextTokenizer.load(dir);
    checkProcessorConfig(dir, spec, tokenizer);
    const tokens = { bosToken: tokenizer.bosToken, eosToken: tokenizer.eosToken };
    // As transformers' processors: chat_template.jinja / .json before tokenizer_config.json's.
    const template = processorChatTemplate(dir)?.template ?? tokenizer.chatTemplate;
    const chatFormat: ChatFormat = layout === "llava-original"
      ? { kind: "llava_v1" }
      : defaultChatFormat(spec, template, tokens);
    let imageProcessor: ImageProcessorSpec | undefined;
    if (spec.vision) {
      const aspect = aspectModeOf(config);
      const pre = join(towerDir ?? dir, "preprocessor_config.json");
      const fromPre = fileExists(pre)
        ? parseImageProcessorConfig(readJsonFile(pre, "image processor config"), aspect, pre)
        : undefined;
      // transformers 5 saves the image processor inside processor_config.json instead.
      const nested = nestedImageProcessor(dir);
      const fromNested = nested &&
        parseImageProcessorConfig(nested.config, aspect, `${nested.file} (image_processor)`);
      if (fromPre && fromNested && JSON.stringify(fromPre) !== JSON.stringify(fromNested)) {
        throw new CheckpointError(
          `${pre} and ${nested!.file}'s image_processor describe different preprocessing; ` +
            `keep one of them`,
        );
      }
      imageProcessor = fromPre ?? fromNested ??
        defaultImageProcessor(spec.vision.imageSize, aspect);
    }
    return { dir, spec, tensors, tokenizer, chatFormat, imageProcessor };
  } catch (err) {
    tensors.close();
    throw err;
  }
}
