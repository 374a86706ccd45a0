/**
 * Smoke test of the bundled tiny LLaVA: through the ordinary path (generated scene image →
 * checkpoint preprocessing → chat format → greedy decoding), it describes a held-out test scene
 * exactly and answers that scene's short questions (count, colour, place, presence). Only a
 * trained model passes. The scene is one the model gets right (it gets 91% of descriptions
 * exactly right, not all); the quality over 200 scenes is measured by `eval-scenes`.
 */
import { assert, assertEquals } from "@std/assert";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { preprocessImage } from "../../lib/checkpoint/image.ts";
import { describeScene } from "../../lib/data/scenes/conversations.ts";
import { generateSplit } from "../../lib/data/scenes/dataset.ts";
import { answersMatch, scoreDescription } from "../../lib/data/scenes/parser.ts";
import {
  SCENE_MAX_NEW_TOKENS,
  SCENE_TEST_SEED,
  SCENE_TEST_SPLIT,
  sceneQuestions,
} from "../../lib/metrics/scene_accuracy.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { generate } from "../../lib/runtime/generate.ts";
import { loadModel } from "../../lib/runtime/model.ts";

/** Index of the held-out scene asked about (three objects: a description and four questions). */
const SCENE_INDEX = 3;

Deno.test("bundled model: describes a held-out test scene and answers its questions", async () => {
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
  try {
    const { scenes, records, images } = generateSplit(
      SCENE_TEST_SPLIT,
      SCENE_INDEX + 1,
      SCENE_TEST_SEED,
    );
    const scene = scenes[SCENE_INDEX];
    const questions = sceneQuestions(records.filter((r) => r.image === `${scene.id}.png`));
    assertEquals(questions.map((q) => q.kind), ["describe", "count", "color", "place", "presence"]);
    const image = preprocessImage(images[SCENE_INDEX], model.source.imageProcessor!);
    for (const q of questions) {
      const prompt = await chatPrompt(model, { question: q.question, image });
      const out = await generate(model, prompt, { maxNewTokens: SCENE_MAX_NEW_TOKENS });
      assert(out.stoppedAtEos, `${scene.id} "${q.question}": no </s> in "${out.text}"`);
      if (q.kind === "describe") {
        const score = scoreDescription(scene, out.text);
        assert(
          score.exact,
          `${scene.id}: expected "${describeScene(scene)}", got "${out.text}" ` +
            `(${score.objectsRight}/${score.objectsTotal} objects right, ${score.invented} invented)`,
        );
      } else {
        assert(
          answersMatch(q.expected, out.text),
          `${scene.id} "${q.question}": expected "${q.expected}", got "${out.text}"`,
        );
      }
    }
  } finally {
    await model.close();
  }
});
