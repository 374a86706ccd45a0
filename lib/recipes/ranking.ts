/**
 * Small deterministic helpers shared by recipe parts: top-k over a range of scores, sorted index
 * sets, and integer apportionment of a total over layers.
 *
 * @module
 */

/**
 * Indices in `[from, to)` of the `k` highest `scores`, returned in increasing index order.
 * Ties go to the lower index, so the result is deterministic. This is a true top-k (the
 * Elastic Cache baseline code's `where(argsort(score) > forget)` is not; see paper.md §2).
 */
export function topK(scores: ArrayLike<number>, from: number, to: number, k: number): number[] {
  const n = Math.max(0, to - from);
  if (k <= 0) return [];
  const idx = Array.from({ length: n }, (_, i) => from + i);
  if (k >= n) return idx;
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, k).sort((a, b) => a - b);
}

/** Index of the lowest score in `[from, to)`; ties go to the lower index; -1 when empty. */
export function argMin(scores: ArrayLike<number>, from: number, to: number): number {
  let best = -1;
  for (let i = from; i < to; i++) if (best < 0 || scores[i] < scores[best]) best = i;
  return best;
}

/** A sorted `Int32Array` of the distinct values in `parts`. */
export function sortedUnion(...parts: ArrayLike<number>[]): Int32Array {
  const set = new Set<number>();
  for (const p of parts) for (let i = 0; i < p.length; i++) set.add(p[i]);
  return Int32Array.from([...set].sort((a, b) => a - b));
}

/** `[from, to)` as an array. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/**
 * Integer counts near the real `quotas`, each in `[lo, hi]`, summing exactly to `total`
 * (which must lie in `[L·lo, L·hi]`). Starts from the clamped, floored quotas, then adds one to
 * the layer furthest below its quota (or removes one from the layer furthest above it) until the
 * total is met; ties go to the lower layer.
 */
export function apportion(
  quotas: ArrayLike<number>,
  total: number,
  lo: number,
  hi: number,
): Int32Array {
  const layers = quotas.length;
  if (total < layers * lo || total > layers * hi) {
    throw new Error(`apportion: total ${total} outside [${layers * lo}, ${layers * hi}]`);
  }
  const counts = new Int32Array(layers);
  let sum = 0;
  for (let l = 0; l < layers; l++) {
    counts[l] = Math.min(hi, Math.max(lo, Math.floor(quotas[l])));
    sum += counts[l];
  }
  while (sum !== total) {
    const grow = sum < total;
    let pick = -1;
    let best = -Infinity;
    for (let l = 0; l < layers; l++) {
      if (grow ? counts[l] >= hi : counts[l] <= lo) continue;
      const gap = grow ? quotas[l] - counts[l] : counts[l] - quotas[l];
      if (gap > best) {
        best = gap;
        pick = l;
      }
    }
    counts[pick] += grow ? 1 : -1;
    sum += grow ? 1 : -1;
  }
  return counts;
}
