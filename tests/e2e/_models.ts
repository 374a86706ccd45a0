/**
 * Shared setup of the end-to-end tests: tiny random LLaVA and LLaMA checkpoints (GQA: 4 query
 * heads over 2 KV heads, 3 layers) written to a temporary directory, loaded as models, and a
 * prompt of a few dozen tokens for each.
 */
import { join } from "node:path";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { loadModel, type Model, type Prompt } from "../../lib/runtime/model.ts";
import { writeTinyLlama, writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";

/** Model options of both checkpoints. */
export const TINY = { heads: 4, kvHeads: 2, layers: 3, seed: 5 } as const;

/** A question long enough that a 10 % budget still covers the protected entries. */
export const QUESTION =
  "Describe this picture . What is in the image ? There are two red circle left of a blue " +
  "square and one small green triangle below the large circle .";

/** Deterministic preprocessed pixels `[3, 16, 16]` in roughly [−2, 2]. */
export function tinyPixels(): Float32Array {
  return Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.37) * 1.8);
}

/** A loaded tiny model with the prompt the tests use. */
export interface TinyCase {
  name: "llava" | "llama";
  dir: string;
  model: Model;
  prompt: Prompt;
}

/** Writes both checkpoints under `root` and loads them (graphs built in memory). */
export async function tinyCases(root: string): Promise<TinyCase[]> {
  const llava = await writeTinyLlava(join(root, "llava"), TINY);
  const llama = await writeTinyLlama(join(root, "llama"), TINY);
  const cases: TinyCase[] = [];
  for (const [name, dir] of [["llava", llava.dir], ["llama", llama.dir]] as const) {
    const model = await loadModel(dir, { cacheDir: false });
    const prompt = await chatPrompt(model, {
      question: QUESTION,
      image: name === "llava" ? tinyPixels() : undefined,
    });
    cases.push({ name, dir, model, prompt });
  }
  return cases;
}

/** Wraps `model.prefill` and `model.step` so that any non-finite logit throws. */
export function failOnNonFiniteLogits(model: Model): void {
  const check = (logits: Float32Array, where: string) => {
    const bad = logits.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`${where}: logit ${bad} is ${logits[bad]}`);
  };
  const prefill = model.prefill.bind(model);
  const step = model.step.bind(model);
  model.prefill = async (...args) => {
    const out = await prefill(...args);
    check(out.logits, "prefill");
    return out;
  };
  model.step = async (...args) => {
    const out = await step(...args);
    check(out.logits, "step");
    return out;
  };
}
