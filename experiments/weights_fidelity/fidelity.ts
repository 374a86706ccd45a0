/**
 * What int8 / int4 weights (`loadModel(dir, { weights })`, MatMulNBits block 32) cost in
 * fidelity against float32 weights, on the bundled tiny LLaVA and on the random LLaVA saved by
 * transformers (tests/fixtures/hf_random_llava): per prompt, the largest difference of the
 * prefill logits (all positions) and of every layer's importance, whether PrefixKV's per-layer
 * counts at 30 % and 50 % budgets agree (largest per-layer difference), how long the greedy
 * continuation (32 tokens) stays the same, the decoder graph's weight bytes and the prefill time.
 * Prints a markdown table. `--model "NAME=DIR"` (repeatable) adds a checkpoint, asked about the
 * bundled example image: e.g. the random mid-size LLaVA that make_mid_llava.py writes.
 *
 *     deno run -A experiments/weights_fidelity/fidelity.ts [--model "mid-size random LLaVA=/tmp/mid_llava"]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import type { WeightFormat } from "../../lib/checkpoint/quantize.ts";
import { prefixSearch } from "../../lib/prefix/search.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { argmax } from "../../lib/runtime/generate.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import { buildLlamaGraph } from "../../lib/graph/llama_graph.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MODELS = [
  { name: "bundled tiny LLaVA", dir: BUNDLED_MODEL_DIR, image: BUNDLED_EXAMPLE_IMAGE },
  {
    name: "random LLaVA (HF, f16)",
    dir: join(ROOT, "tests/fixtures/hf_random_llava"),
    image: join(ROOT, "tests/fixtures/jpeg_pil/ycc420.jpg"),
  },
];
const { values: args } = parseArgs({ options: { model: { type: "string", multiple: true } } });
for (const spec of args.model ?? []) {
  const at = spec.indexOf("=");
  if (at <= 0) throw new Error(`--model ${spec}: give NAME=DIR`);
  MODELS.push({ name: spec.slice(0, at), dir: spec.slice(at + 1), image: BUNDLED_EXAMPLE_IMAGE });
}
const QUESTIONS = ["Describe the image in detail.", "What color is the small circle?"];
const STEPS = 32;

async function run(model: Model, question: string, image: string) {
  const prompt = await chatPrompt(model, { question, image });
  await model.prefill(prompt.embeds, { attention: "importance", logits: "all" }); // warm
  const t0 = performance.now();
  const pre = await model.prefill(prompt.embeds, { attention: "importance", logits: "all" });
  const prefillMs = performance.now() - t0;
  const V = model.vocabSize;
  const ids: number[] = [];
  let last = pre.logits.subarray((pre.logitRows - 1) * V);
  for (let k = 0; k < STEPS && prompt.length + k < model.spec.text.maxPositionEmbeddings; k++) {
    ids.push(argmax(last));
    last = (await model.step(ids[k], pre.cache, prompt.length + k)).logits;
  }
  const counts = [0.3, 0.5].map((budget) => prefixSearch(pre.importance!, { budget }).keep);
  return { logits: pre.logits, importance: pre.importance!, ids, counts, prefillMs, vocab: V };
}

/** The gap between the two largest values. */
const topGap = (a: ArrayLike<number>) => {
  let first = -Infinity, second = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i] > first) [first, second] = [a[i], first];
    else if (a[i] > second) second = a[i];
  }
  return first - second;
};
const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

console.log(
  "| model | weights | decoder weight bytes | prefill ms (vs f32) | max logit diff | max importance diff | PrefixKV per-layer counts (30 %, 50 %) | greedy ids equal |",
);
console.log("|---|---|---|---|---|---|---|---|");
const scales: string[] = [];
for (const m of MODELS) {
  const results: Record<string, Awaited<ReturnType<typeof run>>[]> = {};
  const bytes: Record<string, number> = {};
  for (const weights of ["f32", "int8", "int4"] as WeightFormat[]) {
    const model = await loadModel(m.dir, { cacheDir: false, weights });
    bytes[weights] = buildLlamaGraph(model.spec.text, model.source.tensors, { weights })
      .initializerBytes;
    results[weights] = [];
    for (const q of QUESTIONS) results[weights].push(await run(model, q, m.image));
    await model.close();
  }
  const f32 = results.f32;
  scales.push(
    `${m.name}: prompts of ${f32.map((r) => r.importance[0].length).join(", ")} positions; f32 ` +
      `max |logit| ${f32.map((r) => maxAbs(r.logits).toFixed(1)).join(", ")}, max importance ${
        f32.map((r) => Math.max(...r.importance.map(maxAbs)).toFixed(1)).join(", ")
      }, top-2 logit gap at the first generated token ${
        f32.map((r) => topGap(r.logits.subarray(r.logits.length - r.vocab)).toFixed(2))
          .join(", ")
      }`,
  );
  for (const w of ["int8", "int4"]) {
    const rows = results[w].map((r, i) => {
      const ref = results.f32[i];
      return {
        logit: maxDiff(r.logits, ref.logits),
        imp: Math.max(...r.importance.map((x, l) => maxDiff(x, ref.importance[l]))),
        counts: r.counts.map((c, j) =>
          Math.max(...c.map((x, l) => Math.abs(x - ref.counts[j][l])))
        ),
        ids: r.ids.findIndex((id, k) => id !== ref.ids[k]),
        n: r.ids.length,
      };
    });
    const f = (x: number) => x.toExponential(1);
    console.log(
      `| ${m.name} | ${w} | ${bytes[w]} (f32 ${bytes.f32}) | ${
        results[w].map((r) => r.prefillMs.toFixed(1)).join(", ")
      } (${results.f32.map((r) => r.prefillMs.toFixed(1)).join(", ")}) | ${
        rows.map((r) => f(r.logit)).join(", ")
      } | ${rows.map((r) => f(r.imp)).join(", ")} | ${
        rows.map((r) => r.counts.map((c) => c === 0 ? "equal" : `±${c}`).join("/")).join(", ")
      } | ${rows.map((r) => r.ids < 0 ? `all ${r.n}` : `first ${r.ids} of ${r.n}`).join(", ")} |`,
    );
  }
}
console.log("");
for (const line of scales) console.log(`- ${line}`);
