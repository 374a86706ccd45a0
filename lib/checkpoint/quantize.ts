/**
 * Block-wise weight quantization in the layout of onnxruntime's `MatMulNBits` operator
 * (com.microsoft): a Linear weight `[N, K]` (PyTorch layout, output rows) is cut into blocks of
 * `blockSize` consecutive input columns; each block keeps one float32 scale and `blockSize`
 * unsigned `bits`-bit codes, and a code `q` stands for `(q − 2^(bits−1)) · scale` (symmetric,
 * the operator's default zero point). 4-bit codes are packed two per byte, the even column in
 * the low nibble.
 *
 * Quantization rounds to nearest with `scale = max|w| / (2^(bits−1) − 1)` per block, so the
 * largest weight of a block is exact and every other one is within `scale / 2`.
 *
 * @module
 */

import { CheckpointError } from "../errors.ts";

/** How the decoder's projection weights are held in a graph. */
export type WeightFormat = "f32" | "int8" | "int4";

/** Every {@link WeightFormat}, for option parsing and messages. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ["f32", "int8", "int4"];

/** Bits per code of a quantized format. */
export function formatBits(format: Exclude<WeightFormat, "f32">): 4 | 8 {
  return format === "int4" ? 4 : 8;
}

/** A `[N, K]` weight in `MatMulNBits` layout. */
export interface BlockQuantized {
  /** Output rows. */
  n: number;
  /** Input columns. */
  k: number;
  /** Bits per code (4 or 8). */
  bits: 4 | 8;
  /** Columns per block. */
  blockSize: number;
  /** Blocks per row, `⌈k / blockSize⌉` (the last one zero-padded). */
  blocksPerRow: number;
  /** Codes `[n, blocksPerRow, blockSize · bits / 8]`. */
  codes: Uint8Array;
  /** Scales `[n · blocksPerRow]`. */
  scales: Float32Array;
}

/**
 * Quantizes the row-major `[n, k]` weight `w`.
 *
 * @example
 * ```ts
 * import { dequantizeBlockwise, quantizeBlockwise } from "./quantize.ts";
 * const w = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
 * const q = quantizeBlockwise(w, 2, 32, 8);
 * const back = dequantizeBlockwise(q);
 * console.assert(back.every((x, i) => Math.abs(x - w[i]) <= q.scales[Math.floor(i / 32)] / 2));
 * ```
 */
export function quantizeBlockwise(
  w: Float32Array,
  n: number,
  k: number,
  bits: 4 | 8,
  blockSize = 32,
): BlockQuantized {
  if (w.length !== n * k) {
    throw new CheckpointError(`quantizeBlockwise: ${w.length} values for a [${n}, ${k}] weight`);
  }
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new CheckpointError(
      `quantizeBlockwise: block size ${blockSize} is not a power of 2 ≥ 16`,
    );
  }
  const blocksPerRow = Math.ceil(k / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  const codes = new Uint8Array(n * blocksPerRow * blobBytes);
  const scales = new Float32Array(n * blocksPerRow);
  const zero = 1 << (bits - 1), qmax = zero - 1, top = (1 << bits) - 1;
  for (let r = 0; r < n; r++) {
    const row = r * k;
    for (let b = 0; b < blocksPerRow; b++) {
      const c0 = row + b * blockSize, c1 = Math.min(c0 + blockSize, row + k);
      let amax = 0;
      for (let c = c0; c < c1; c++) {
        const a = w[c] < 0 ? -w[c] : w[c];
        if (a > amax) amax = a;
      }
      const scale = Math.fround(amax / qmax);
      const blk = r * blocksPerRow + b;
      scales[blk] = scale;
      const inv = scale === 0 ? 0 : 1 / scale;
      const base = blk * blobBytes;
      // Round half up, as Math.round: ⌊x + ½⌋ with the zero point added (the sum stays > 0).
      const shift = zero + 0.5;
      for (let j = 0, c = c0; j < blockSize; j++, c++) {
        let q = c < c1 ? Math.floor(w[c] * inv + shift) : zero;
        if (q > top) q = top;
        else if (q < 0) q = 0;
        if (bits === 8) codes[base + j] = q;
        else codes[base + (j >> 1)] |= (j & 1) ? q << 4 : q;
      }
    }
  }
  return { n, k, bits, blockSize, blocksPerRow, codes, scales };
}

/** The float32 weight `[n, k]` that `q` stands for (what `MatMulNBits` multiplies by). */
export function dequantizeBlockwise(q: BlockQuantized): Float32Array {
  const { n, k, bits, blockSize, blocksPerRow, codes, scales } = q;
  const out = new Float32Array(n * k);
  const zero = 1 << (bits - 1), blobBytes = (blockSize * bits) / 8;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const b = Math.floor(c / blockSize), j = c % blockSize;
      const blk = r * blocksPerRow + b;
      const byte = codes[blk * blobBytes + (bits === 8 ? j : j >> 1)];
      const code = bits === 8 ? byte : (j & 1) ? byte >> 4 : byte & 15;
      out[r * k + c] = Math.fround((code - zero) * scales[blk]);
    }
  }
  return out;
}
