/**
 * PrefixKV's decode-time eviction (reference `PrefixKV.__call__` decode branch, inherited from
 * Elastic Cache's fixed-point elimination; digest §1.7).
 *
 * Each layer remembers one cache index, K_l + distance (K_l = entries kept at prefill,
 * distance −25 by default; K_l // 2 when that is < 1; a positive distance is an absolute
 * index). After every decode step, with T = prompt length + tokens fed so far, a layer whose
 * length exceeds its share, `trunc(len_l − T·(1 − ρ_l)) > 0`, loses the entry at that index.
 * At most one entry per layer per step, so each layer's size tracks (1 − ρ_l)·T and the cache
 * behaves as a fixed block followed by a FIFO window; the newest entries are never evicted.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** The part of {@link KvCache} this policy needs (a structural type keeps tests light). */
export interface EvictableCache {
  /** Number of layers. */
  readonly numLayers: number;
  /** Entries currently held by `layer`. */
  length(layer: number): number;
  /** Removes the entry at `index` of `layer`. */
  evict(layer: number, index: number): void;
}

/** The reference's default offset from the end of the kept prompt. */
export const DEFAULT_DISTANCE: number = -25;

/** Fixed-distance eviction state of one sequence. */
export class FixedDistanceEviction {
  /** Per-layer eviction ratio ρ_l (fraction of all tokens seen that the layer drops). */
  readonly evictRatios: readonly number[];
  /** Per-layer cache index that is deleted whenever the layer is over its share. */
  readonly indices: readonly number[];
  /** Entries evicted so far per layer by {@link FixedDistanceEviction.step}. */
  readonly evicted: number[];

  /**
   * Sets up the per-layer eviction indices.
   *
   * @param evictRatios ρ_l per layer: the config's values (offline) or evict_l / N (online)
   * @param keptCounts K_l per layer: entries each layer kept at prefill
   * @param distance offset from K_l (≤ 0), or an absolute index (> 0); default −25
   */
  constructor(
    evictRatios: ArrayLike<number>,
    keptCounts: ArrayLike<number>,
    distance: number = DEFAULT_DISTANCE,
  ) {
    if (evictRatios.length !== keptCounts.length) {
      throw new InputError(
        `FixedDistanceEviction: ${evictRatios.length} eviction ratios but ` +
          `${keptCounts.length} kept counts; give one of each per layer`,
      );
    }
    if (!Number.isInteger(distance)) {
      throw new InputError(`distance must be an integer; got ${distance}`);
    }
    const ratios = Array.from(evictRatios);
    ratios.forEach((r, l) => {
      if (!(r >= 0 && r <= 1)) {
        throw new InputError(`eviction ratio of layer ${l} must be in [0, 1]; got ${r}`);
      }
    });
    this.evictRatios = ratios;
    this.indices = Array.from(keptCounts, (k, l) => {
      if (!Number.isInteger(k) || k < 0) {
        throw new InputError(`kept count of layer ${l} must be a non-negative integer; got ${k}`);
      }
      return fixedIndex(k, distance);
    });
    this.evicted = ratios.map(() => 0);
  }

  /**
   * Applies one decode step's eviction: call after every layer has appended the new entry.
   *
   * @param cache the sequence's cache
   * @param tokensSeen prompt length plus tokens fed so far (N + t)
   * @returns per layer, 1 if an entry was evicted this step, else 0
   */
  step(cache: EvictableCache, tokensSeen: number): number[] {
    if (cache.numLayers !== this.indices.length) {
      throw new InputError(
        `FixedDistanceEviction: cache has ${cache.numLayers} layers, the policy was set up ` +
          `for ${this.indices.length}`,
      );
    }
    return this.indices.map((index, l) => {
      const len = cache.length(l);
      // numpy `.astype(int32)` truncates toward zero; negatives mean "under budget".
      const over = Math.trunc(len - tokensSeen * (1 - this.evictRatios[l]));
      if (over <= 0 || index >= len) return 0;
      cache.evict(l, index);
      this.evicted[l]++;
      return 1;
    });
  }
}

/** The cache index a layer with `kept` prefill entries evicts at, for a given `distance`. */
export function fixedIndex(kept: number, distance: number = DEFAULT_DISTANCE): number {
  if (distance > 0) return distance;
  const index = kept + distance;
  return index >= 1 ? index : Math.floor(kept / 2);
}
