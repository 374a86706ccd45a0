import { assert, assertEquals, assertRejects } from "@std/assert";
import { createRecipe } from "../../lib/recipes/registry.ts";
import type { CachePolicy, PrefillInfo } from "../../lib/runtime/cache_policy.ts";
import { generate, generateBatch } from "../../lib/runtime/generate.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import { makeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { referenceLlama } from "../reference/llama_reference.ts";
import { maxAbsDiff } from "../graph/max_abs_diff.ts";

const ck = makeTinyLlama({ heads: 4, kvHeads: 2, layers: 3, vocabSize: 48, seed: 5 });
const PROMPTS = [
  [1, 7, 19, 23, 5, 11, 30, 2, 14, 9, 40, 6],
  [1, 33, 4, 4, 17, 28, 8, 45, 12, 3, 21, 10],
  [1, 2, 3, 5, 8, 13, 21, 34, 7, 41, 27, 16],
];

async function withModel(fn: (m: Model) => Promise<void>): Promise<void> {
  const model = await loadModel({ spec: ck.spec, tensors: ck.store }, { cacheDir: false });
  try {
    await fn(model);
  } finally {
    await model.close();
  }
}

Deno.test("model: a batched prefill and steps equal each sample's own (and the reference)", () =>
  withModel(async (model) => {
    const ref = referenceLlama(ck.spec.text, ck.store);
    const V = ck.spec.text.vocabSize;
    const N = PROMPTS[0].length;
    const embeds = Float32Array.from(PROMPTS.flatMap((p) => [...model.embedTokens(p)]));
    const pre = await model.prefill(embeds, { batch: 3, attention: "importance", logits: "last" });
    assertEquals(pre.cache.batch, 3);
    assertEquals(pre.logitRows, 3);
    const tokens = [9, 20, 31];
    const step = await model.step(tokens, pre.cache, N, { attention: true });
    for (let b = 0; b < 3; b++) {
      const cache = ref.newCache();
      const want = ref.forward(ref.embed(PROMPTS[b]), PROMPTS[b].map((_, i) => i), cache);
      assert(
        maxAbsDiff(pre.logits.subarray(b * V, (b + 1) * V), want.logits.subarray((N - 1) * V)) <=
          1e-4,
      );
      const one = await model.prefill(model.embedTokens(PROMPTS[b]), { attention: "importance" });
      for (let l = 0; l < 3; l++) {
        assertEquals(pre.importance![l].subarray(b * N, (b + 1) * N), one.importance![l]);
      }
      const next = ref.forward(ref.embed([tokens[b]]), [N], cache);
      assert(
        maxAbsDiff(step.logits.subarray(b * V, (b + 1) * V), next.logits) <= 1e-4,
        `sample ${b}`,
      );
      for (let l = 0; l < 3; l++) {
        const S = N + 1;
        assert(
          maxAbsDiff(step.importance![l].subarray(b * S, (b + 1) * S), next.attention[l]) <= 1e-6,
        );
      }
    }
  }));

const CASES: [string, () => ReturnType<ReturnType<typeof createRecipe>["policy"]>][] = [
  ["full cache", () => createRecipe("full").policy({ fraction: 1 })],
  [
    "snapkv 50% (prefill importance, each sample its own entries)",
    () => createRecipe("snapkv").policy({ fraction: 0.5 }),
  ],
  ["h2o 40% (step attention per sample)", () => createRecipe("h2o").policy({ fraction: 0.4 })],
];

for (const [name, policy] of CASES) {
  Deno.test(`generateBatch (${name}): batched ids equal per-sample generate`, () =>
    withModel(async (model) => {
      const prompts = await Promise.all(PROMPTS.map((ids) => model.buildPrompt({ ids })));
      const opts = { maxNewTokens: 14, stopAtEos: false };
      const single = [];
      for (const p of prompts) single.push(await generate(model, p, { ...opts, policy: policy() }));
      const batch = await generateBatch(model, prompts, {
        ...opts,
        policies: prompts.map(() => policy()),
      });
      assertEquals(batch.samples.map((s) => s.ids), single.map((s) => s.ids));
      assertEquals(batch.cacheLengths, single[0].cacheLengths);
      assertEquals(batch.bytesHeld, single.reduce((n, s) => n + s.bytesHeld, 0));
      assertEquals(batch.timings.decodeSteps, 13);
    }));
}

Deno.test("generateBatch: unequal prompt lengths and per-sample counts are clear errors", () =>
  withModel(async (model) => {
    const a = await model.buildPrompt({ ids: PROMPTS[0] });
    const short = await model.buildPrompt({ ids: PROMPTS[1].slice(0, 7) });
    await assertRejects(
      () => generateBatch(model, [a, short], { maxNewTokens: 3 }),
      Error,
      "equal lengths",
    );
    // A policy that keeps a count of its own per sample (as an online search may).
    const keepFirst = (n: number): CachePolicy => ({
      needs: { prefill: "none", step: false },
      afterPrefill(cache) {
        for (let l = 0; l < cache.numLayers; l++) cache.keep(l, [...Array(n).keys()]);
      },
      afterStep() {},
    });
    const prompts = await Promise.all(PROMPTS.map((ids) => model.buildPrompt({ ids })));
    await assertRejects(
      () =>
        generateBatch(model, prompts, {
          maxNewTokens: 3,
          policies: [keepFirst(4), keepFirst(4), keepFirst(6)],
        }),
      Error,
      "offline config",
    );
  }));

Deno.test("generateBatch: a policy asking for headMatrices gets its own sample's per-head attention (= the reference)", () =>
  withModel(async (model) => {
    const ref = referenceLlama(ck.spec.text, ck.store);
    const N = PROMPTS[0].length;
    const H = ck.spec.text.numHeads;
    const seen: PrefillInfo[] = [];
    const policies = PROMPTS.map((): CachePolicy => ({
      needs: { prefill: "headMatrices", step: false },
      afterPrefill: (_cache, info) => void seen.push(info),
      afterStep() {},
    }));
    const prompts = await Promise.all(PROMPTS.map((ids) => model.buildPrompt({ ids })));
    await generateBatch(model, prompts, { maxNewTokens: 2, policies, stopAtEos: false });
    assertEquals(seen.length, 3);
    seen.forEach((info, b) => {
      const want = ref.forward(ref.embed(PROMPTS[b]), PROMPTS[b].map((_, i) => i), ref.newCache());
      for (let l = 0; l < 3; l++) {
        assertEquals(info.headAttention![l].length, H * N * N);
        const d = maxAbsDiff(info.headAttention![l], want.headAttention[l]);
        assert(d <= 1e-6, `sample ${b} layer ${l}: ${d} from the reference`);
        assert(maxAbsDiff(info.attention![l], want.attention[l]) <= 1e-6);
        assertEquals(info.importance![l].length, N);
      }
    });
  }));
