/**
 * Per-layer statistics of KV importance: prefix cumulative priority curves, Lorenz curves, Gini
 * coefficients and image/text shares (digest §1.3, §4.4). Everything returned by
 * {@link analyzeImportance} is plain JSON. What PrefixKV keeps at a budget is analysed above the
 * search, in `lib/analysis/kept.ts`.
 *
 * Integration rule: curves are the piecewise-linear interpolation of the points (k/N, P(k/N)),
 * k = 0..N, and integrals use the trapezoid rule on them. Then Gini = 2∫P − 1 = 1 − 2∫Lorenz
 * equals the standard discrete Gini Σ_i Σ_j |x_i − x_j| / (2 N Σx) exactly: 0 for uniform
 * scores and (N − 1)/N for one-hot scores.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { checkLimit, LIMITS } from "../limits.ts";
import { cumulativePriority, prefixCurve } from "./priority.ts";
import { checkImportance, checkSpan, type Span } from "./validate.ts";

/**
 * Gini coefficient from a prefix curve (length N + 1, P(0) = 0): 2∫P − 1 with the trapezoid
 * rule on the N + 1 points.
 */
export function giniFromCurve(curve: ArrayLike<number>): number {
  const n = curve.length - 1;
  let area = 0;
  for (let k = 1; k <= n; k++) area += (curve[k - 1] + curve[k]) / 2;
  return (2 * area) / n - 1;
}

/**
 * Standard discrete Gini coefficient, Σ_i (2i − N − 1)·x_(i) / (N·Σx) with x sorted ascending
 * (i 1-based), equal to the mean absolute difference over twice the mean.
 */
export function giniCoefficient(scores: ArrayLike<number>): number {
  const x = Float64Array.from(scores).sort();
  const n = x.length;
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    total += x[i];
    weighted += (2 * (i + 1) - n - 1) * x[i];
  }
  return weighted / (n * total);
}

/**
 * Lorenz curve at every count: entry k (0..N) is the share of importance held by the k least
 * important positions. Lz(k/N) = 1 − P((N − k)/N).
 */
export function lorenzCurve(scores: ArrayLike<number>): Float64Array {
  const p = prefixCurve(scores);
  const n = p.length - 1;
  return Float64Array.from({ length: n + 1 }, (_, k) => k === 0 ? 0 : 1 - p[n - k]);
}

/**
 * Samples a curve given at x = k/N (k = 0..N) at `points` evenly spaced x in [0, 1], by linear
 * interpolation.
 */
export function sampleCurve(curve: ArrayLike<number>, points: number): number[] {
  const n = curve.length - 1;
  return Array.from({ length: points }, (_, i) => {
    const x = points === 1 ? 1 : (i / (points - 1)) * n;
    const k = Math.min(n - 1, Math.floor(x));
    const t = x - k;
    return n === 0 ? curve[0] : curve[k] * (1 - t) + curve[k + 1] * t;
  });
}

/** Share of a layer's importance mass that lies in `span`. */
export function spanShare(scores: ArrayLike<number>, span: Span): number {
  let inside = 0;
  let total = 0;
  for (let i = 0; i < scores.length; i++) {
    total += scores[i];
    if (i >= span.start && i < span.end) inside += scores[i];
  }
  return inside / total;
}

/** Options of {@link analyzeImportance}. */
export interface AnalyzeOptions {
  /** Image-token span; enables the image/text shares. */
  imageSpan?: Span;
  /** Points of the sampled curves, evenly spaced in [0, 1] (default 101). */
  points?: number;
}

/** Analysis of one layer. */
export interface LayerAnalysis {
  /** Layer index, 0-based. */
  layer: number;
  /** 2∫P − 1 with the trapezoid rule. */
  gini: number;
  /** The standard pairwise-difference Gini (equal to `gini` up to rounding). */
  giniStandard: number;
  /** P(o) at the sampled o (see {@link ImportanceAnalysis.o}). */
  prefixCurve: number[];
  /** Lorenz curve at the same sampled x. */
  lorenz: number[];
  /** Top-5 normalised priorities (the head of the priority sequence). */
  topPriorities: number[];
  /** With an image span: share of importance mass on image / text tokens. */
  imageShare?: number;
  /** Share of importance mass on text tokens (`1 − imageShare`). */
  textShare?: number;
}

/** Result of {@link analyzeImportance}: JSON-ready. */
export interface ImportanceAnalysis {
  /** Number of layers analysed. */
  numLayers: number;
  /** Prompt length N. */
  promptLength: number;
  /** The image-token span, or null without one. */
  imageSpan: Span | null;
  /** Sample points in [0, 1] of every curve. */
  o: number[];
  /** One analysis per layer. */
  layers: LayerAnalysis[];
}

/**
 * Per-layer curves, Gini coefficients and modality shares of one sample's importances.
 *
 * @example A concentrated layer and a uniform one
 * ```ts
 * import { analyzeImportance } from "@prefixkv/prefixkv";
 * const concentrated = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125];
 * const uniform = [1, 1, 1, 1, 1, 1, 1, 1];
 * const { layers } = analyzeImportance([concentrated, uniform], {
 *   imageSpan: { start: 2, end: 6 },
 *   points: 5,
 * });
 * console.log(layers.map((l) => l.gini)); // [0.626953125, 0]
 * console.log(layers[0].prefixCurve); // [0, 0.75, 0.9375, 0.984375, 1]
 * console.log(layers[0].imageShare); // 0.234375
 * ```
 *
 * @throws InputError for bad scores, an image span outside [0, N], or fewer than 2 points
 */
export function analyzeImportance(
  importance: ArrayLike<ArrayLike<number>>,
  options: AnalyzeOptions = {},
): ImportanceAnalysis {
  const { numLayers, promptLength: n } = checkImportance(importance);
  const points = options.points ?? 101;
  if (!Number.isInteger(points) || points < 2) {
    throw new InputError(`points must be an integer ≥ 2; got ${points}`);
  }
  checkLimit("points", points, LIMITS.curvePoints);
  const span = options.imageSpan ?? null;
  if (span) checkSpan(span, n);
  const o = Array.from({ length: points }, (_, i) => i / (points - 1));
  const layers = Array.from({ length: numLayers }, (_, l): LayerAnalysis => {
    const scores = importance[l];
    const curve = prefixCurve(scores);
    const cum = cumulativePriority(scores);
    const layer: LayerAnalysis = {
      layer: l,
      gini: giniFromCurve(curve),
      giniStandard: giniCoefficient(scores),
      prefixCurve: sampleCurve(curve, points),
      lorenz: sampleCurve(lorenzCurve(scores), points),
      topPriorities: Array.from(cum.subarray(0, 5), (c, i) => i === 0 ? c : c - cum[i - 1]),
    };
    if (span) {
      layer.imageShare = spanShare(scores, span);
      layer.textShare = 1 - layer.imageShare;
    }
    return layer;
  });
  return { numLayers, promptLength: n, imageSpan: span, o, layers };
}
