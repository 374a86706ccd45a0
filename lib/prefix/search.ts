/**
 * Global prefix configuration by bisection on the retained-information threshold p
 * (PrefixKV's search; the reference's `obtain_cdf_num` plus the rescale in `__call__`, digest
 * §1.4).
 *
 * For a threshold p every layer keeps the shortest prefix of its priority sequence whose mass
 * reaches p; p is bisected until the evictions summed over all layers are within `tolerance`
 * tokens of the target ρ·N·L (ρ = 1 − budget). Reference details kept on purpose:
 * - The cumulative curve ranks *all* N positions (protected ones included) and the
 *   `startSize + 1` protected positions are subtracted again from the eviction count, which
 *   keeps about one extra entry per layer.
 * - Stop as soon as |E − target| < tolerance (strict), default 5 tokens over all layers.
 * - Then rescale to the target (`evict·target/ΣE`) and floor each layer.
 * Additions: an iteration cap (the reference can loop forever when ties make E jump over the
 * tolerance window), a stop when the float interval cannot be split further, and a report of
 * iterations and convergence. Without convergence the evaluated p closest to the target is
 * used (ties: the later one).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { checkImportance } from "../importance/validate.ts";
import { cumulativePriority, shortestPrefixIndex } from "../importance/priority.ts";
import { checkBudget, evictRatioOf } from "./budget.ts";
import { checkProtected } from "./select.ts";

/** The search's defaults (the reference CLI's): one sink, 5 tokens tolerance, 100 steps. */
export const PREFIX_SEARCH_DEFAULTS: {
  readonly startSize: number;
  readonly tolerance: number;
  readonly maxIterations: number;
} = { startSize: 1, tolerance: 5, maxIterations: 100 };

/** Options of {@link prefixSearch}. */
export interface PrefixSearchOptions {
  /** Fraction of the KV kept over all layers, in (0, 1]. */
  budget: number;
  /** Leading positions always kept (default 1, the reference CLI's `--start-size`). */
  startSize?: number;
  /** Stop when |evicted − target| < tolerance tokens summed over all layers (default 5). */
  tolerance?: number;
  /** Bisection steps at most (default 100). */
  maxIterations?: number;
  /**
   * Fewest entries every layer keeps (default `startSize + 1`, what the search keeps anyway).
   * A larger floor, e.g. a selection that protects a recent window, caps each layer's
   * evictions at N − minKeep while searching and rescaling, so the total still meets the
   * target within `tolerance` and no layer keeps fewer than minKeep. At or below the default
   * it changes nothing.
   */
  minKeep?: number;
  /**
   * How the per-layer counts are scaled to the target after the search: `"floor"` (default,
   * the reference: floor(E_l·target/ΣE), total ≤ target) or `"largest-remainder"` (then hands
   * the lost units to the largest fractional parts so the total is exactly round(target)).
   */
  rescale?: "floor" | "largest-remainder";
}

/** Result of {@link prefixSearch}; all arrays have one entry per layer. */
export interface PrefixSearchResult {
  /** Fraction kept that was asked for. */
  budget: number;
  /** The reference's eviction ratio ρ = 1 − budget. */
  evictRatio: number;
  /** Number of layers L. */
  numLayers: number;
  /** Prompt length N. */
  promptLength: number;
  /** Leading positions always kept. */
  startSize: number;
  /** Retained-information threshold found: each layer keeps ≥ p of its importance mass. */
  p: number;
  /** Tokens to evict over all layers, ρ·N·L (may be fractional). */
  target: number;
  /** Per-layer evictions at p, before rescaling (what the tolerance applies to). */
  evictBeforeRescale: number[];
  /** Per-layer evictions after rescale and floor: what the reference's profile mode applies. */
  evict: number[];
  /** Per-layer kept entries, N − evict. */
  keep: number[];
  /** evict / N per layer: the per-sample vector the reference logs and calibration averages. */
  evictRatios: number[];
  /** keep / N per layer. */
  keepRatios: number[];
  /** Bisection steps taken. */
  iterations: number;
  /** Whether |ΣevictBeforeRescale − target| < tolerance was reached. */
  converged: boolean;
}

/**
 * Runs PrefixKV's global prefix search on one sample's per-layer importances.
 *
 * @example A concentrated layer keeps fewer entries than a diffuse one
 * ```ts
 * import { prefixSearch } from "@prefixkv/prefixkv";
 * const found = prefixSearch([[8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125], [1, 1, 1, 1, 1, 1, 1, 1]], {
 *   budget: 0.75,
 * });
 * console.log(found.p, found.keep); // 0.5 [6, 7]
 * ```
 *
 * @param importance per layer, N non-negative scores (head-averaged attention column sums)
 * @throws InputError for a budget outside (0, 1], bad scores, N too small for the protected
 *   positions, a `minKeep` that is not an integer in [0, N], or a budget so small that even
 *   evicting every candidate cannot reach it
 */
export function prefixSearch(
  importance: ArrayLike<ArrayLike<number>>,
  options: PrefixSearchOptions,
): PrefixSearchResult {
  const {
    budget,
    startSize = PREFIX_SEARCH_DEFAULTS.startSize,
    tolerance = PREFIX_SEARCH_DEFAULTS.tolerance,
    maxIterations = PREFIX_SEARCH_DEFAULTS.maxIterations,
    rescale = "floor",
  } = options;
  checkBudget(budget);
  if (!(tolerance > 0)) throw new InputError(`tolerance must be > 0 tokens; got ${tolerance}`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new InputError(`maxIterations must be a positive integer; got ${maxIterations}`);
  }
  const { numLayers, promptLength: n } = checkImportance(importance);
  checkProtected(n, startSize);
  const minKeep = options.minKeep ?? startSize + 1;
  if (!Number.isInteger(minKeep) || minKeep < 0 || minKeep > n) {
    throw new InputError(`minKeep must be an integer in [0, ${n}]; got ${minKeep}`);
  }
  const evictRatio = evictRatioOf(budget);
  const target = n * numLayers * evictRatio;
  const floor = Math.max(minKeep, startSize + 1);
  // Evictions a layer may take: every candidate, or fewer under a larger floor.
  const candidates = n - floor;
  if (target > candidates * numLayers) {
    throw new InputError(
      `budget ${budget} keeps ${(budget * n).toFixed(1)} of ${n} entries per layer on average, ` +
        `but ${floor} positions per layer are protected; raise the budget to at least ` +
        `${(floor / n).toFixed(4)}${floor > startSize + 1 ? " or lower minKeep" : ""} ` +
        `or lower startSize`,
    );
  }

  const cums = Array.from({ length: numLayers }, (_, l) => cumulativePriority(importance[l]));
  const protect = startSize + 1;
  const evictAt = (p: number): number[] =>
    cums.map((cum) =>
      Math.min(candidates, Math.max(0, n - (shortestPrefixIndex(cum, p) + 1) - protect))
    );
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

  let lo = 0;
  let hi = 1;
  let iterations = 0;
  let converged = false;
  let bestP = 0;
  let bestErr = Infinity;
  while (lo < hi && iterations < maxIterations) {
    const mid = (lo + hi) / 2;
    iterations++;
    const total = sum(evictAt(mid));
    const err = Math.abs(total - target);
    if (err <= bestErr) {
      bestErr = err;
      bestP = mid;
    }
    if (err < tolerance) {
      converged = true;
      break;
    }
    // Too few evictions → keep less mass (lower p); too many → raise p.
    if (total < target) hi = mid;
    else lo = mid;
    const next = (lo + hi) / 2;
    if (next === lo || next === hi) break; // adjacent floats: nothing left to split
  }
  const p = bestP;
  const evictBeforeRescale = evictAt(p);
  const evict = rescaleCounts(evictBeforeRescale, target, candidates, rescale);
  const keep = evict.map((e) => n - e);
  return {
    budget,
    evictRatio,
    numLayers,
    promptLength: n,
    startSize,
    p,
    target,
    evictBeforeRescale,
    evict,
    keep,
    evictRatios: evict.map((e) => e / n),
    keepRatios: keep.map((k) => k / n),
    iterations,
    converged,
  };
}

/**
 * Scales per-layer counts so they sum to `target` and floors them (reference order of
 * operations: `E·target/ΣE`), capped at `max` per layer; with `"largest-remainder"` the units
 * lost to flooring go to the largest fractional parts (ties: lower layer) up to round(target).
 */
export function rescaleCounts(
  counts: readonly number[],
  target: number,
  max: number,
  mode: "floor" | "largest-remainder" = "floor",
): number[] {
  const total = counts.reduce((s, x) => s + x, 0);
  if (total === 0) return counts.map(() => 0);
  const exact = counts.map((c) => c * target / total);
  const out = exact.map((x) => Math.min(max, Math.trunc(x)));
  if (mode === "largest-remainder") {
    let missing = Math.round(target) - out.reduce((s, x) => s + x, 0);
    const order = exact.map((_, l) => l).sort((a, b) =>
      (exact[b] - Math.trunc(exact[b])) - (exact[a] - Math.trunc(exact[a])) || a - b
    );
    while (missing > 0) {
      let progressed = false;
      for (const l of order) {
        if (missing <= 0) break;
        if (out[l] < max) {
          out[l]++;
          missing--;
          progressed = true;
        }
      }
      if (!progressed) break;
    }
  }
  return out;
}
