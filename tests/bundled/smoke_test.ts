/**
 * Smoke test of the bundled tiny LLaVA: through the ordinary path (generated scene image →
 * checkpoint preprocessing → chat format → greedy decoding), it describes a held-out test scene
 * exactly. Only a trained model passes.
 */
import { assert } from "@std/assert";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { preprocessImage } from "../../lib/checkpoint/image.ts";
import { DESCRIBE_QUESTION, describeScene } from "../../lib/data/scenes/conversations.ts";
import { generateScene, renderScene } from "../../lib/data/scenes/generator.ts";
import { scoreDescription } from "../../lib/data/scenes/parser.ts";
import {
  SCENE_MAX_NEW_TOKENS,
  SCENE_TEST_SEED,
  SCENE_TEST_SPLIT,
} from "../../lib/metrics/scene_accuracy.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { generate } from "../../lib/runtime/generate.ts";
import { loadModel } from "../../lib/runtime/model.ts";

/** Index of the held-out scene described (a three-object scene). */
const SCENE_INDEX = 0;

Deno.test("bundled model: describes a held-out test scene exactly", async () => {
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
  try {
    const scene = generateScene(SCENE_TEST_SEED, SCENE_TEST_SPLIT, SCENE_INDEX);
    const pixels = preprocessImage(renderScene(scene), model.source.imageProcessor!);
    const prompt = await chatPrompt(model, { question: DESCRIBE_QUESTION, image: pixels });
    const out = await generate(model, prompt, { maxNewTokens: SCENE_MAX_NEW_TOKENS });
    const score = scoreDescription(scene, out.text);
    assert(
      score.exact && out.stoppedAtEos,
      `scene ${scene.id}: expected "${describeScene(scene)}", got "${out.text}" ` +
        `(${score.objectsRight}/${score.objectsTotal} objects right, ${score.invented} invented, ` +
        `stopped at EOS: ${out.stoppedAtEos})`,
    );
  } finally {
    await model.close();
  }
});
