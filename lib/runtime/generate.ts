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
 * @module
 */
import { InputError } from "../errors.ts";
import { type CachePolicy, keepAll } from "./cache_policy.ts";
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
  timings: {
    /** Prefill forward pass, milliseconds. */
    prefillMs: number;
    /** `policy.afterPrefill`, milliseconds. */
    policyPrefillMs: number;
    /** Mean per decode step (forward, append, `policy.afterStep`), milliseconds; 0 without steps. */
    decodeMsPerToken: number;
    /** Decode steps run (one fewer than `ids.length`: the first token comes from prefill). */
    decodeSteps: number;
  };
  /** Per-layer cache lengths at the end. */
  cacheLengths: number[];
  /** Bytes held by the cache buffers at the end. */
  bytesHeld: number;
  /** How decoded tokens got their positions. */
  positionMode: PositionMode;
}

/** Index of the largest value of `v` (first one on ties). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Greedy decoding of `prompt` on `model`; see the module documentation. */
export async function generate(
  model: Model,
  prompt: Prompt,
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const { maxNewTokens } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
    throw new InputError(`maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  }
  const policy = opts.policy ?? keepAll;
  const positionMode = opts.positionMode ?? "absolute";
  if (positionMode !== "absolute" && positionMode !== "paper") {
    throw new InputError(`positionMode must be "absolute" or "paper", got "${positionMode}"`);
  }
  const stopAtEos = opts.stopAtEos ?? true;
  const eos = new Set(opts.eosTokenIds ?? model.spec.eosTokenIds);
  const V = model.vocabSize;
  const N = prompt.length;

  // Load the graphs first so that timings measure computation only.
  await model.prepare(policy.needs.prefill, "last");
  await model.prepare(policy.needs.step ? "importance" : "none", "last", true);
  const t0 = performance.now();
  const pre = await model.prefill(prompt.embeds, {
    attention: policy.needs.prefill,
    positionStart: 0,
    logits: "last",
  });
  const prefillMs = performance.now() - t0;
  const cache = pre.cache;
  const ids = [argmax(pre.logits.subarray(pre.logits.length - V))];

  const t1 = performance.now();
  policy.afterPrefill(cache, {
    promptLength: N,
    importance: pre.importance,
    attention: pre.attention,
    imageSpan: prompt.imageSpan,
  });
  const policyPrefillMs = performance.now() - t1;

  let stoppedAtEos = stopAtEos && eos.has(ids[0]);
  const t2 = performance.now();
  let steps = 0;
  while (!stoppedAtEos && ids.length < maxNewTokens) {
    const step = ids.length; // 1-based index of the token fed now
    const truePosition = N + step - 1;
    const position = positionMode === "absolute" ? truePosition : cache.length(0);
    const out = await model.step(ids[ids.length - 1], cache, position, {
      attention: policy.needs.step,
      cachePosition: truePosition,
    });
    policy.afterStep(cache, { step, tokensSeen: N + step, importance: out.importance });
    const next = argmax(out.logits);
    ids.push(next);
    steps++;
    stoppedAtEos = stopAtEos && eos.has(next);
  }
  const decodeMs = performance.now() - t2;

  return {
    ids,
    text: model.decode(ids),
    promptLength: N,
    stoppedAtEos,
    timings: {
      prefillMs,
      policyPrefillMs,
      decodeMsPerToken: steps > 0 ? decodeMs / steps : 0,
      decodeSteps: steps,
    },
    cacheLengths: cache.lengths(),
    bytesHeld: cache.bytesHeld(),
    positionMode,
  };
}
