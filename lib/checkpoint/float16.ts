/**
 * Rounding float32 values to float16 without silent overflow.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";

/**
 * `values` rounded to float16 (round to nearest even, as `Float16Array` does); a finite value
 * beyond float16's range (±65504) is an error naming `what`, since it would silently become
 * infinite. Values below float16's smallest subnormal become ±0.
 *
 * @example
 * ```ts
 * import { toFloat16 } from "./float16.ts";
 * console.log([...toFloat16(Float32Array.of(1 / 3, 65504), "w")]); // [0.333251953125, 65504]
 * ```
 */
export function toFloat16(values: Float32Array, what: string): Float16Array {
  const half = new Float16Array(values);
  for (let i = 0; i < half.length; i++) {
    if (!Number.isFinite(half[i]) && Number.isFinite(values[i])) {
      throw new CheckpointError(
        `${what} holds ${values[i]} at index ${i}, beyond float16's range (±65504); ` +
          `run it in float32 (precision "float32")`,
      );
    }
  }
  return half;
}
