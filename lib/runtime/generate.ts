/**
 * Greedy decoding with a KV retention policy.
 *
 * The prompt is prefilled (with the attention outputs the policy needs); the first new token is
 * the argmax of the prefill's last logits, taken before the policy compresses the cache. Then
 * `policy.afterPrefill` runs, and each step feeds the last token, appends its entries, calls
 * `policy.afterStep`, and takes the argmax. An end-of-sequence token stops generation (and is
 * kept in `ids`).
 *
 * Position ids of fed tokens: `absolute` uses the true index N + t − 1; `paper` uses layer 0's
 * current cache length, as LLaVA/HF 4.31 do after eviction (trap 7 of the paper digest: with a
 * compressed cache this is smaller than the true index). Cache entries always record the true
 * index, so policies see real positions either way.
 *
 * Every layer gets room for the tokens to come at prefill (`reserve`); after the policy's
 * prefill compaction the cache is refitted to its kept entries plus that room, so decode steps
 * append in place and never copy a layer.
 *
 * {@link generateBatch} decodes equal-length prompts together (the paper's latency protocol):
 * one batched prefill, then per-sample policies on {@link KvCache.sample} views (each sample
 * keeps its own entries; a layer must keep the same count in every sample, as an offline
 * config or a fixed-ratio allocation does), then batched steps. Its ids equal per-sample
 * {@link generate} runs.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { type CachePolicy, keepAll, widestPrefillNeeds } from "./cache_policy.ts";
import type { KvCache } from "./kv_cache.ts";
import type { Model, Prompt } from "./model.ts";

/** How fed tokens get their RoPE positions. */
export type PositionMode = "absolute" | "paper";

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** Maximum number of tokens to generate (at least 1). */
  maxNewTokens: number;
  /** KV retention policy (default {@link keepAll}). */
  policy?: CachePolicy;
  /** Position ids of decoded tokens (default `"absolute"`). */
  positionMode?: PositionMode;
  /** Stop after an end-of-sequence token (default true). */
  stopAtEos?: boolean;
  /** End-of-sequence ids (default: the model spec's `eosTokenIds`). */
  eosTokenIds?: readonly number[];
}

/** What {@link generate} returns. */
export interface GenerateResult {
  /** Generated ids only (the prompt excluded), including a final EOS when one stopped it. */
  ids: number[];
  /** Text of `ids`, special tokens dropped (`""` without a tokenizer). */
  text: string;
  /** N, the prompt length after image expansion. */
  promptLength: number;
  /** True when an end-of-sequence token ended generation. */
  stoppedAtEos: boolean;
  /** Wall-clock timings of the run. */
  timings: GenerateTimings;
  /** Per-layer cache lengths at the end. */
  cacheLengths: number[];
  /** Bytes held by the cache buffers at the end. */
  bytesHeld: number;
  /** How decoded tokens got their positions. */
  positionMode: PositionMode;
}

/** Wall-clock timings of a (batched) generation. */
export interface GenerateTimings {
  /** Prefill forward pass, milliseconds. */
  prefillMs: number;
  /** `policy.afterPrefill` (every sample's) and the refit of the cache, milliseconds. */
  policyPrefillMs: number;
  /** Mean per decode step (forward, append, `policy.afterStep`), milliseconds; 0 without steps. */
  decodeMsPerToken: number;
  /** Of `decodeMsPerToken`, the mean milliseconds inside onnxruntime (the rest is JavaScript). */
  decodeRunMsPerToken: number;
  /** Decode steps run (one fewer than `ids.length`: the first token comes from prefill). */
  decodeSteps: number;
}

/** Options of {@link generateBatch}: those of {@link generate}, with a policy per sample. */
export interface GenerateBatchOptions extends Omit<GenerateOptions, "policy"> {
  /** One KV retention policy per prompt (default {@link keepAll} for every one). */
  policies?: readonly CachePolicy[];
}

/** What {@link generateBatch} returns. */
export interface GenerateBatchResult {
  /** Per sample: its generated ids (up to and including its EOS), text and whether EOS ended it. */
  samples: { ids: number[]; text: string; stoppedAtEos: boolean }[];
  /** N, every prompt's length. */
  promptLength: number;
  /** Timings of the batch (a step decodes one token of every sample). */
  timings: GenerateTimings;
  /** Per-layer cache lengths at the end (the same in every sample). */
  cacheLengths: number[];
  /** Bytes held by the entries of the whole batch at the end. */
  bytesHeld: number;
  /** Bytes of the whole batch's buffers at the end, spare capacity included. */
  bytesAllocated: number;
  /** How decoded tokens got their positions. */
  positionMode: PositionMode;
  /** The batch's cache at the end (what each sample kept: `cache.sample(b)`). */
  cache: KvCache;
}

/** Index of the largest value of `v` (first one on ties). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/**
 * Greedy decoding of `prompt` on `model`; see the module documentation.
 *
 * @example Answer under a 30 % PrefixKV budget, and see what the cache holds
 * ```ts
 * import { BUNDLED_MODEL_DIR, chatPrompt, createRecipe, generate } from "@prefixkv/prefixkv";
 * import { loadModel } from "@prefixkv/prefixkv";
 * const model = await loadModel(BUNDLED_MODEL_DIR);
 * const prompt = await chatPrompt(model, { question: "How many objects?", image: "scene.png" });
 * const out = await generate(model, prompt, {
 *   maxNewTokens: 16,
 *   policy: createRecipe("prefixkv").policy({ fraction: 0.3 }),
 * });
 * console.log(out.text, out.cacheLengths, out.bytesHeld);
 * ```
 */
export async function generate(
  model: Model,
  prompt: Prompt,
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const out = await generateBatch(model, [prompt], {
    ...opts,
    policies: [opts.policy ?? keepAll],
  });
  const [sample] = out.samples;
  return {
    ids: sample.ids,
    text: sample.text,
    promptLength: out.promptLength,
    stoppedAtEos: sample.stoppedAtEos,
    timings: out.timings,
    cacheLengths: out.cacheLengths,
    bytesHeld: out.bytesHeld,
    positionMode: out.positionMode,
  };
}

/** Greedy decoding of equal-length `prompts` as one batch; see the module documentation. */
export async function generateBatch(
  model: Model,
  prompts: readonly Prompt[],
  opts: GenerateBatchOptions,
): Promise<GenerateBatchResult> {
  const { maxNewTokens } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
    throw new InputError(`maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  }
  const B = prompts.length;
  if (B === 0) throw new InputError(`generateBatch needs at least one prompt`);
  const N = prompts[0].length;
  const unequal = prompts.findIndex((p) => p.length !== N);
  if (unequal >= 0) {
    throw new InputError(
      `batched prompts must have equal lengths: prompt 0 has ${N} positions, prompt ${unequal} ` +
        `has ${prompts[unequal].length}; pad or group prompts by length`,
    );
  }
  const policies = opts.policies ?? prompts.map(() => keepAll);
  if (policies.length !== B) {
    throw new InputError(`${policies.length} policies for ${B} prompts; give one per prompt`);
  }
  const positionMode = opts.positionMode ?? "absolute";
  if (positionMode !== "absolute" && positionMode !== "paper") {
    throw new InputError(`positionMode must be "absolute" or "paper", got "${positionMode}"`);
  }
  const stopAtEos = opts.stopAtEos ?? true;
  const eos = new Set(opts.eosTokenIds ?? model.spec.eosTokenIds);
  const V = model.vocabSize;
  const prefillNeeds = widestPrefillNeeds(policies.map((p) => p.needs.prefill));
  const stepNeeds = policies.some((p) => p.needs.step);

  // Load the graphs first so that timings measure computation only.
  await model.prepare(prefillNeeds, "last");
  await model.prepare(stepNeeds ? "importance" : "none", "last", true);
  const embeds = B === 1 ? prompts[0].embeds : concat(prompts.map((p) => p.embeds));
  const spare = maxNewTokens - 1;
  const t0 = performance.now();
  const pre = await model.prefill(embeds, {
    attention: prefillNeeds,
    positionStart: 0,
    logits: "last",
    batch: B,
    reserve: spare,
  });
  const prefillMs = performance.now() - t0;
  const cache = pre.cache;
  const views = B === 1 ? [cache] : prompts.map((_, b) => cache.sample(b));
  const ids = prompts.map((_, b) => [argmax(pre.logits.subarray(b * V, (b + 1) * V))]);

  const t1 = performance.now();
  policies.forEach((policy, b) =>
    policy.afterPrefill(views[b], {
      promptLength: N,
      importance: pre.importance && rowsOf(pre.importance, B, b),
      attention: pre.attention && rowsOf(pre.attention, B, b),
      headAttention: pre.headAttention && rowsOf(pre.headAttention, B, b),
      imageSpan: prompts[b].imageSpan,
    })
  );
  cache.fit(spare); // release what the policies dropped; keep room for the tokens to come
  const policyPrefillMs = performance.now() - t1;

  const stopped = ids.map((s) => stopAtEos && eos.has(s[0]));
  const t2 = performance.now();
  let steps = 0;
  let runMs = 0;
  while (!stopped.every(Boolean) && steps + 1 < maxNewTokens) {
    const step = steps + 1; // 1-based index of the token fed now
    const truePosition = N + step - 1;
    const position = positionMode === "absolute" ? truePosition : cache.length(0);
    // A sample that has stopped keeps feeding its last token; its outputs are dropped.
    const fed = ids.map((s) => s[s.length - 1]);
    const out = await model.step(B === 1 ? fed[0] : fed, cache, position, {
      attention: stepNeeds,
      cachePosition: truePosition,
    });
    runMs += out.runMs;
    policies.forEach((policy, b) =>
      policy.afterStep(views[b], {
        step,
        tokensSeen: N + step,
        importance: out.importance && rowsOf(out.importance, B, b),
      })
    );
    for (let b = 0; b < B; b++) {
      if (stopped[b]) continue;
      const next = argmax(out.logits.subarray(b * V, (b + 1) * V));
      ids[b].push(next);
      stopped[b] = stopAtEos && eos.has(next);
    }
    steps++;
  }
  const decodeMs = performance.now() - t2;

  return {
    samples: ids.map((s, b) => ({ ids: s, text: model.decode(s), stoppedAtEos: stopped[b] })),
    promptLength: N,
    timings: {
      prefillMs,
      policyPrefillMs,
      decodeMsPerToken: steps > 0 ? decodeMs / steps : 0,
      decodeRunMsPerToken: steps > 0 ? runMs / steps : 0,
      decodeSteps: steps,
    },
    cacheLengths: cache.lengths(),
    bytesHeld: cache.bytesHeld(),
    bytesAllocated: cache.bytesAllocated(),
    positionMode,
    cache,
  };
}

/** Sample `b`'s rows of each layer's `[batch, …]` output (views, no copy). */
function rowsOf(perLayer: Float32Array[], batch: number, b: number): Float32Array[] {
  if (batch === 1) return perLayer;
  return perLayer.map((x) => {
    const n = x.length / batch;
    return x.subarray(b * n, (b + 1) * n);
  });
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
