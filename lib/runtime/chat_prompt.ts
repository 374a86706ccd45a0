/**
 * A question (and optionally an image file) turned into a model-ready {@link Prompt}: the
 * checkpoint's chat format, the image placeholder, tokenization with BOS. Shared by `generate`,
 * `calibrate` and `analyze` so every command builds prompts the same way.
 *
 * @module
 */
import { formatPrompt } from "../checkpoint/chat.ts";
import { loadImage, preprocessImage } from "../checkpoint/image.ts";
import { InputError } from "../errors.ts";
import type { Model, Prompt } from "./model.ts";

/** What {@link chatPrompt} assembles. */
export interface ChatPromptInput {
  /** The user's question (without the `<image>` placeholder unless `raw`). */
  question: string;
  /** PNG or JPEG file, or already preprocessed pixels `[channels, size, size]`. */
  image?: string | Float32Array;
  /** Tokenize `question` as is: no chat format (write `<image>` where the image goes). */
  raw?: boolean;
}

/**
 * Builds the prompt for `input` on `model`.
 *
 * @example An image question in the checkpoint's chat format
 * ```ts
 * import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR, chatPrompt } from "@prefixkv/prefixkv";
 * import { loadModel } from "@prefixkv/prefixkv";
 * const model = await loadModel(BUNDLED_MODEL_DIR);
 * const prompt = await chatPrompt(model, {
 *   question: "What is in the image?",
 *   image: BUNDLED_EXAMPLE_IMAGE,
 * });
 * console.log(prompt.length, prompt.imageSpan); // N entries; the image's rows [start, end)
 * ```
 *
 * @throws InputError for an empty question, an image given to a text-only model, or an image
 *   file that cannot be read
 */
export async function chatPrompt(model: Model, input: ChatPromptInput): Promise<Prompt> {
  if (input.question.trim() === "") {
    throw new InputError("the prompt is empty; give the question text");
  }
  const source = model.source;
  const pixels = input.image === undefined ? undefined : await imagePixels(model, input.image);
  const text = input.raw || !source.chatFormat
    ? input.question
    : formatPrompt(source.chatFormat, input.question, { image: pixels !== undefined });
  return model.buildPrompt({ text, image: pixels });
}

/**
 * Preprocessed pixels of an image file (or the pixels themselves) for `model`.
 *
 * @throws InputError when the model takes no images or the file cannot be decoded
 */
export async function imagePixels(
  model: Model,
  image: string | Float32Array,
): Promise<Float32Array> {
  const processor = model.source.imageProcessor;
  if (!processor || !model.spec.vision) {
    throw new InputError(
      `this ${model.spec.modelType} model takes no images, but an image was given`,
    );
  }
  return typeof image === "string" ? preprocessImage(await loadImage(image), processor) : image;
}
