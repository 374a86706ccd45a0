/**
 * Prompts about generated scenes, for notebooks and studies that need the picture and its
 * objects beside the model's view of it: {@link scenePrompt} renders a scene, writes it as a PNG
 * (the model reads images from files) and builds the chat prompt.
 *
 * @example
 * ```ts
 * import { BUNDLED_MODEL_DIR } from "../bundled.ts";
 * import { loadModel } from "../runtime/model.ts";
 * import { scenePrompt } from "./scene_prompts.ts";
 * const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
 * const { prompt, scene } = await scenePrompt(model, { seed: 1, index: 0, dir: await Deno.makeTempDir() });
 * console.log(prompt.length, scene.objects.length);
 * await model.close();
 * ```
 *
 * @module
 */
import { join } from "node:path";
import type { RgbImage } from "../checkpoint/image.ts";
import {
  DESCRIBE_QUESTION,
  encodePng,
  generateScene,
  renderScene,
  type Scene,
} from "../data/scenes/mod.ts";
import { InputError } from "../errors.ts";
import { chatPrompt } from "../runtime/chat_prompt.ts";
import type { Model, Prompt } from "../runtime/model.ts";

/** Options of {@link scenePrompt}. */
export interface ScenePromptOptions {
  /** Generator seed. */
  seed: number;
  /** Scene index within the split. */
  index: number;
  /** Split name (default `"test"`). */
  split?: string;
  /** The question (default: the describe question the bundled model was trained on). */
  question?: string;
  /** Folder the PNG is written to (created when missing). */
  dir: string;
}

/** A scene, its picture, the PNG written and the prompt built from them. */
export interface ScenePrompt {
  /** The generated scene (objects with shape, colour, size and place). */
  scene: Scene;
  /** The rendered picture. */
  picture: RgbImage;
  /** Path of the PNG the prompt read. */
  imagePath: string;
  /** The chat prompt (image expanded). */
  prompt: Prompt;
  /** Patches per side of the vision tower's grid (its image size over its patch size). */
  grid: number;
}

/** Renders scene `index` of `split`, writes it to `dir` and builds its chat prompt on `model`. */
export async function scenePrompt(model: Model, opts: ScenePromptOptions): Promise<ScenePrompt> {
  const vision = model.spec.vision;
  if (!vision) {
    throw new InputError("scenePrompt: the model has no vision tower; load a LLaVA checkpoint");
  }
  const scene = generateScene(opts.seed, opts.split ?? "test", opts.index);
  const picture = renderScene(scene);
  await Deno.mkdir(opts.dir, { recursive: true });
  const imagePath = join(opts.dir, `${scene.id}-seed${opts.seed}.png`);
  await Deno.writeFile(imagePath, encodePng(picture));
  const prompt = await chatPrompt(model, {
    question: opts.question ?? DESCRIBE_QUESTION,
    image: imagePath,
  });
  return { scene, picture, imagePath, prompt, grid: vision.imageSize / vision.patchSize };
}
