/**
 * Test oracle: PrefixKV written as one straight {@link CachePolicy}, the way the reference code
 * does it (offline config or online search, then top-importance selection, then fixed-distance
 * decoding), with none of the recipe machinery. The `prefixkv` recipe must behave exactly like
 * it (tests/recipes/prefixkv_test.ts); it is not part of the library.
 *
 * @module
 */
import { InputError } from "../../lib/errors.ts";
import type { CachePolicy, PrefillInfo, StepInfo } from "../../lib/runtime/cache_policy.ts";
import type { KvCache } from "../../lib/runtime/kv_cache.ts";
import { checkImportance } from "../../lib/importance/validate.ts";
import { checkBudget, evictRatioOf } from "../../lib/prefix/budget.ts";
import { checkLayerCount, evictCountsFromRatios } from "../../lib/prefix/config.ts";
import { DEFAULT_DISTANCE, FixedDistanceEviction } from "../../lib/prefix/fixed_distance.ts";
import { prefixSearch } from "../../lib/prefix/search.ts";
import { selectKept } from "../../lib/prefix/select.ts";
import { CONFIG_BUDGET_SLACK } from "../../lib/recipes/allocation/offline_config.ts";

/** Where the per-layer eviction counts come from. */
export type PrefixKvMode =
  | { kind: "offline"; evictRatios: ArrayLike<number> }
  | { kind: "online" };

/** Options of {@link prefixKvPolicy}. */
export interface PrefixKvPolicyOptions {
  /** Fraction of the KV kept, in (0, 1]. Offline: must match the config's mean within 0.02. */
  budget: number;
  /** Offline: the config's per-layer eviction ratios. Online: search on each prompt. */
  mode: PrefixKvMode;
  /** Leading positions always kept (default 1). */
  startSize?: number;
  /** Decode eviction offset (default −25; > 0 = absolute index). */
  distance?: number;
  /** Online search tolerance in tokens over all layers (default 5). */
  tolerance?: number;
  /** Online search iteration cap (default 100). */
  maxIterations?: number;
}

/** What the policy decided at the last prefill (for experiments and reports). */
export interface PrefixKvDecision {
  /** `online`: searched on this prompt; `offline`: from a calibrated config. */
  mode: "offline" | "online";
  /** Prompt length N. */
  promptLength: number;
  /** Entries evicted per layer at prefill. */
  evict: number[];
  /** Entries kept per layer at prefill (K_l). */
  kept: number[];
  /** ρ_l per layer that decoding maintains. */
  evictRatios: number[];
  /** Online only: the retained-information threshold and search diagnostics. */
  p: number | null;
  /** Online only: bisection steps taken. */
  iterations: number | null;
  /** Online only: whether the search reached its tolerance. */
  converged: boolean | null;
  /** Per-layer cache index the decode eviction deletes at. */
  decodeIndices: number[];
}

/** The PrefixKV cache policy, with read access to its last decisions. */
export interface PrefixKvPolicy extends CachePolicy {
  /** Decision of the last prefill, or null before the first. */
  readonly decision: PrefixKvDecision | null;
  /** Entries evicted per layer by decoding since the last prefill. */
  readonly decodeEvicted: readonly number[];
}

/**
 * Builds the PrefixKV policy. Needs the prefill importance (`needs.prefill = "importance"`)
 * and no decode attention. One policy serves one sequence at a time; each prefill resets it.
 *
 * @throws InputError for a bad budget, or an offline config whose mean ratio does not fit the
 *   budget (catches passing the `_0.2` config, i.e. keep 80%, for a 20% budget)
 */
export function prefixKvPolicy(options: PrefixKvPolicyOptions): PrefixKvPolicy {
  const { budget, mode, startSize = 1, distance = DEFAULT_DISTANCE } = options;
  checkBudget(budget);
  let offlineRatios: number[] | null = null;
  if (mode.kind === "offline") {
    offlineRatios = Array.from(mode.evictRatios);
    if (offlineRatios.length === 0) throw new InputError("offline PrefixKV config has no layers");
    const mean = offlineRatios.reduce((s, r) => s + r, 0) / offlineRatios.length;
    const expected = evictRatioOf(budget);
    if (Math.abs(mean - expected) > CONFIG_BUDGET_SLACK) {
      throw new InputError(
        `offline PrefixKV config evicts ${mean.toFixed(4)} on average, but budget ${budget} ` +
          `keeps ${budget} (evicts ${expected}); load the config named for ratio ${expected}`,
      );
    }
  }

  let decision: PrefixKvDecision | null = null;
  let eviction: FixedDistanceEviction | null = null;

  return {
    needs: { prefill: "importance", step: false },
    get decision() {
      return decision;
    },
    get decodeEvicted() {
      return eviction ? eviction.evicted : [];
    },
    afterPrefill(cache: KvCache, info: PrefillInfo) {
      const n = info.promptLength;
      const importance = info.importance;
      if (!importance) {
        throw new InputError("PrefixKV needs the prefill importance; the runtime gave none");
      }
      const shape = checkImportance(importance, "prefill importance");
      if (shape.numLayers !== cache.numLayers || shape.promptLength !== n) {
        throw new InputError(
          `prefill importance is ${shape.numLayers} layers × ${shape.promptLength} positions, ` +
            `expected ${cache.numLayers} × ${n}`,
        );
      }
      cache.lengths().forEach((len, l) => {
        if (len !== n) {
          throw new InputError(`layer ${l} holds ${len} entries after prefill, expected N = ${n}`);
        }
      });
      let evict: number[];
      let ratios: number[];
      let p: number | null = null;
      let iterations: number | null = null;
      let converged: boolean | null = null;
      if (offlineRatios) {
        checkLayerCount(offlineRatios, cache.numLayers, "offline PrefixKV config");
        evict = evictCountsFromRatios(offlineRatios, n, startSize);
        ratios = offlineRatios;
      } else {
        const found = prefixSearch(importance, {
          budget,
          startSize,
          tolerance: options.tolerance,
          maxIterations: options.maxIterations,
        });
        evict = found.evict;
        ratios = found.evictRatios;
        ({ p, iterations, converged } = found);
      }
      for (let l = 0; l < cache.numLayers; l++) {
        if (evict[l] > 0) cache.keep(l, selectKept(importance[l], evict[l], startSize));
      }
      const kept = evict.map((e) => n - e);
      eviction = new FixedDistanceEviction(ratios, kept, distance);
      decision = {
        mode: mode.kind,
        promptLength: n,
        evict,
        kept,
        evictRatios: ratios,
        p,
        iterations,
        converged,
        decodeIndices: [...eviction.indices],
      };
    },
    afterStep(cache: KvCache, info: StepInfo) {
      if (!eviction) throw new Error("PrefixKV: afterStep called before afterPrefill");
      eviction.step(cache, info.tokensSeen);
    },
  };
}
