/**
 * Per-layer KV importance from prefill attention (PrefixKV's score, digest §1.2).
 *
 * The reference score of position n in layer l is the head-averaged attention summed over all
 * prompt queries, I_l(n) = Σ_m mean_h A^{l,h}[m, n]. Two optional variants for studies:
 * - an observation window: only the last `window` queries vote (SnapKV-style);
 * - causal-count normalisation: divide each column by the number of queries that can see it
 *   (N − n with all queries, N − max(n, N − window) with a window), removing the bias towards
 *   early positions that causal masking gives the plain sum.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { checkImportance } from "./validate.ts";

/** How the importance was computed. */
export interface ImportanceOptions {
  /** Only the last `window` queries vote (1 ≤ window; ≥ N means all). Default: all queries. */
  window?: number;
  /** Divide each column by the number of queries that can attend to it. Default false. */
  causalNormalize?: boolean;
}

/** Per-layer importance of one prompt, with how it was obtained. */
export interface LayerImportance {
  /** Per layer, one score per prompt position. */
  scores: Float64Array[];
  /** Number of layers (length of `scores`). */
  numLayers: number;
  /** Prompt length N (length of each score vector). */
  promptLength: number;
  /** Number of voting queries, or null for all of them (the reference). */
  window: number | null;
  /** Whether each column was divided by the number of queries that can attend to it. */
  causalNormalized: boolean;
}

/**
 * Averages per-head attention `[H, N, N]` (row-major, row = query) into `[N, N]`. With GQA,
 * pass the query heads: the reference averages after `repeat_kv`.
 */
export function averageHeads(
  perHead: ArrayLike<number>,
  numHeads: number,
  n: number,
): Float64Array {
  if (perHead.length !== numHeads * n * n) {
    throw new InputError(
      `averageHeads: expected ${numHeads}×${n}×${n} = ${
        numHeads * n * n
      } values, got ${perHead.length}`,
    );
  }
  const out = new Float64Array(n * n);
  for (let h = 0; h < numHeads; h++) {
    const base = h * n * n;
    for (let i = 0; i < n * n; i++) out[i] += perHead[base + i];
  }
  for (let i = 0; i < n * n; i++) out[i] /= numHeads;
  return out;
}

/**
 * Column sums of a head-averaged attention matrix `[N, N]` (row = query) over the voting
 * queries: all rows, or the last `window` rows.
 */
export function columnSums(attention: ArrayLike<number>, n: number, window?: number): Float64Array {
  if (attention.length !== n * n) {
    throw new InputError(`attention matrix must have ${n}×${n} values, got ${attention.length}`);
  }
  const first = n - votingQueries(n, window);
  const out = new Float64Array(n);
  for (let m = first; m < n; m++) {
    const row = m * n;
    for (let j = 0; j < n; j++) out[j] += attention[row + j];
  }
  return out;
}

/**
 * How many voting queries can see each position under causal masking:
 * column n gets N − max(n, N − w) with w voting queries (w = N for all of them).
 */
export function causalCounts(n: number, window?: number): Float64Array {
  const first = n - votingQueries(n, window);
  return Float64Array.from({ length: n }, (_, j) => n - Math.max(j, first));
}

/** Scores divided by {@link causalCounts} (a new array). */
export function normalizeByCausalCount(scores: ArrayLike<number>, window?: number): Float64Array {
  const counts = causalCounts(scores.length, window);
  return Float64Array.from(scores, (s, j) => s / counts[j]);
}

/**
 * Importance of every layer from head-averaged prefill attention matrices.
 *
 * @param attention per layer, `[N, N]` row-major (row = query), heads already averaged
 * @param n prompt length N
 */
export function importanceFromAttention(
  attention: ArrayLike<ArrayLike<number>>,
  n: number,
  options: ImportanceOptions = {},
): LayerImportance {
  if (!Number.isInteger(n) || n < 1) {
    throw new InputError(`prompt length must be a positive integer; got ${n}`);
  }
  if (attention.length === 0) throw new InputError("attention: no layers");
  const scores = Array.from(attention, (a) => columnSums(a, n, options.window));
  return finish(scores, options);
}

/**
 * Wraps the runtime's importance vectors (all-query column sums, `PrefillInfo.importance`),
 * optionally with causal-count normalisation. A window needs the matrices; use
 * {@link importanceFromAttention} for that.
 */
export function importanceFromVectors(
  vectors: ArrayLike<ArrayLike<number>>,
  options: { causalNormalize?: boolean } = {},
): LayerImportance {
  return finish(Array.from(vectors, (v) => Float64Array.from(v)), options);
}

function finish(scores: Float64Array[], options: ImportanceOptions): LayerImportance {
  const { numLayers, promptLength } = checkImportance(scores);
  const window = options.window === undefined || options.window >= promptLength
    ? null
    : options.window;
  const causalNormalized = options.causalNormalize ?? false;
  return {
    scores: causalNormalized
      ? scores.map((s) => normalizeByCausalCount(s, window ?? undefined))
      : scores,
    numLayers,
    promptLength,
    window,
    causalNormalized,
  };
}

function votingQueries(n: number, window?: number): number {
  if (window === undefined) return n;
  if (!Number.isInteger(window) || window < 1) {
    throw new InputError(`observation window must be a positive integer; got ${window}`);
  }
  return Math.min(window, n);
}
