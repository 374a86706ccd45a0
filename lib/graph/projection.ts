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

import { formatBits, quantizeBlockwise, type WeightFormat } from "../checkpoint/quantize.ts";
import { linear } from "./layers.ts";
import type { GraphBuilder } from "./onnx_builder.ts";

/** Columns per quantization block. */
export const QUANT_BLOCK_SIZE = 32;
/** `MatMulNBits` accuracy level per format: 1 = float32 activations, 4 = int8 activations. */
export const QUANT_ACCURACY_LEVEL: Readonly<Record<"int8" | "int4", number>> = {
  int8: 4,
  int4: 1,
};

/**
 * `x [T, k] · Wᵀ` for the row-major `[n, k]` weight `data`, stored under `name` in `format`.
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
  data: Float32Array,
  format: WeightFormat,
): string {
  if (format === "f32") return linear(g, x, g.weight(name, [n, k], data));
  const bits = formatBits(format);
  const q = quantizeBlockwise(data, n, k, bits, QUANT_BLOCK_SIZE);
  const codes = g.initializer(
    `${name}.codes`,
    "uint8",
    [n, q.blocksPerRow, (QUANT_BLOCK_SIZE * bits) / 8],
    q.codes,
  );
  const scales = g.weight(`${name}.scales`, [n * q.blocksPerRow], q.scales);
  return g.op("MatMulNBits", [x, codes, scales], {
    K: k,
    N: n,
    bits,
    block_size: QUANT_BLOCK_SIZE,
    accuracy_level: QUANT_ACCURACY_LEVEL[format],
  }, { domain: "com.microsoft" });
}
