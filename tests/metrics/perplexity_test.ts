import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { InputError } from "../../lib/errors.ts";
import {
  answerTokenIds,
  perplexity,
  teacherForcedNll,
  type TeacherForcingModel,
  tokenNll,
} from "../../lib/metrics/perplexity.ts";
import { createRecipe } from "../../lib/recipes/registry.ts";
import type { CachePolicy } from "../../lib/runtime/cache_policy.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import { loadModel, type Prompt } from "../../lib/runtime/model.ts";

Deno.test("tokenNll and perplexity by hand", () => {
  // softmax([0, ln 3]) = [1/4, 3/4]
  assertAlmostEquals(tokenNll([0, Math.log(3)], 1), -Math.log(3 / 4), 1e-15);
  assertAlmostEquals(tokenNll([1000, 1000 + Math.log(3)], 0), -Math.log(1 / 4), 1e-12);
  // Micro-average: 3 tokens weigh equally, whatever sample they belong to.
  assertAlmostEquals(perplexity([[1, 2], [3]]), Math.exp(2), 1e-12);
  assertThrows(() => perplexity([[], []]), InputError);
  assertThrows(() => tokenNll([0, 1], 2), InputError, "outside the vocabulary");
});

/**
 * A hand-made model over a 3-token vocabulary: the prefill's last logits are fixed, and a step
 * fed token t at RoPE position q returns logits that put log-weight q on token t's successor.
 * Every call is logged so the order of prefill, compression and steps can be checked.
 */
function scriptedModel(log: string[]): TeacherForcingModel {
  const shape = { numLayers: 1, numKvHeads: 1, headDim: 1 };
  return {
    vocabSize: 3,
    prepare: () => Promise.resolve(),
    prefill: (embeds: Float32Array) => {
      log.push("prefill");
      const cache = new KvCache(shape);
      const n = embeds.length;
      cache.append(
        0,
        new Float32Array(n),
        new Float32Array(n),
        Array.from({ length: n }, (_, i) => i),
      );
      return Promise.resolve({
        logits: new Float32Array([0, Math.log(3), 0]),
        logitRows: 1,
        cache,
      });
    },
    step: (token: number, cache: KvCache, position: number, opts?: { cachePosition?: number }) => {
      log.push(`step ${token} @${position} cache ${cache.length(0)}`);
      cache.append(0, new Float32Array(1), new Float32Array(1), [opts?.cachePosition ?? position]);
      const logits = new Float32Array(3);
      logits[(token + 1) % 3] = position;
      return Promise.resolve({ logits });
    },
  } as unknown as TeacherForcingModel;
}

/** Keeps the first two entries after prefill and evicts the oldest after every step. */
function loggingPolicy(log: string[]): CachePolicy {
  return {
    needs: { prefill: "none", step: false },
    afterPrefill(cache) {
      log.push("compress");
      cache.keep(0, [0, 1]);
    },
    afterStep(cache, info) {
      log.push(`evict after step ${info.step} (seen ${info.tokensSeen})`);
      cache.evict(0, 0);
    },
  };
}

const PROMPT: Prompt = { embeds: new Float32Array(4), ids: [0, 0, 0, 0], length: 4 };

Deno.test("teacherForcedNll: token 0 from the prefill, then compress, feed truth, evict", async () => {
  const log: string[] = [];
  const r = await teacherForcedNll(scriptedModel(log), PROMPT, [1, 2, 0], {
    policy: loggingPolicy(log),
  });
  assertEquals(log, [
    "prefill",
    "compress",
    "step 1 @4 cache 2", // ground-truth token 0 at true position N + 0
    "evict after step 1 (seen 5)",
    "step 2 @5 cache 2",
    "evict after step 2 (seen 6)",
  ]);
  // Token 0 (id 1) from the prefill logits [0, ln3, 0]: p = 3/5.
  assertAlmostEquals(r.nll[0], -Math.log(3 / 5), 1e-6); // ln 3 is stored as float32
  // Step fed 1 at position 4 puts logit 4 on token 2 (the truth): p = e^4 / (e^4 + 2).
  assertAlmostEquals(r.nll[1], -Math.log(Math.exp(4) / (Math.exp(4) + 2)), 1e-6);
  // Step fed 2 at position 5 puts logit 5 on token 0 (the truth).
  assertAlmostEquals(r.nll[2], -Math.log(Math.exp(5) / (Math.exp(5) + 2)), 1e-6);
  assertEquals(r.promptLength, 4);
  assertEquals(r.cache.length(0), 2);
});

Deno.test("teacherForcedNll: paper positions are layer 0's cache length", async () => {
  const log: string[] = [];
  const r = await teacherForcedNll(scriptedModel(log), PROMPT, [1, 2, 0], {
    policy: loggingPolicy(log),
    positionMode: "paper",
  });
  assertEquals(log.filter((l) => l.startsWith("step")), ["step 1 @2 cache 2", "step 2 @2 cache 2"]);
  assertAlmostEquals(r.nll[1], -Math.log(Math.exp(2) / (Math.exp(2) + 2)), 1e-6);
  await assertRejects(
    () => teacherForcedNll(scriptedModel([]), PROMPT, [], {}),
    InputError,
    "at least one answer token",
  );
});

Deno.test("bundled model: full-cache teacher forcing equals one prefill over prompt + answer", async () => {
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
  try {
    const prompt = await chatPrompt(model, {
      question: "Describe the image in detail.",
      image: BUNDLED_EXAMPLE_IMAGE,
    });
    const answer = answerTokenIds(model, "There is one object. A small red circle is at the top.");
    assert(answer[0] !== model.source.tokenizer!.bosTokenId, "no BOS");
    const full = await teacherForcedNll(model, prompt, answer);
    // Independent path: embed prompt + answer and read every row's logits from one prefill.
    const embeds = new Float32Array(prompt.embeds.length + answer.length * model.hiddenSize);
    embeds.set(prompt.embeds);
    embeds.set(model.embedTokens(answer), prompt.embeds.length);
    const V = model.vocabSize;
    const pre = await model.prefill(embeds, { logits: "all" });
    answer.forEach((id, i) => {
      const row = pre.logits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
      assertAlmostEquals(full.nll[i], tokenNll(row, id), 1e-4, `token ${i}`);
    });
    // Under a 20 % PrefixKV cache the first token is still scored before compression.
    const policy = createRecipe("prefixkv").policy({ fraction: 0.2 });
    const small = await teacherForcedNll(model, prompt, answer, { policy });
    assertAlmostEquals(small.nll[0], full.nll[0], 1e-5);
    assert(small.cache.entriesHeld() < full.cache.entriesHeld());
    assert(small.nll.some((x, i) => Math.abs(x - full.nll[i]) > 1e-3), "compression changes NLL");
  } finally {
    await model.close();
  }
});
