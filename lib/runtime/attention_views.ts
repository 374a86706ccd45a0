/**
 * Attention data as `ndarray` views, so a notebook can slice it without copying: each layer's
 * head-averaged attention as a `[queries, keys]` view over the runtime's own buffer
 * ({@link attentionViews}), every head's as a `[heads, queries, keys]` view
 * ({@link headAttentionViews}), and the per-layer importance stacked into one `[layers, positions]`
 * array ({@link stackImportance}) whose rows are the per-layer vectors themselves.
 *
 * @example Slice a layer's attention and the importance of one position across layers
 * ```ts
 * import { attentionViews, stackImportance } from "@prefixkv/prefixkv";
 * // Two layers of a 3-entry prompt, row-major [query, key], rows summing to 1 (causal).
 * const attention = [
 *   Float32Array.of(1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5),
 *   Float32Array.of(1, 0, 0, 0.9, 0.1, 0, 0.6, 0.2, 0.2),
 * ];
 * const [l0] = attentionViews(attention, 3);
 * console.log(l0.get(2, 1), l0.pick(2, null).shape); // 0.3… [3] (query 2's row, no copy)
 * const { stacked } = stackImportance([[1.7, 0.8, 0.5], [2.5, 0.3, 0.2]]);
 * console.log(stacked.shape, stacked.pick(null, 0).get(1)); // [2, 3] 2.5
 * ```
 *
 * @module
 */
// @deno-types="@types/ndarray"
import ndarray from "ndarray";
import { InputError } from "../errors.ts";

/**
 * A float32 view made by `npm:ndarray` (its interface, as far as this toolkit promises it): the
 * slicing methods return new views over the same memory and copy nothing.
 */
export interface Float32NdArray {
  /** The buffer viewed. */
  readonly data: Float32Array;
  /** Size of each dimension. */
  readonly shape: number[];
  /** Step in `data` along each dimension. */
  readonly stride: number[];
  /** Index in `data` of the first entry. */
  readonly offset: number;
  /** Number of entries viewed. */
  readonly size: number;
  /** Number of dimensions. */
  readonly dimension: number;
  /** The entry at an index (one number per dimension). */
  get(...index: number[]): number;
  /** Writes the last argument at the index given by the others; returns it. */
  set(...indexAndValue: number[]): number;
  /** Position in `data` of an index. */
  index(...index: number[]): number;
  /** The view starting at an index (the lower corner). */
  lo(...index: number[]): Float32NdArray;
  /** The view ending before an index (the upper corner). */
  hi(...index: number[]): Float32NdArray;
  /** Every `n`-th entry along each dimension (negative: reversed). */
  step(...n: number[]): Float32NdArray;
  /** The dimensions reordered. */
  transpose(...axes: number[]): Float32NdArray;
  /** Fixes the dimensions given a number and keeps those given `null`. */
  pick(...index: (number | null)[]): Float32NdArray;
  /** The view with its dimensions reversed. */
  readonly T: Float32NdArray;
}

/**
 * Per-layer `[queries, keys]` views over row-major `[N, N]` attention matrices (what
 * `Model.prefill` returns with `attention: "matrices"` for one sequence). The views share the
 * matrices' memory.
 *
 * @throws InputError when a matrix does not hold N × N values
 */
export function attentionViews(attention: readonly Float32Array[], n: number): Float32NdArray[] {
  return attention.map((matrix, layer) => {
    if (matrix.length !== n * n) {
      throw new InputError(
        `attention of layer ${layer} has ${matrix.length} values, not N × N = ${n} × ${n}; ` +
          `pass one sequence's matrices and its prompt length`,
      );
    }
    return ndarray(matrix, [n, n]);
  });
}

/**
 * Per-layer `[heads, queries, keys]` views over row-major `[heads, N, N]` per-head attention
 * (what `Model.prefill` returns as `headAttention` with `attention: "headMatrices"` for one
 * sequence). The views share the matrices' memory; `view.pick(h, null, null)` is head h's
 * `[queries, keys]` matrix.
 *
 * @example Head 1's attention from query 2 to key 0, and its whole row
 * ```ts
 * import { headAttentionViews } from "@prefixkv/prefixkv";
 * // One layer, two heads, a 2-entry prompt: head 0 then head 1, each [query, key].
 * const heads = [Float32Array.of(1, 0, 0.5, 0.5, 1, 0, 0.9, 0.1)];
 * const [l0] = headAttentionViews(heads, 2);
 * console.log(l0.shape, l0.get(1, 1, 0), l0.pick(1, 1, null).shape); // [2, 2, 2] 0.9… [2]
 * ```
 *
 * @throws InputError when a layer does not hold heads × N × N values
 */
export function headAttentionViews(
  headAttention: readonly Float32Array[],
  n: number,
): Float32NdArray[] {
  return headAttention.map((matrices, layer) => {
    const heads = n > 0 ? matrices.length / (n * n) : 0;
    if (!Number.isInteger(heads) || heads < 1) {
      throw new InputError(
        `per-head attention of layer ${layer} has ${matrices.length} values, not heads × N × N ` +
          `for N = ${n}; pass one sequence's matrices and its prompt length`,
      );
    }
    return ndarray(matrices, [heads, n, n]);
  });
}

/** Per-layer importance in one buffer: the `[layers, positions]` view and its rows. */
export interface StackedImportance {
  /** `[layers, positions]` over one contiguous buffer. */
  stacked: Float32NdArray;
  /** Row `l` of `stacked` as a plain vector (a subarray: the same memory). */
  layers: Float32Array[];
}

/**
 * Copies per-layer importance vectors (all of length N) into one `[layers, positions]` array;
 * the returned rows are subarrays of it, so both forms share one buffer.
 *
 * @throws InputError when there are no layers or the layers differ in length
 */
export function stackImportance(importance: readonly ArrayLike<number>[]): StackedImportance {
  const numLayers = importance.length;
  const n = importance[0]?.length ?? 0;
  if (numLayers === 0) throw new InputError("importance: expected one vector per layer, got none");
  const data = new Float32Array(numLayers * n);
  const layers = importance.map((row, l) => {
    if (row.length !== n) {
      throw new InputError(
        `importance: layer ${l} has ${row.length} positions but layer 0 has ${n}`,
      );
    }
    const view = data.subarray(l * n, (l + 1) * n);
    view.set(row);
    return view;
  });
  return { stacked: ndarray(data, [numLayers, n]), layers };
}
