/**
 * A Linear projection `x · Wᵀ` with its weight held as the graph's weight format asks: float32
 * (`Gemm`), or block-quantized int8 / int4 codes with per-block scales run by onnxruntime's
 * `MatMulNBits` (com.microsoft, block 32). A quantized graph holds no float32 copy of the weight.
 *
 * Accuracy level (how activations are computed) per format, from what is fast on onnxruntime
 * 1.30's CPU kernels (4096 × 4096, one row, 2 threads, measured here): int4 runs at level 1,
 * float32 activations, 11.5 ms (level 4: 4.2 ms); int8 has a fast kernel only at level 4, int8
 * activations, 3.9 ms (level 1: 275 ms). So int4 multiplies by exactly the dequantized weight,
 * while int8 also rounds the activations to 8 bits per block.
 *
 * @module
 */

import {
  type BlockQuantized,
  formatBits,
  quantizeBlockwise,
  type WeightFormat,
} from "../checkpoint/quantize.ts";
import { linear } from "./layers.ts";
import type { GraphBuilder, TensorParts } from "./onnx_builder.ts";

/** Columns per quantization block. */
export const QUANT_BLOCK_SIZE = 32;
/** `MatMulNBits` accuracy level per format: 1 = float32 activations, 4 = int8 activations. */
export const QUANT_ACCURACY_LEVEL: Readonly<Record<"int8" | "int4", number>> = {
  int8: 4,
  int4: 1,
};

/**
 * `x [T, k] · Wᵀ` for the row-major `[n, k]` weight `values`, stored under `name` in `format`.
 * `values` may be row blocks made on demand ({@link TensorParts}, e.g. q, k and v of a fused
 * projection): each block is quantized on its own when the graph is written — blocks run along
 * rows, so the codes and scales are those of the stacked weight — and only one block's float32
 * values exist at a time.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "./onnx_builder.ts";
 * import { projection } from "./projection.ts";
 * const g = new GraphBuilder("demo");
 * const x = g.input("x", "float32", ["T", 64]);
 * g.output(projection(g, x, "w", [16, 64], new Float32Array(16 * 64), "int4"), "float32", ["T", 16]);
 * ```
 */
export function projection(
  g: GraphBuilder,
  x: string,
  name: string,
  [n, k]: readonly [number, number],
  values: Float32Array | TensorParts,
  format: WeightFormat,
): string {
  if (format === "f32") return linear(g, x, g.weight(name, [n, k], values));
  const bits = formatBits(format);
  const blocks = (Array.isArray(values) ? values : [() => values]) as TensorParts;
  // Each block's quantization serves its codes part, then its scales part (written later).
  const quantized = blocks.map((make) => {
    let q: BlockQuantized | null = null;
    const get = () => {
      const w = make();
      if (!(w instanceof Float32Array) || w.length % k !== 0) {
        throw new Error(
          `projection ${name}: a block of ${w.length} values is not whole rows of ${k} floats`,
        );
      }
      return quantizeBlockwise(w, w.length / k, k, bits, QUANT_BLOCK_SIZE);
    };
    return {
      codes: () => (q ??= get()).codes,
      scales: () => {
        const scales = (q ?? get()).scales;
        q = null;
        return scales;
      },
    };
  });
  const blocksPerRow = Math.ceil(k / QUANT_BLOCK_SIZE);
  const codes = g.initializer(
    `${name}.codes`,
    "uint8",
    [n, blocksPerRow, (QUANT_BLOCK_SIZE * bits) / 8],
    quantized.map((b) => b.codes),
  );
  const scales = g.weight(`${name}.scales`, [n * blocksPerRow], quantized.map((b) => b.scales));
  return g.op("MatMulNBits", [x, codes, scales], {
    K: k,
    N: n,
    bits,
    block_size: QUANT_BLOCK_SIZE,
    accuracy_level: QUANT_ACCURACY_LEVEL[format],
  }, { domain: "com.microsoft" });
}
