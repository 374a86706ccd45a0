/**
 * The contract between generation and KV retention. The runtime calls a policy after prefill
 * and after each decode step; the policy shrinks the cache through {@link KvCache}'s methods.
 * The runtime never knows which method runs, and policies never touch sessions or graphs.
 *
 * @module
 */
import type { KvCache } from "./kv_cache.ts";

/** What a policy learns from the prefill. */
export interface PrefillInfo {
  /** Prompt length N after image expansion (each layer's cache holds N entries). */
  promptLength: number;
  /**
   * Per layer, length N: head-averaged prefill attention summed over all prompt queries
   * (PrefixKV's importance). Present when the policy asked for any prefill attention.
   */
  importance?: Float32Array[];
  /**
   * Per layer, `[N, N]` row-major head-averaged attention (row = query). Present when the
   * policy asked for `"matrices"` or `"headMatrices"`.
   */
  attention?: Float32Array[];
  /**
   * Per layer, `[heads, N, N]` row-major attention of every query head (head, then query, then
   * key; the number of heads is `length / N²`); its mean over heads is `attention`. Present
   * only when the policy asked for `"headMatrices"`. It takes 4·heads·N² bytes per layer per
   * prompt (32 heads at N = 640, LLaVA-1.5-7B's size: 52 MB a layer, 1.7 GB for 32 layers).
   */
  headAttention?: Float32Array[];
  /** Half-open range `[start, end)` of the image-feature positions, when the prompt has one. */
  imageSpan?: { start: number; end: number };
}

/** What a policy learns from one decode step (one token appended to every layer). */
export interface StepInfo {
  /** 1-based index of the token just fed after the prompt. */
  step: number;
  /** Prompt length plus tokens fed so far: N + step. */
  tokensSeen: number;
  /**
   * Per layer, the new token's head-averaged attention over that layer's cache entries
   * (cache order, the new entry last). Present when the policy asked for step attention.
   */
  importance?: Float32Array[];
}

/** Which attention outputs a policy needs from the runtime. */
export interface AttentionNeeds {
  /**
   * At prefill: nothing, importance vectors, importance plus the head-averaged matrices, or all
   * of that plus every head's matrices (`headMatrices`, see {@link PrefillInfo.headAttention}).
   */
  prefill: PrefillNeeds;
  /** At each decode step: whether per-layer attention of the new token is needed. */
  step: boolean;
}

/** What a policy may ask for at prefill, from least to most (each includes the ones before). */
export type PrefillNeeds = "none" | "importance" | "matrices" | "headMatrices";

const PREFILL_NEEDS_ORDER: readonly PrefillNeeds[] = [
  "none",
  "importance",
  "matrices",
  "headMatrices",
];

/** The prefill output that serves every one of `needs` (the most inclusive; `"none"` for none). */
export function widestPrefillNeeds(needs: readonly PrefillNeeds[]): PrefillNeeds {
  return needs.reduce<PrefillNeeds>(
    (a, b) => (PREFILL_NEEDS_ORDER.indexOf(b) > PREFILL_NEEDS_ORDER.indexOf(a) ? b : a),
    "none",
  );
}

/** A KV retention policy as the runtime sees it. */
export interface CachePolicy {
  /** Attention outputs this policy needs; asking for none keeps decoding at full speed. */
  readonly needs: AttentionNeeds;
  /** Called once after prefill, before the first decode step. */
  afterPrefill(cache: KvCache, info: PrefillInfo): void;
  /** Called after each decode step has appended one entry to every layer. */
  afterStep(cache: KvCache, info: StepInfo): void;
}

/** The policy that keeps everything (full cache). */
export const keepAll: CachePolicy = {
  needs: { prefill: "none", step: false },
  afterPrefill() {},
  afterStep() {},
};
