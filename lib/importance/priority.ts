/**
 * Priority sequences and prefix cumulative priority curves (PrefixKV §3, digest §1.3).
 *
 * A layer's priority sequence is its importance normalised to sum 1 and sorted in descending
 * order; keeping the top fraction o of the KV keeps a *prefix* of it. The prefix cumulative
 * priority P_l(o) is the mass of that prefix.
 *
 * @module
 */

/**
 * Positions of `scores` from most to least important. Ties are broken stably: among equal
 * scores the lower position ranks first (is kept first), so the order is deterministic.
 */
export function priorityOrder(scores: ArrayLike<number>): Int32Array {
  const order = new Int32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order;
}

/** The priority sequence: scores divided by their sum, sorted in descending order. */
export function prioritySequence(scores: ArrayLike<number>): Float64Array {
  const sorted = Float64Array.from(scores).sort().reverse();
  let total = 0;
  for (let i = 0; i < sorted.length; i++) total += scores[i];
  for (let i = 0; i < sorted.length; i++) sorted[i] /= total;
  return sorted;
}

/**
 * Running sums of the priority sequence: entry i is the mass of the top i+1 positions, the
 * last entry ≈ 1. This is the reference's `cumsum(sort_desc(I)/sum(I))` (length N), the array
 * the prefix search bisects on. It depends only on the sorted values, so ties cannot change it.
 */
export function cumulativePriority(scores: ArrayLike<number>): Float64Array {
  const cum = prioritySequence(scores);
  for (let i = 1; i < cum.length; i++) cum[i] += cum[i - 1];
  return cum;
}

/**
 * The prefix cumulative priority curve sampled at every kept count: entry k (0 ≤ k ≤ N) is
 * P(k/N), the mass of the top k positions; entry 0 is 0. Length N + 1.
 */
export function prefixCurve(scores: ArrayLike<number>): Float64Array {
  const cum = cumulativePriority(scores);
  const curve = new Float64Array(cum.length + 1);
  curve.set(cum, 1);
  return curve;
}

/**
 * First index i with `cum[i] ≥ p` (numpy/torch `searchsorted(side="left")`), or `cum.length`
 * when no entry reaches p. Keeping the top i+1 positions is the shortest prefix reaching p.
 */
export function shortestPrefixIndex(cum: ArrayLike<number>, p: number): number {
  let lo = 0;
  let hi = cum.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
