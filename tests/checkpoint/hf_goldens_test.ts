/**
 * The runtime against golden files made by Hugging Face transformers itself
 * (`experiments/hf_goldens/make_goldens.py`: `AutoProcessor` + `LlavaForConditionalGeneration`,
 * eager attention, float64) on the bundled tiny LLaVA and on a random LLaVA that transformers
 * saved (tests/fixtures/hf_random_llava: transformers 5 layout, llama3 RoPE, GQA, float16
 * weights). From the question text and the image file alone, the runtime must build HF's prompt
 * ids and pixel values, and give HF's last-position logits, every layer's importance and the
 * same greedy continuation.
 */
import { join } from "node:path";
import { assertEquals, assertLessOrEqual } from "@std/assert";
import { argmax } from "../../lib/runtime/generate.ts";
import { chatPrompt, imagePixels } from "../../lib/runtime/chat_prompt.ts";
import { loadModel } from "../../lib/runtime/model.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const GOLDEN_DIR = join(ROOT, "tests/fixtures/hf_goldens");
const IMAGES: Record<string, string> = {
  "scene.png": join(ROOT, "tests/fixtures/tiny_llava_golden/describe_image.png"),
  "photo.jpg": join(ROOT, "tests/fixtures/jpeg_pil/ycc420.jpg"),
};
/** float32 runtime against float64 HF (measured: ≤ 3.7e-6 and ≤ 1.6e-6; pixels identical). */
const LOGIT_TOL = 2e-5;
const IMPORTANCE_TOL = 5e-6;
const PIXEL_TOL = 0;

interface Golden {
  name: string;
  model: string;
  question: string;
  image: string | null;
  input_ids: number[];
  pixel_values?: number[];
  last_logits: number[];
  importance: number[][];
  greedy_ids: number[];
}

const manifest = JSON.parse(Deno.readTextFileSync(join(GOLDEN_DIR, "manifest.json"))) as {
  transformers: string;
  cases: { name: string }[];
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length, "lengths differ");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const { name } of manifest.cases) {
  Deno.test(`HF ${manifest.transformers} golden ${name}: ids, pixels, logits, importance, greedy ids`, async () => {
    const g = JSON.parse(await Deno.readTextFile(join(GOLDEN_DIR, `${name}.json`))) as Golden;
    const model = await loadModel(join(ROOT, g.model), { cacheDir: false });
    try {
      const image = g.image === null ? undefined : IMAGES[g.image];
      if (image) {
        const pixels = await imagePixels(model, image);
        assertLessOrEqual(maxAbsDiff(pixels, g.pixel_values!), PIXEL_TOL, "pixel values");
      }
      const prompt = await chatPrompt(model, { question: g.question, image });
      assertEquals(
        prompt.ids,
        g.input_ids,
        "prompt ids (chat template, tokenizer, <image> expansion)",
      );

      const pre = await model.prefill(prompt.embeds, { attention: "importance", logits: "last" });
      const V = model.vocabSize;
      const last = pre.logits.subarray((pre.logitRows - 1) * V);
      assertLessOrEqual(maxAbsDiff(last, g.last_logits), LOGIT_TOL, "last-position logits");
      assertEquals(pre.importance!.length, g.importance.length, "layers");
      pre.importance!.forEach((imp, l) => {
        assertLessOrEqual(
          maxAbsDiff(imp, g.importance[l]),
          IMPORTANCE_TOL,
          `layer ${l} importance`,
        );
      });

      // Greedy decoding, fed its own choices.
      const ids: number[] = [];
      let logits: Float32Array = last;
      for (let k = 0; k < g.greedy_ids.length; k++) {
        ids.push(argmax(logits));
        logits = (await model.step(ids[k], pre.cache, prompt.length + k)).logits;
      }
      assertEquals(ids, g.greedy_ids, "greedy ids");
    } finally {
      await model.close();
    }
  });
}
