/**
 * PyramidKV's allocation (KVCache-Factory `PyramidKVCluster`): per-layer budgets decreasing
 * arithmetically with depth, from `max = 2C − min` in the first layer to `min = C/β` in the last,
 * where C is the mean budget per layer (β = 20 by default). Adapted to a kept fraction: C = r·N
 * and no observation window is set aside (the paper's ablation pairs it with PrefixKV's
 * selection, which protects the sink and the last token instead). When `max` would exceed N
 * it is capped at N and `min = 2C − N`, as the original caps at the prompt length.
 *
 * @module
 */
import { InputError } from "../../errors.ts";
import type { Allocation } from "../recipe.ts";
import { apportion } from "../ranking.ts";

/** Real-valued pyramid quotas per layer for a mean budget `mean` (entries per layer). */
export function pyramidQuotas(
  mean: number,
  promptLength: number,
  numLayers: number,
  beta: number,
): number[] {
  let min = mean / beta;
  let max = 2 * mean - min;
  if (max > promptLength) {
    max = promptLength;
    min = 2 * mean - promptLength;
  }
  if (numLayers === 1) return [mean];
  const step = (max - min) / (numLayers - 1);
  return Array.from({ length: numLayers }, (_, l) => max - l * step);
}

/** PyramidKV allocation with slope parameter `beta` (default 20). */
export function pyramidAllocation(beta = 20): Allocation {
  if (!Number.isFinite(beta) || beta < 1) {
    throw new InputError(`pyramid: --beta must be a number ≥ 1, got ${beta}`);
  }
  return {
    name: `pyramid(β=${beta})`,
    uniform: false,
    needsScores: false,
    allocate({ promptLength, numLayers, fraction, minKeep }) {
      const quotas = pyramidQuotas(fraction * promptLength, promptLength, numLayers, beta);
      const total = targetTotal(fraction, promptLength, numLayers, minKeep);
      return { kept: apportion(quotas, total, minKeep, promptLength) };
    },
  };
}

/** round(r·N·L), clamped to what per-layer bounds `[minKeep, N]` allow. */
export function targetTotal(
  fraction: number,
  promptLength: number,
  numLayers: number,
  minKeep: number,
): number {
  const t = Math.round(fraction * promptLength * numLayers);
  return Math.min(promptLength * numLayers, Math.max(minKeep * numLayers, t));
}
