/**
 * PrefixKV's offline allocation: a calibrated config (the reference's file format, per-layer
 * eviction fractions ρ_l) applied to the current prompt: layer l evicts round(ρ_l·N) entries,
 * and decoding maintains ρ_l (paper.md §1.6). The config must fit the budget: its mean eviction
 * must be within 0.02 of 1 − budget (catches loading the `_0.2` file for a 20% budget). Its
 * source and ratios travel in the `prefixkv` decision section.
 *
 * @module
 */
import { InputError } from "../../errors.ts";
import { checkLayerCount, evictCountsFromRatios } from "../../prefix/config.ts";
import type { Allocation } from "../recipe.ts";
import type { PrefixKvDecision } from "./prefix_search.ts";

/** Largest allowed gap between a config's mean eviction and 1 − budget. */
export const CONFIG_BUDGET_SLACK = 0.02;

/** The budget (kept fraction) an offline config stands for: 1 − mean ρ_l. */
export function configBudget(evictRatios: ArrayLike<number>): number {
  const r = Array.from(evictRatios);
  return Number((1 - r.reduce((s, x) => s + x, 0) / r.length).toPrecision(12));
}

/** Allocation from offline per-layer eviction ratios. */
export function offlineConfigAllocation(
  evictRatios: ArrayLike<number>,
  startSize = 1,
  source = "PrefixKV config",
): Allocation {
  const ratios = Array.from(evictRatios);
  if (ratios.length === 0) throw new InputError(`${source}: no layers`);
  ratios.forEach((r, l) => {
    if (!(r >= 0 && r <= 1)) {
      throw new InputError(`${source}: layer ${l} eviction ratio ${r} is outside [0, 1]`);
    }
  });
  const budgetOfConfig = configBudget(ratios);
  return {
    name: "offline-config",
    uniform: false,
    needsScores: false,
    calibratedFraction: budgetOfConfig,
    allocate({ promptLength, numLayers, fraction }) {
      checkLayerCount(ratios, numLayers, source);
      if (Math.abs(budgetOfConfig - fraction) > CONFIG_BUDGET_SLACK) {
        throw new InputError(
          `${source} keeps ${budgetOfConfig.toFixed(4)} on average but the budget is ` +
            `${fraction}; use the config calibrated for this budget (reference file names ` +
            `carry the evicted fraction 1 − budget)`,
        );
      }
      const evict = evictCountsFromRatios(ratios, promptLength, startSize);
      const kept = evict.map((e) => promptLength - e);
      const prefixkv: PrefixKvDecision = {
        mode: "offline",
        p: null,
        iterations: null,
        converged: null,
        kept,
        configEvictRatios: [...ratios],
        source,
      };
      return {
        kept: Int32Array.from(kept),
        evictRatios: ratios,
        sections: { prefixkv: { ...prefixkv } },
      };
    },
  };
}
