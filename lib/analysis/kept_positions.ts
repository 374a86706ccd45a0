/**
 * Which prompt positions each layer keeps under a cache policy: {@link KeptRecorder} wraps a
 * policy and copies every layer's cached positions right after its prefill step, and
 * {@link keptMask} turns those positions into a kept/evicted mask over the prompt.
 *
 * @example What a 30 % local window keeps of a 10-position prompt
 * ```ts
 * import { keptMask } from "./kept_positions.ts";
 * console.log(keptMask([7, 8, 9], 10)); // [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]
 * ```
 *
 * @module
 */
import type {
  AttentionNeeds,
  CachePolicy,
  PrefillInfo,
  StepInfo,
} from "../runtime/cache_policy.ts";
import type { KvCache } from "../runtime/kv_cache.ts";

/**
 * Delegates to `inner` and records, per layer, the original positions the cache holds right
 * after the prefill step (for merging recipes: the positions of the entries merged into).
 */
export class KeptRecorder implements CachePolicy {
  /** Per layer, the cached positions after the last prefill, ascending. */
  keptAfterPrefill: number[][] = [];
  /** Prompt length N of the last prefill. */
  promptLength = 0;

  /** Wraps `inner`, which does the actual work. */
  constructor(readonly inner: CachePolicy) {}

  /** The wrapped policy's needs. */
  get needs(): AttentionNeeds {
    return this.inner.needs;
  }

  afterPrefill(cache: KvCache, info: PrefillInfo): void {
    this.inner.afterPrefill(cache, info);
    this.promptLength = info.promptLength;
    this.keptAfterPrefill = Array.from(
      { length: cache.numLayers },
      (_, l) => Array.from(cache.positions(l)).sort((a, b) => a - b),
    );
  }

  afterStep(cache: KvCache, info: StepInfo): void {
    this.inner.afterStep(cache, info);
  }
}

/** 1 at each of `positions` (prompt positions in [0, n)), 0 elsewhere. */
export function keptMask(positions: ArrayLike<number>, n: number): number[] {
  const mask = new Array<number>(n).fill(0);
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i];
    if (!Number.isInteger(p) || p < 0 || p >= n) {
      throw new Error(`keptMask: position ${p} is outside the prompt [0, ${n})`);
    }
    mask[p] = 1;
  }
  return mask;
}
