/**
 * A {@link CachePolicy} wrapper that records what the cache looked like right after the
 * policy's prefill step (lengths, entries, bytes) and the prefill importance it was given, for
 * reports: the runtime hands back only the final cache.
 *
 * @module
 */
import type { AttentionNeeds, CachePolicy, PrefillInfo, StepInfo } from "./cache_policy.ts";
import type { KvCache } from "./kv_cache.ts";

/** The cache right after a policy's prefill step. */
export interface PrefillSnapshot {
  /** Prompt length N. */
  promptLength: number;
  /** Per-layer cache lengths after the policy ran. */
  lengths: number[];
  /** Entries held over all layers. */
  entriesHeld: number;
  /** Bytes held by the cache buffers. */
  bytesHeld: number;
  /** The prefill importance the policy received (when it asked for one). */
  importance?: Float32Array[];
  /** Half-open range `[start, end)` of the image-feature positions, when present. */
  imageSpan?: { start: number; end: number };
}

/** Delegates to `inner` and records {@link PrefillSnapshot} and the decode steps seen. */
export class ObservedPolicy implements CachePolicy {
  /** Set by the last prefill. */
  afterPrefillSnapshot?: PrefillSnapshot;
  /** Decode steps seen since the last prefill. */
  steps: number = 0;

  /** Wraps `inner`, which does the actual work. */
  constructor(readonly inner: CachePolicy) {}

  /** The wrapped policy's needs. */
  get needs(): AttentionNeeds {
    return this.inner.needs;
  }

  afterPrefill(cache: KvCache, info: PrefillInfo): void {
    this.inner.afterPrefill(cache, info);
    this.steps = 0;
    this.afterPrefillSnapshot = {
      promptLength: info.promptLength,
      lengths: cache.lengths(),
      entriesHeld: cache.entriesHeld(),
      bytesHeld: cache.bytesHeld(),
      importance: info.importance,
      imageSpan: info.imageSpan,
    };
  }

  afterStep(cache: KvCache, info: StepInfo): void {
    this.inner.afterStep(cache, info);
    this.steps++;
  }
}
