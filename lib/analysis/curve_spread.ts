/**
 * How alike sampled curves are: {@link curveSpread} measures, at each point, how far the curves
 * of several samples lie from their mean. Small spreads of the prefix priority curves across
 * samples are PrefixKV's case for calibrating the per-layer budgets offline.
 *
 * @example
 * ```ts
 * import { curveSpread } from "./curve_spread.ts";
 * const s = curveSpread([[0, 0.5, 1], [0, 0.7, 1]]);
 * console.log(s.maxAbs); // 0.1
 * ```
 *
 * @module
 */

/** Spread of a set of curves sampled at the same points. */
export interface CurveSpread {
  /** The pointwise mean curve. */
  mean: number[];
  /** Largest |curve − mean| over all curves and points. */
  maxAbs: number;
  /** Mean over points of the pointwise population standard deviation. */
  meanStd: number;
}

/** Pointwise mean, largest deviation and mean standard deviation of `curves`. */
export function curveSpread(curves: readonly (readonly number[])[]): CurveSpread {
  if (curves.length === 0) throw new Error("curveSpread: give at least one curve");
  const points = curves[0].length;
  if (curves.some((c) => c.length !== points)) {
    throw new Error(
      `curveSpread: every curve needs the same points; got lengths ${curves.map((c) => c.length)}`,
    );
  }
  const mean = Array.from(
    { length: points },
    (_, i) => curves.reduce((s, c) => s + c[i], 0) / curves.length,
  );
  let maxAbs = 0;
  let stdSum = 0;
  for (let i = 0; i < points; i++) {
    let variance = 0;
    for (const c of curves) {
      const d = c[i] - mean[i];
      maxAbs = Math.max(maxAbs, Math.abs(d));
      variance += d * d;
    }
    stdSum += Math.sqrt(variance / curves.length);
  }
  return { mean, maxAbs, meanStd: stdSum / points };
}
