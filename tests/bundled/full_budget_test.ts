/**
 * On the bundled tiny LLaVA, every recipe at budget 100 % generates exactly what the full cache
 * generates (PrefixKV included, online and with an offline config that evicts nothing), and
 * PrefixKV at 20 % keeps what its search decided.
 */
import { assertEquals } from "@std/assert";
import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { createRecipe, recipeNames } from "../../lib/recipes/mod.ts";
import type { ComposedPolicy } from "../../lib/recipes/composed_policy.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { generate } from "../../lib/runtime/generate.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { measureImportance } from "../../lib/runtime/measure_importance.ts";
import { prefixSearch } from "../../lib/prefix/search.ts";

const TOKENS = 24;

Deno.test("bundled model: every recipe at budget 100% reproduces the full-cache generation", async () => {
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
  try {
    const prompt = await chatPrompt(model, {
      question: "Describe the image in detail.",
      image: BUNDLED_EXAMPLE_IMAGE,
    });
    const run = (policy = createRecipe("full").policy({ fraction: 1 })) =>
      generate(model, prompt, { maxNewTokens: TOKENS, stopAtEos: false, policy });
    const full = await run();
    for (const name of recipeNames()) {
      const out = await run(createRecipe(name).policy({ fraction: 1 }));
      assertEquals(out.ids, full.ids, name);
      assertEquals(out.cacheLengths, full.cacheLengths, name);
    }
    const layers = model.spec.text.numLayers;
    const offline = createRecipe("prefixkv", { conf: new Array(layers).fill(0) });
    assertEquals((await run(offline.policy({ fraction: 1 }))).ids, full.ids, "prefixkv offline");

    // At 20 % the online search's kept counts are what prefixSearch finds on the same prompt.
    const policy = createRecipe("prefixkv").policy({ fraction: 0.2 }) as ComposedPolicy;
    await run(policy);
    const { importance } = await measureImportance(model, prompt);
    assertEquals(
      Array.from(policy.decision!.kept),
      prefixSearch(importance, { budget: 0.2 }).keep,
    );
  } finally {
    await model.close();
  }
});
