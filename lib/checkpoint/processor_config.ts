/**
 * `processor_config.json`, the file llava-hf checkpoints ship for `LlavaProcessor`: how many
 * `<image>` tokens the processor expands one image into (`(image_size / patch_size)² +
 * num_additional_image_tokens`, minus one for the `default` strategy) and which token that is.
 * The runtime computes the image's length from `config.json`; this file must agree with it, or
 * HF's processor and this runtime would build different prompts from the same text, so every
 * disagreement is an error naming the field.
 *
 * Also: which chat template a checkpoint directory holds, in the order transformers' processor
 * loading reads them (`chat_template.jinja`, `chat_template.json`, then `tokenizer_config.json`).
 *
 * @module
 */

import { join } from "node:path";
import { z } from "zod";
import { CheckpointError } from "../errors.ts";
import type { ModelSpec } from "./spec.ts";

const ProcessorConfigSchema = z.looseObject({
  processor_class: z.string().nullish(),
  patch_size: z.number().int().positive().nullish(),
  vision_feature_select_strategy: z.string().nullish(),
  num_additional_image_tokens: z.number().int().nonnegative().nullish(),
  image_token: z.string().nullish(),
  image_processor: z.looseObject({}).nullish(),
});

/** What {@link checkProcessorConfig} needs of the tokenizer. */
export interface TokenLookup {
  /** Id of `token`, or undefined when the vocabulary lacks it. */
  tokenId(token: string): number | undefined;
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Checks `dir/processor_config.json`, when present, against `spec` (a LLaVA) and the tokenizer.
 * Throws a {@link CheckpointError} naming the file, the field, both values and the fix.
 *
 * @example
 * ```ts ignore
 * import { checkProcessorConfig } from "./processor_config.ts";
 * checkProcessorConfig(checkpoint.dir, checkpoint.spec, checkpoint.tokenizer);
 * ```
 */
export function checkProcessorConfig(dir: string, spec: ModelSpec, tokens: TokenLookup): void {
  const file = join(dir, "processor_config.json");
  if (!spec.vision || !fileExists(file)) return;
  let json: unknown;
  try {
    json = JSON.parse(Deno.readTextFileSync(file));
  } catch (err) {
    throw new CheckpointError(`${file}: malformed JSON: ${(err as Error).message}`);
  }
  const r = ProcessorConfigSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new CheckpointError(`${file}: invalid processor config: ${issues.join("; ")}`);
  }
  const c = r.data;
  const v = spec.vision;
  const mismatch = (field: string, value: unknown, want: unknown, fix: string) =>
    new CheckpointError(
      `${file}: ${field} = ${JSON.stringify(value)} but config.json implies ` +
        `${
          JSON.stringify(want)
        }: HF's LlavaProcessor would expand <image> into another number of ` +
        `tokens than the model's ${spec.imageTokens}; ${fix}`,
    );
  if (c.processor_class != null && c.processor_class !== "LlavaProcessor") {
    throw new CheckpointError(
      `${file}: processor_class = ${JSON.stringify(c.processor_class)} is not supported ` +
        `(supported: "LlavaProcessor")`,
    );
  }
  if (c.patch_size != null && c.patch_size !== v.patchSize) {
    throw mismatch("patch_size", c.patch_size, v.patchSize, "set it to vision_config.patch_size");
  }
  if (
    c.vision_feature_select_strategy != null &&
    c.vision_feature_select_strategy !== v.selectStrategy
  ) {
    throw mismatch(
      "vision_feature_select_strategy",
      c.vision_feature_select_strategy,
      v.selectStrategy,
      "make it equal to config.json's vision_feature_select_strategy",
    );
  }
  if (c.num_additional_image_tokens != null && c.num_additional_image_tokens !== 1) {
    throw mismatch(
      "num_additional_image_tokens",
      c.num_additional_image_tokens,
      1,
      "a CLIP tower adds exactly one (the CLS position); set it to 1",
    );
  }
  if (c.image_token != null) {
    const id = tokens.tokenId(c.image_token);
    if (id !== spec.imageTokenId) {
      throw new CheckpointError(
        `${file}: image_token = ${JSON.stringify(c.image_token)} is token id ${id ?? "(absent)"}` +
          ` in tokenizer.json, but config.json's image_token_index is ${spec.imageTokenId}; ` +
          `make them name the same token`,
      );
    }
  }
}

/**
 * The chat template `dir` holds besides the tokenizer's, with the file it came from:
 * `chat_template.jinja` (transformers 5), else `chat_template.json` (`{"chat_template": …}`).
 */
export function processorChatTemplate(
  dir: string,
): { template: string; file: string } | undefined {
  const jinja = join(dir, "chat_template.jinja");
  if (fileExists(jinja)) return { template: Deno.readTextFileSync(jinja), file: jinja };
  const path = join(dir, "chat_template.json");
  if (!fileExists(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Deno.readTextFileSync(path));
  } catch (err) {
    throw new CheckpointError(`${path}: malformed JSON: ${(err as Error).message}`);
  }
  const t = (json as { chat_template?: unknown } | null)?.chat_template;
  if (typeof t !== "string") {
    throw new CheckpointError(
      `${path}: field chat_template must be a string (the Jinja template); found ` +
        `${JSON.stringify(t)?.slice(0, 40)}`,
    );
  }
  return { template: t, file: path };
}

/**
 * The `image_processor` dict that transformers 5 writes inside `processor_config.json` (in place
 * of a separate `preprocessor_config.json`), with the file it came from; undefined when absent.
 */
export function nestedImageProcessor(
  dir: string,
): { config: Record<string, unknown>; file: string } | undefined {
  const file = join(dir, "processor_config.json");
  if (!fileExists(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Deno.readTextFileSync(file));
  } catch (err) {
    throw new CheckpointError(`${file}: malformed JSON: ${(err as Error).message}`);
  }
  const nested = (json as { image_processor?: unknown } | null)?.image_processor;
  if (nested == null) return undefined;
  if (typeof nested !== "object" || Array.isArray(nested)) {
    throw new CheckpointError(
      `${file}: image_processor must be an object (the image processor's settings)`,
    );
  }
  return { config: nested as Record<string, unknown>, file };
}
