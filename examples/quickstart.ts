/**
 * The toolkit in one page: load the bundled tiny LLaVA, look at each layer's attention, run
 * PrefixKV's search, and compare two retention recipes at the same budget.
 *
 * Run: `deno run -A examples/quickstart.ts [image.png]` (default: the bundled example scene).
 *
 * @module
 */
import {
  analyzeImportance,
  BUNDLED_EXAMPLE_IMAGE,
  BUNDLED_MODEL_DIR,
  chatPrompt,
  createRecipe,
  generate,
  keptByPrefixKV,
  loadModel,
  measureImportance,
} from "../mod.ts";

/** What the quickstart prints, returned for tests. */
export interface QuickstartResult {
  gini: number[];
  keptByLayer: number[];
  p: number;
  full: string;
  prefixkv: string;
  local: string;
}

/** Runs the quickstart on `image` at a 20 % budget and prints what it finds. */
export async function quickstart(image = BUNDLED_EXAMPLE_IMAGE): Promise<QuickstartResult> {
  const model = await loadModel(BUNDLED_MODEL_DIR);
  try {
    const prompt = await chatPrompt(model, { question: "Describe the image in detail.", image });

    // Each layer's importance: head-averaged prefill attention summed over the prompt's queries.
    const { importance } = await measureImportance(model, prompt);
    const { imageSpan } = prompt;
    const gini = analyzeImportance(importance, { imageSpan }).layers.map((l) => l.gini);
    // What PrefixKV's global prefix search keeps of each layer at a 20 % budget.
    const { search } = keptByPrefixKV(importance, { budget: 0.2, imageSpan });
    console.log(
      `prompt: ${prompt.length} entries, image at [${imageSpan?.start}, ${imageSpan?.end})`,
    );
    console.log(`Gini per layer: ${gini.map((g) => g.toFixed(2)).join(" ")}`);
    console.log(
      `PrefixKV at 20%: p = ${search.p.toFixed(3)}, kept per layer ${search.keep.join(" ")}`,
    );

    // The same prompt under three recipes.
    const run = async (method: string, fraction: number) =>
      (await generate(model, prompt, {
        maxNewTokens: 48,
        policy: createRecipe(method).policy({ fraction }),
      })).text;
    const result: QuickstartResult = {
      gini,
      keptByLayer: search.keep,
      p: search.p,
      full: await run("full", 1),
      prefixkv: await run("prefixkv", 0.2),
      local: await run("local", 0.2),
    };
    console.log(`full cache     : ${result.full}`);
    console.log(`prefixkv (20%) : ${result.prefixkv}`);
    console.log(`local (20%)    : ${result.local}`);
    return result;
  } finally {
    await model.close();
  }
}

if (import.meta.main) await quickstart(Deno.args[0]);
