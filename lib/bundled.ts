/**
 * Where the bundled tiny LLaVA lives. It is trained by the project on generated scenes
 * (`experiments/tiny-llava/`) and saved in the llava-hf layout, so it loads like any other
 * checkpoint; commands, experiments and notebooks use it when no model is named.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** Absolute path of the bundled tiny LLaVA checkpoint directory. */
export const BUNDLED_MODEL_DIR: string = fileURLToPath(
  new URL("../experiments/tiny-llava/checkpoint", import.meta.url),
);

/** Absolute path of a scene image that ships with the bundled model, for examples. */
export const BUNDLED_EXAMPLE_IMAGE: string = fileURLToPath(
  new URL("../experiments/tiny-llava/examples/scene.png", import.meta.url),
);

/** `dir` when given, else the bundled model's directory. */
export function modelDirOrBundled(dir?: string): string {
  return dir ?? BUNDLED_MODEL_DIR;
}
