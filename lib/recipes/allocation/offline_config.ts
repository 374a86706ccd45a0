/**
 * PrefixKV's offline allocation: a calibrated config (the reference's file format, per-layer
 * eviction fractions ρ_l) applied to the current prompt: layer l evicts round(ρ_l·N) entries,
 * and decoding maintains ρ_l (paper.md §1.6). The config must fit the budget: its mean eviction
 * must be within 0.02 of 1 − budget (catches loading the `_0.2` file for a 20% budget). Its
 * source and ratios travel in the `prefixkv` decision section.
 *
 * Every layer keeps at least the selection's `minKeep`. The reference's counts already keep
 * `startSize + 1` (PrefixKV's own selection protects exactly that, so its counts are the
 * reference's). A selection that protects more lifts the layers below its floor, and the
 * entries the lift adds are taken back from the layers above it, in proportion to how far above
 * they are, so the total stays the config's Σ_l (N − round(ρ_l·N)). Only when that total is
 * below minKeep·L does every layer keep minKeep (more than the config). Decoding maintains the
 * config's ρ_l in every layer the floor left alone and 1 − K_l/N in the layers it changed, so
 * each layer keeps its prefill share.
 *
 * @module
 */
import { InputError } from "../../errors.ts";
import { checkLayerCount, evictCountsFromRatios } from "../../prefix/config.ts";
import { apportion } from "../ranking.ts";
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
    allocate({ promptLength, numLayers, fraction, minKeep }) {
      checkLayerCount(ratios, numLayers, source);
      if (Math.abs(budgetOfConfig - fraction) > CONFIG_BUDGET_SLACK) {
        throw new InputError(
          `${source} keeps ${budgetOfConfig.toFixed(4)} on average but the budget is ` +
            `${fraction}; use the config calibrated for this budget (reference file names ` +
            `carry the evicted fraction 1 − budget)`,
        );
      }
      const evict = evictCountsFromRatios(ratios, promptLength, startSize);
      const reference = evict.map((e) => promptLength - e);
      const kept = floorAtMinKeep(reference, minKeep, promptLength);
      const moved = kept.reduce((s, k, l) => s + Math.max(0, k - reference[l]), 0);
      const prefixkv: PrefixKvDecision = {
        mode: "offline",
        p: null,
        iterations: null,
        converged: null,
        kept,
        configEvictRatios: [...ratios],
        source,
        ...(moved > 0 && { floorMoved: moved }),
      };
      return {
        kept: Int32Array.from(kept),
        evictRatios: moved > 0
          ? ratios.map((r, l) =>
            kept[l] === reference[l] ? r : (promptLength - kept[l]) / promptLength
          )
          : ratios,
        sections: { prefixkv: { ...prefixkv } },
      };
    },
  };
}

/**
 * The counts `reference` with every layer at least `minKeep`: the layers lifted to the floor
 * are paid for by the others in proportion to their slack above it, so the sum is unchanged
 * (unless it is below minKeep·L, then every layer keeps minKeep). Unchanged when no layer is
 * below the floor.
 */
function floorAtMinKeep(reference: number[], minKeep: number, n: number): number[] {
  if (reference.every((k) => k >= minKeep)) return reference;
  const layers = reference.length;
  const total = Math.max(minKeep * layers, reference.reduce((s, k) => s + k, 0));
  const slack = reference.map((k) => Math.max(0, k - minKeep));
  const slackSum = slack.reduce((s, x) => s + x, 0);
  const share = slackSum > 0 ? (total - minKeep * layers) / slackSum : 0;
  return Array.from(apportion(slack.map((x) => minKeep + x * share), total, minKeep, n));
}
