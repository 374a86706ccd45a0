/**
 * Perplexity under a compressed KV cache with teacher forcing, as the PrefixKV reference
 * evaluates it (`eval_ppl.py`; paper.md §3):
 *
 * 1. prefill the prompt with the full cache and score answer token 0 from the last prefill
 *    logits (before any compression);
 * 2. let the policy compress the cache (`afterPrefill`);
 * 3. for i ≥ 1, feed ground-truth token i−1 as a one-token step, score token i from the step's
 *    logits, and let the policy evict again (`afterStep`), so decode-time eviction keeps running.
 *
 * PPL over a data set is `exp(mean NLL over all answer tokens of all samples)`: a token-level
 * micro-average ({@link perplexity}), not a mean of per-sample PPLs. The answer is tokenised on
 * its own without BOS and without EOS ({@link answerTokenIds}).
 *
 * Built on the public `Model.prefill` / `Model.step` API, with the same call order and position
 * ids as `generate`, so a recipe sees exactly what it sees while generating.
 *
 * @example
 * ```ts
 * import { perplexity } from "./perplexity.ts";
 * // Two samples' per-token NLLs (natural log): PPL = exp((1 + 2 + 3) / 3)
 * console.log(perplexity([[1, 2], [3]])); // 7.389…
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { type CachePolicy, keepAll } from "../runtime/cache_policy.ts";
import type { PositionMode } from "../runtime/generate.ts";
import type { KvCache } from "../runtime/kv_cache.ts";
import type { Model, Prompt } from "../runtime/model.ts";

/** The part of {@link Model} teacher forcing uses (tests can pass a hand-made one). */
export type TeacherForcingModel = Pick<Model, "prefill" | "step" | "prepare" | "vocabSize">;

/** Options of {@link teacherForcedNll}. */
export interface TeacherForcingOptions {
  /** KV retention policy (default: keep everything). */
  policy?: CachePolicy;
  /** RoPE positions of fed tokens, as in `generate` (default `"absolute"`). */
  positionMode?: PositionMode;
}

/** What {@link teacherForcedNll} measures for one sample. */
export interface TeacherForcedResult {
  /** Negative log-likelihood (natural log) of each answer token, in order. */
  nll: Float64Array;
  /** Prompt length N. */
  promptLength: number;
  /** The cache after the last step (for byte and length reports). */
  cache: KvCache;
  /** Prefill forward pass, milliseconds. */
  prefillMs: number;
  /** Mean per fed token (forward plus policy), milliseconds; 0 for a one-token answer. */
  stepMs: number;
}

/** `-log softmax(logits)[target]`, computed stably in double precision. */
export function tokenNll(logits: ArrayLike<number>, target: number): number {
  if (!Number.isInteger(target) || target < 0 || target >= logits.length) {
    throw new InputError(`target token ${target} is outside the vocabulary [0, ${logits.length})`);
  }
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return Math.log(sum) + max - logits[target];
}

/**
 * Token-level perplexity: `exp` of the mean of every NLL in `samples` (all tokens of all
 * samples weigh the same).
 *
 * @throws InputError when there is no token at all
 */
export function perplexity(samples: readonly ArrayLike<number>[]): number {
  let sum = 0, count = 0;
  for (const s of samples) {
    for (let i = 0; i < s.length; i++) sum += s[i];
    count += s.length;
  }
  if (count === 0) throw new InputError("perplexity needs at least one answer token");
  return Math.exp(sum / count);
}

/**
 * Token ids of a teacher-forcing target: `answer` tokenised alone, with no BOS and no EOS.
 *
 * @throws InputError when the model has no tokenizer or the answer has no token
 */
export function answerTokenIds(model: Pick<Model, "source">, answer: string): number[] {
  const tok = model.source.tokenizer;
  if (!tok) throw new InputError("teacher forcing on text needs the checkpoint's tokenizer");
  const ids = tok.encode(answer, { addSpecialTokens: false });
  const bos = tok.bosTokenId;
  const out = bos !== undefined && ids[0] === bos ? ids.slice(1) : ids;
  if (out.length === 0) throw new InputError(`the answer "${answer}" has no token`);
  return out;
}

/**
 * Per-token NLL of `answer` after `prompt` under `policy` (see the module documentation).
 *
 * @throws InputError for an empty answer or ids outside the vocabulary
 */
export async function teacherForcedNll(
  model: TeacherForcingModel,
  prompt: Prompt,
  answer: readonly number[],
  opts: TeacherForcingOptions = {},
): Promise<TeacherForcedResult> {
  if (answer.length === 0) throw new InputError("teacher forcing needs at least one answer token");
  const policy = opts.policy ?? keepAll;
  const positionMode = opts.positionMode ?? "absolute";
  if (positionMode !== "absolute" && positionMode !== "paper") {
    throw new InputError(`positionMode must be "absolute" or "paper", got "${positionMode}"`);
  }
  const V = model.vocabSize;
  const N = prompt.length;
  await model.prepare(policy.needs.prefill, "last");
  await model.prepare(policy.needs.step ? "importance" : "none", "last", true);

  const nll = new Float64Array(answer.length);
  const t0 = performance.now();
  const pre = await model.prefill(prompt.embeds, {
    attention: policy.needs.prefill,
    positionStart: 0,
    logits: "last",
  });
  const prefillMs = performance.now() - t0;
  // Token 0 is scored from the full-cache prefill logits, before the policy compresses.
  nll[0] = tokenNll(pre.logits.subarray(pre.logits.length - V), answer[0]);
  const cache = pre.cache;
  const t1 = performance.now();
  policy.afterPrefill(cache, {
    promptLength: N,
    importance: pre.importance,
    attention: pre.attention,
    headAttention: pre.headAttention,
    imageSpan: prompt.imageSpan,
  });
  for (let i = 1; i < answer.length; i++) {
    const truePosition = N + i - 1;
    const position = positionMode === "absolute" ? truePosition : cache.length(0);
    const out = await model.step(answer[i - 1], cache, position, {
      attention: policy.needs.step,
      cachePosition: truePosition,
    });
    policy.afterStep(cache, { step: i, tokensSeen: N + i, importance: out.importance });
    nll[i] = tokenNll(out.logits.subarray(0, V), answer[i]);
  }
  const stepMs = answer.length > 1 ? (performance.now() - t1) / (answer.length - 1) : 0;
  return { nll, promptLength: N, cache, prefillMs, stepMs };
}
