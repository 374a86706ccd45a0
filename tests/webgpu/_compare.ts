/**
 * Runs one prompt on two models of the same checkpoint (a `cpu` reference and the model under
 * test) and measures how far apart they are: prefill logits of every row, importance and
 * attention matrices of every layer, a few decode steps (logits and step attention), image
 * features, and the ids greedy generation produces at a 100 % budget.
 *
 * @module
 */
import { BUNDLED_EXAMPLE_IMAGE } from "../../lib/bundled.ts";
import { createRecipe } from "../../lib/recipes/registry.ts";
import { chatPrompt, imagePixels } from "../../lib/runtime/chat_prompt.ts";
import { generate } from "../../lib/runtime/generate.ts";
import type { Model, Prompt } from "../../lib/runtime/model.ts";
import { maxAbsDiff } from "../graph/max_abs_diff.ts";

/** Largest absolute differences, and the reference's largest magnitudes to scale them by. */
export interface Differences {
  /** Prefill logits, every row. */
  logits: number;
  /** Largest |logit| of the reference. */
  logitScale: number;
  /** Per-layer importance vectors (sums over the prompt's queries). */
  importance: number;
  /** Largest reference importance. */
  importanceScale: number;
  /** Per-layer head-averaged attention matrices (probabilities). */
  attention: number;
  /** Decode-step logits. */
  stepLogits: number;
  /** Decode-step attention over the cache. */
  stepAttention: number;
  /** Image features (0 without an image). */
  imageFeatures: number;
  /** Largest |image feature| of the reference (0 without an image). */
  imageScale: number;
  /** Generated ids of the reference, full cache. */
  referenceIds: number[];
  /** Generated ids of the model under test, full cache. */
  fullIds: number[];
  /** Generated ids of the model under test, PrefixKV at budget 100 %. */
  prefixkvIds: number[];
}

const maxAbs = (v: ArrayLike<number>) =>
  Array.from(v).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const worst = (a: Float32Array[], b: Float32Array[]) =>
  a.reduce((m, x, l) => Math.max(m, maxAbsDiff(x, b[l])), 0);

/** Measures `test` against `reference` on `prompt`; see the module documentation. */
export async function compareModels(
  reference: Model,
  test: Model,
  prompt: Prompt,
  options: { image?: Float32Array; steps?: number; tokens?: number } = {},
): Promise<Differences> {
  const [a, b] = await Promise.all(
    [reference, test].map((m) => m.prefill(prompt.embeds, { attention: "matrices" })),
  );
  let stepLogits = 0;
  let stepAttention = 0;
  let token = 7 % reference.vocabSize;
  for (let s = 0; s < (options.steps ?? 3); s++) {
    const position = prompt.length + s;
    const x = await reference.step(token, a.cache, position, { attention: true });
    const y = await test.step(token, b.cache, position, { attention: true });
    stepLogits = Math.max(stepLogits, maxAbsDiff(x.logits, y.logits));
    stepAttention = Math.max(stepAttention, worst(x.importance!, y.importance!));
    token = (token * 13 + 5) % reference.vocabSize;
  }
  let imageFeatures = 0;
  let imageScale = 0;
  if (options.image) {
    const [fa, fb] = await Promise.all([reference, test].map((m) => m.encodeImage(options.image!)));
    imageFeatures = maxAbsDiff(fa, fb);
    imageScale = maxAbs(fa);
  }
  const tokens = options.tokens ?? 8;
  const run = (m: Model, name: string) =>
    generate(m, prompt, {
      maxNewTokens: tokens,
      stopAtEos: false,
      policy: createRecipe(name).policy({ fraction: 1 }),
    });
  return {
    logits: maxAbsDiff(a.logits, b.logits),
    logitScale: maxAbs(a.logits),
    importance: worst(a.importance!, b.importance!),
    importanceScale: Math.max(...a.importance!.map(maxAbs)),
    attention: worst(a.attention!, b.attention!),
    stepLogits,
    stepAttention,
    imageFeatures,
    imageScale,
    referenceIds: (await run(reference, "full")).ids,
    fullIds: (await run(test, "full")).ids,
    prefixkvIds: (await run(test, "prefixkv")).ids,
  };
}

/** One line of measured differences, printed by the tests (the README quotes them). */
export function describeDifferences(name: string, d: Differences): string {
  const e = (x: number) => x.toExponential(1);
  return `  ${name}: logits ${e(d.logits)} (of ${d.logitScale.toFixed(1)}), importance ${
    e(d.importance)
  } (of ${d.importanceScale.toFixed(1)}), attention ${e(d.attention)}, steps ${e(d.stepLogits)}/${
    e(d.stepAttention)
  }${
    d.imageScale > 0 ? `, image features ${e(d.imageFeatures)} (of ${d.imageScale.toFixed(1)})` : ""
  }`;
}

/** The bundled model's example: describe the example scene; the prompt and its pixels. */
export async function bundledExample(cpu: Model): Promise<{ prompt: Prompt; image: Float32Array }> {
  const prompt = await chatPrompt(cpu, {
    question: "Describe the image in detail.",
    image: BUNDLED_EXAMPLE_IMAGE,
  });
  return { prompt, image: await imagePixels(cpu, BUNDLED_EXAMPLE_IMAGE) };
}
