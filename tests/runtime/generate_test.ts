import { assert, assertEquals, assertRejects } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import type { CachePolicy, PrefillInfo, StepInfo } from "../../lib/runtime/cache_policy.ts";
import { argmax, generate, type PositionMode } from "../../lib/runtime/generate.ts";
import type { KvCache } from "../../lib/runtime/kv_cache.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import { makeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { type RefCache, referenceLlama } from "../reference/llama_reference.ts";

const ck = makeTinyLlama({ heads: 4, kvHeads: 2, layers: 3, vocabSize: 48 });
const PROMPT = [1, 7, 19, 23, 5, 11, 30, 2, 14];

async function withModel(fn: (m: Model) => Promise<void>, spec = ck.spec): Promise<void> {
  const model = await loadModel({ spec, tensors: ck.store }, { cacheDir: false });
  try {
    await fn(model);
  } finally {
    await model.close();
  }
}

/** Greedy decoding with the reference; `compress` mirrors the policy's prefill keep. */
function referenceGreedy(
  steps: number,
  mode: PositionMode,
  compress: (c: RefCache) => void = () => {},
): number[] {
  const ref = referenceLlama(ck.spec.text, ck.store);
  const cache = ref.newCache();
  const V = ck.spec.text.vocabSize;
  const pre = ref.forward(ref.embed(PROMPT), PROMPT.map((_, i) => i), cache);
  const ids = [argmax(pre.logits.subarray((PROMPT.length - 1) * V))];
  compress(cache);
  while (ids.length < steps) {
    const truePos = PROMPT.length + ids.length - 1;
    const pos = mode === "absolute" ? truePos : cache.length(0);
    ids.push(argmax(ref.forward(ref.embed([ids[ids.length - 1]]), [pos], cache).logits));
  }
  return ids;
}

/** Keeps entries {0, 1, last} of layer 0 and {0, last 3} of layer 2 after prefill. */
const KEEPS: [number, (n: number) => number[]][] = [
  [0, (n) => [0, 1, n - 1]],
  [2, (n) => [0, n - 3, n - 2, n - 1]],
];
const compressing: CachePolicy = {
  needs: { prefill: "none", step: false },
  afterPrefill(cache: KvCache, info: PrefillInfo) {
    for (const [l, idx] of KEEPS) cache.keep(l, idx(info.promptLength));
  },
  afterStep() {},
};
const compressRef = (c: RefCache) => {
  for (const [l, idx] of KEEPS) c.keep(l, idx(PROMPT.length));
};

Deno.test("generate: keepAll greedy decoding equals the reference and is deterministic", () =>
  withModel(async (model) => {
    const prompt = await model.buildPrompt({ ids: PROMPT });
    const a = await generate(model, prompt, { maxNewTokens: 12, stopAtEos: false });
    const b = await generate(model, prompt, { maxNewTokens: 12, stopAtEos: false });
    assertEquals(a.ids, referenceGreedy(12, "absolute"));
    assertEquals(b.ids, a.ids);
    assertEquals(a.promptLength, PROMPT.length);
    assertEquals(a.timings.decodeSteps, 11);
    // The last token is generated, not fed: the cache holds N + 11 entries per layer.
    assertEquals(a.cacheLengths, [20, 20, 20]);
    assert(a.bytesHeld >= 3 * 20 * 2 * ck.spec.text.numKvHeads * ck.spec.text.headDim * 4);
    assert(a.timings.prefillMs >= 0 && a.timings.decodeMsPerToken >= 0);
    assertEquals(a.positionMode, "absolute");
  }));

for (const mode of ["absolute", "paper"] as const) {
  Deno.test(`generate: ${mode} positions after compression follow the reference`, () =>
    withModel(async (model) => {
      const positions: number[] = [];
      const spy = new Proxy(model, {
        get(target, key) {
          if (key === "step") {
            return (...args: Parameters<Model["step"]>) => {
              positions.push(args[2]);
              return target.step(...args);
            };
          }
          const v = Reflect.get(target, key, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
      const cachePositions: number[] = [];
      const policy: CachePolicy = {
        ...compressing,
        afterStep(cache: KvCache) {
          cachePositions.push(cache.positions(0).at(-1)!);
        },
      };
      const prompt = await model.buildPrompt({ ids: PROMPT });
      const out = await generate(spy, prompt, {
        maxNewTokens: 8,
        policy,
        positionMode: mode,
        stopAtEos: false,
      });
      assertEquals(out.ids, referenceGreedy(8, mode, compressRef));
      const N = PROMPT.length;
      // Layer 0 holds 3 prompt entries, so paper positions start at 3, true ones at N.
      const expected = Array.from({ length: 7 }, (_, t) => (mode === "absolute" ? N + t : 3 + t));
      assertEquals(positions, expected);
      // The cache records true positions either way.
      assertEquals(cachePositions, Array.from({ length: 7 }, (_, t) => N + t));
      assertEquals(out.cacheLengths, [3 + 7, N + 7, 4 + 7]);
      assertEquals(out.positionMode, mode);
    }));
}

Deno.test("generate: the first token comes from the uncompressed prefill", () =>
  withModel(async (model) => {
    const dropAll: CachePolicy = {
      needs: { prefill: "none", step: false },
      afterPrefill(cache: KvCache) {
        for (let l = 0; l < cache.numLayers; l++) cache.keep(l, [cache.length(l) - 1]);
      },
      afterStep() {},
    };
    const full = await generate(model, await model.buildPrompt({ ids: PROMPT }), {
      maxNewTokens: 1,
    });
    const dropped = await generate(model, await model.buildPrompt({ ids: PROMPT }), {
      maxNewTokens: 1,
      policy: dropAll,
    });
    assertEquals(dropped.ids, full.ids);
    assertEquals(dropped.cacheLengths, [1, 1, 1]);
  }));

Deno.test("generate: an end-of-sequence token stops generation and is kept", async () => {
  const free = referenceGreedy(10, "absolute");
  const eos = free[4];
  const stopAt = free.indexOf(eos);
  // The spec's EOS ids are the default.
  await withModel(async (model) => {
    const out = await generate(model, await model.buildPrompt({ ids: PROMPT }), {
      maxNewTokens: 10,
    });
    assertEquals(out.ids, free.slice(0, stopAt + 1));
    assertEquals(out.stoppedAtEos, true);
    assertEquals(out.timings.decodeSteps, stopAt);
    const off = await generate(model, await model.buildPrompt({ ids: PROMPT }), {
      maxNewTokens: 10,
      stopAtEos: false,
    });
    assertEquals(off.ids, free);
    assertEquals(off.stoppedAtEos, false);
  }, { ...ck.spec, eosTokenIds: [eos] });
});

Deno.test("generate: the policy sees prefill attention, image span and every step", () =>
  withModel(async (model) => {
    const N = PROMPT.length;
    const prefills: PrefillInfo[] = [];
    const steps: StepInfo[] = [];
    const lengths: number[][] = [];
    const policy: CachePolicy = {
      needs: { prefill: "matrices", step: true },
      afterPrefill(_c, info) {
        prefills.push(info);
      },
      afterStep(cache, info) {
        steps.push(info);
        lengths.push(cache.lengths());
      },
    };
    const prompt = {
      ...(await model.buildPrompt({ ids: PROMPT })),
      imageSpan: { start: 2, end: 5 },
    };
    await generate(model, prompt, { maxNewTokens: 4, policy, stopAtEos: false });
    assertEquals(prefills.length, 1);
    const info = prefills[0];
    assertEquals(info.promptLength, N);
    assertEquals(info.imageSpan, { start: 2, end: 5 });
    assertEquals(info.importance!.map((v) => v.length), [N, N, N]);
    assertEquals(info.attention!.map((v) => v.length), [N * N, N * N, N * N]);
    assertEquals(steps.map((s) => [s.step, s.tokensSeen]), [[1, N + 1], [2, N + 2], [3, N + 3]]);
    steps.forEach((s, i) => {
      assertEquals(s.importance!.map((v) => v.length), lengths[i]);
      for (const v of s.importance!) assert(Math.abs(v.reduce((a, b) => a + b, 0) - 1) <= 1e-5);
    });
  }));

Deno.test("generate: bad options are InputErrors", () =>
  withModel(async (model) => {
    const prompt = await model.buildPrompt({ ids: PROMPT });
    await assertRejects(() => generate(model, prompt, { maxNewTokens: 0 }), InputError);
    await assertRejects(
      () => generate(model, prompt, { maxNewTokens: 2, positionMode: "relative" as PositionMode }),
      InputError,
    );
  }));
