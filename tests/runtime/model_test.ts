import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import { InputError } from "../../lib/errors.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import {
  makeTinyLlama,
  makeTinyLlava,
  type TinyLlamaOptions,
  writeTinyLlava,
} from "../fixtures/tiny_checkpoint.ts";
import { referenceLlama } from "../reference/llama_reference.ts";
import { referenceLlava } from "../reference/clip_reference.ts";
import { maxAbsDiff } from "../graph/max_abs_diff.ts";

const TOL = 1e-4;

const CONFIGS: [string, TinyLlamaOptions][] = [
  ["MHA, untied head", { layers: 3 }],
  ["GQA, tied head", { heads: 4, kvHeads: 2, tieWordEmbeddings: true, layers: 2 }],
  ["GQA, linear rope scaling ×2", {
    heads: 4,
    kvHeads: 2,
    ropeScaling: { type: "linear", factor: 2 },
  }],
];

async function withModel(
  opts: TinyLlamaOptions,
  fn: (m: Model, ck: ReturnType<typeof makeTinyLlama>) => Promise<void>,
) {
  const ck = makeTinyLlama(opts);
  const model = await loadModel({ spec: ck.spec, tensors: ck.store }, { cacheDir: false });
  try {
    await fn(model, ck);
  } finally {
    await model.close();
  }
}

for (const [name, opts] of CONFIGS) {
  Deno.test(`model (${name}): prefill and ten decode steps match the reference`, () =>
    withModel(opts, async (model, ck) => {
      const ref = referenceLlama(ck.spec.text, ck.store);
      const prompt = [1, 12, 40, 7, 33, 5, 18, 61];
      const pre = await model.prefill(model.embedTokens(prompt), { logits: "all" });
      const refCache = ref.newCache();
      const want = ref.forward(ref.embed(prompt), prompt.map((_, i) => i), refCache);
      assertEquals(pre.logitRows, prompt.length);
      assert(maxAbsDiff(pre.logits, want.logits) <= TOL);
      assertEquals(pre.cache.lengths(), new Array(ck.spec.text.numLayers).fill(prompt.length));
      let token = 9;
      for (let s = 0; s < 10; s++) {
        const position = prompt.length + s;
        const got = await model.step(token, pre.cache, position);
        const exp = ref.forward(ref.embed([token]), [position], refCache);
        assert(maxAbsDiff(got.logits, exp.logits) <= TOL, `step ${s}`);
        token = (token * 13 + 5) % ck.spec.text.vocabSize;
      }
      assertEquals(pre.cache.lengths(), new Array(ck.spec.text.numLayers).fill(prompt.length + 10));
      assertEquals(
        [...pre.cache.positions(0)],
        Array.from({ length: prompt.length + 10 }, (_, i) => i),
      );
    }));
}

Deno.test("model: ragged caches (different kept sets per layer) decode like the reference", () =>
  withModel({ heads: 4, kvHeads: 2, layers: 3 }, async (model, ck) => {
    const ref = referenceLlama(ck.spec.text, ck.store);
    const prompt = [1, 9, 22, 31, 4, 8, 15, 16, 23, 42];
    const pre = await model.prefill(model.embedTokens(prompt), {
      attention: "importance",
      logits: "last",
    });
    const refCache = ref.newCache();
    ref.forward(ref.embed(prompt), prompt.map((_, i) => i), refCache);
    const kept = [[0, 1, 5, 9], [0, 2, 3, 4, 6, 7, 8, 9], [9]];
    kept.forEach((idx, l) => {
      pre.cache.keep(l, idx);
      refCache.keep(l, idx);
    });
    let token = 3;
    for (let s = 0; s < 10; s++) {
      const position = prompt.length + s;
      const before = pre.cache.lengths();
      const got = await model.step(token, pre.cache, position, { attention: true });
      assertEquals(pre.cache.lengths(), before.map((n) => n + 1));
      const exp = ref.forward(ref.embed([token]), [position], refCache);
      assert(maxAbsDiff(got.logits, exp.logits) <= TOL, `step ${s}`);
      for (let l = 0; l < 3; l++) {
        // The step's attention covers exactly the layer's entries, new one last.
        assertEquals(got.importance![l].length, pre.cache.length(l));
        assert(maxAbsDiff(got.importance![l], exp.attention[l]) <= 1e-6);
      }
      // Keep shrinking layer 1 during decoding, as eviction policies do.
      if (s % 3 === 2) {
        pre.cache.evict(1, 2);
        refCache.keep(
          1,
          Array.from({ length: refCache.length(1) }, (_, i) => i).filter((i) => i !== 2),
        );
      }
      token = (token * 7 + 1) % ck.spec.text.vocabSize;
    }
    assertEquals(pre.cache.positions(2)[0], 9);
  }));

Deno.test("model: prefill importance and matrices match the reference attention", () =>
  withModel({ heads: 4, kvHeads: 1 }, async (model, ck) => {
    const ref = referenceLlama(ck.spec.text, ck.store);
    const prompt = [1, 3, 5, 7, 9, 11, 13];
    const N = prompt.length;
    const pre = await model.prefill(model.embedTokens(prompt), {
      attention: "matrices",
      positionStart: 4,
    });
    const want = ref.forward(ref.embed(prompt), prompt.map((_, i) => i + 4), ref.newCache());
    assert(maxAbsDiff(pre.logits, want.logits) <= TOL);
    assertEquals([...pre.cache.positions(1)], prompt.map((_, i) => i + 4));
    for (let l = 0; l < ck.spec.text.numLayers; l++) {
      assert(maxAbsDiff(pre.attention![l], want.attention[l]) <= 1e-6);
      const colSums = Array.from(
        { length: N },
        (_, j) => want.attention[l].filter((_, k) => k % N === j).reduce((a, b) => a + b, 0),
      );
      assert(maxAbsDiff(pre.importance![l], colSums) <= 1e-5);
    }
  }));

Deno.test("model: multi-row steps and the paper's compressed positions", () =>
  withModel({ heads: 2, kvHeads: 2 }, async (model, ck) => {
    const ref = referenceLlama(ck.spec.text, ck.store);
    const prompt = [1, 2, 3, 4, 5, 6];
    const pre = await model.prefill(model.embedTokens(prompt));
    const refCache = ref.newCache();
    ref.forward(ref.embed(prompt), prompt.map((_, i) => i), refCache);
    pre.cache.keep(0, [0, 4, 5]);
    refCache.keep(0, [0, 4, 5]);
    // Two rows at RoPE positions 3, 4 (layer 0's length), recorded in the cache as 6, 7.
    const got = await model.step(model.embedTokens([7, 8]), pre.cache, 3, { cachePosition: 6 });
    const exp = ref.forward(ref.embed([7, 8]), [3, 4], refCache);
    assert(maxAbsDiff(got.logits, exp.logits) <= TOL);
    assertEquals([...pre.cache.positions(0)], [0, 4, 5, 6, 7]);
  }));

Deno.test("model: a LLaVA prompt with an image matches the reference end to end", async () => {
  const dir = await Deno.makeTempDir({ prefix: "model_test_" });
  try {
    const ck = await writeTinyLlava(join(dir, "llava"), { heads: 4, kvHeads: 2 });
    const ref = referenceLlava(ck.spec, ck.store);
    const model = await loadModel(ck.dir, { cacheDir: join(dir, "graphs") });
    try {
      const S = ck.spec.vision!.imageSize;
      const pixels = Float32Array.from({ length: 3 * S * S }, (_, i) => Math.cos(i * 0.11));
      const ids = [1, 10, 3, 20, 21, 22];
      const prompt = await model.buildPrompt({ ids, image: pixels });
      const want = ref.promptEmbeddings(ids, pixels);
      assertEquals(prompt.length, want.length);
      assertEquals(prompt.imageSpan, { start: 2, end: 2 + want.imageLength });
      assertEquals(prompt.ids.slice(0, 3), [1, 10, 3]);
      assertEquals(prompt.ids.length, prompt.length);
      assert(maxAbsDiff(prompt.embeds, want.embeds) <= 1e-4);
      const pre = await model.prefill(prompt.embeds);
      const out = ref.llama.forward(
        want.embeds,
        Array.from({ length: want.length }, (_, i) => i),
        ref.llama.newCache(),
      );
      assert(maxAbsDiff(pre.logits, out.logits) <= TOL);
      // Text prompts go through the checkpoint's tokenizer with <image> as the image token.
      const fromText = await model.buildPrompt({
        text: "<image>\nWhat is in the image ?",
        image: pixels,
      });
      assertEquals(fromText.imageSpan!.end - fromText.imageSpan!.start, ck.spec.imageTokens);
    } finally {
      await model.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model: bad inputs are InputErrors that name the problem", async () => {
  const ck = makeTinyLlava();
  const model = await loadModel({ spec: ck.spec, tensors: ck.store }, { cacheDir: false });
  try {
    assertMatch(
      assertThrows(
        () => model.embedTokens([1, 64]),
        InputError,
      ).message,
      /token id 64 \(at index 1\) is outside the vocabulary \[0, 64\)/,
    );
    assertThrows(() => model.embedTokens([1.5]), InputError);
    assertMatch(
      (await assertRejects(
        () => model.encodeImage(new Float32Array(3 * 8 * 8)),
        InputError,
      )).message,
      /3×8×8.*3×16×16/,
    );
    assertMatch(
      (await assertRejects(
        () => model.prefill(new Float32Array(5)),
        InputError,
      )).message,
      /rows of 16 values/,
    );
    assertMatch(
      (await assertRejects(
        () => model.step(1, new KvCache({ numLayers: 1, numKvHeads: 4, headDim: 4 }), 0),
        InputError,
      )).message,
      /does not fit this model/,
    );
    await assertRejects(() => model.step(1, model.newCache(), -1), InputError);
    assertMatch(
      (await assertRejects(
        () => model.buildPrompt({ ids: [1, 3, 5] }),
        InputError,
      )).message,
      /no image was given/,
    );
    assertMatch(
      (await assertRejects(
        () => model.buildPrompt({ ids: [1, 5], image: new Float32Array(768) }),
        InputError,
      )).message,
      /no image placeholder/,
    );
    assertMatch(
      (await assertRejects(
        () => model.buildPrompt({ ids: [3, 3], image: new Float32Array(768) }),
        InputError,
      )).message,
      /2 image placeholders/,
    );
    assertMatch(
      (await assertRejects(
        () => model.buildPrompt({ text: "hello" }),
        InputError,
      )).message,
      /no tokenizer/,
    );
  } finally {
    await model.close();
  }
  const llama = makeTinyLlama();
  const text = await loadModel({ spec: llama.spec, tensors: llama.store }, { cacheDir: false });
  try {
    assertMatch(
      (await assertRejects(
        () => text.encodeImage(new Float32Array(3)),
        InputError,
      )).message,
      /no vision tower/,
    );
  } finally {
    await text.close();
  }
});
