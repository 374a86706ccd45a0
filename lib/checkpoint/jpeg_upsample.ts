/**
 * libjpeg-turbo's upsampling of a subsampled component to full size, bit-exact, with its
 * default "fancy" (triangular) filters: 2×1 (h2v1), 1×2 (h1v2) and 2×2 (h2v2), each output
 * sample ¾ of the nearest input and ¼ of the next, with libjpeg's alternating rounding biases;
 * the image's first and last rows are repeated as context, its last column handled as an edge.
 * Other integral factors (e.g. 4×1) replicate samples (libjpeg's int_upsample), as does 2×1 or
 * 2×2 on a component of at most two columns. Non-integral ratios are refused, as by libjpeg.
 *
 * @module
 */

/** A component's sample plane as the IDCT left it. */
export interface SamplePlane {
  /** Samples, row-major. */
  data: Uint8Array;
  /** Row length of `data` (the component's blocks × 8). */
  stride: number;
  /** Valid columns (libjpeg's downsampled_width). */
  width: number;
  /** Valid rows (libjpeg's downsampled_height). */
  height: number;
}

/**
 * Upsamples `plane` by (hOut, vOut) and returns a width × height plane (the image's size).
 * Throws a plain Error for a ratio libjpeg does not support; callers name the file.
 *
 * @example
 * ```ts
 * import { upsample } from "./jpeg_upsample.ts";
 * const plane = { data: new Uint8Array([0, 100, 200, 0]), stride: 4, width: 4, height: 1 };
 * console.log(upsample(plane, 2, 1, 8, 1)); // [0, 25, 75, 125, 175, 150, 50, 0]
 * ```
 */
export function upsample(
  plane: SamplePlane,
  hOut: number,
  vOut: number,
  width: number,
  height: number,
): Uint8Array {
  const { data, stride, width: w, height: h } = plane;
  const out = new Uint8Array(width * height);
  const row = (y: number) => Math.min(Math.max(y, 0), h - 1) * stride; // edge rows repeat
  if (hOut === 1 && vOut === 1) {
    for (let y = 0; y < height; y++) {
      out.set(data.subarray(y * stride, y * stride + width), y * width);
    }
    return out;
  }
  const fancyH = hOut === 2 && w > 2 && (vOut === 1 || vOut === 2);
  const fancyV = hOut === 1 && vOut === 2;
  if (fancyH || fancyV) {
    // Input row `y >> 1` of output row y, with the neighbour above (even y) or below (odd y).
    const line = new Int32Array(w);
    for (let y = 0; y < height; y++) {
      const inY = vOut === 2 ? y >> 1 : y;
      const near = row(inY);
      if (vOut === 2) {
        const far = row(y & 1 ? inY + 1 : inY - 1);
        for (let x = 0; x < w; x++) line[x] = data[near + x] * 3 + data[far + x];
      } else {
        for (let x = 0; x < w; x++) line[x] = data[near + x];
      }
      const o = y * width;
      if (fancyV) { // h1v2: (3·near + far + bias) / 4, bias 1 above and 2 below
        const bias = y & 1 ? 2 : 1;
        for (let x = 0; x < width; x++) out[o + x] = (line[x] + bias) >> 2;
        continue;
      }
      // Horizontal triangle over `line`; h2v2's sums carry 4× the weight of h2v1's.
      const shift = vOut === 2 ? 4 : 2, odd = vOut === 2 ? 7 : 2, even = vOut === 2 ? 8 : 1;
      const full = new Uint8Array(2 * w);
      full[0] = vOut === 2 ? (line[0] * 4 + 8) >> 4 : line[0];
      full[1] = (line[0] * 3 + line[1] + odd) >> shift;
      for (let x = 1; x < w - 1; x++) {
        full[2 * x] = (line[x] * 3 + line[x - 1] + even) >> shift;
        full[2 * x + 1] = (line[x] * 3 + line[x + 1] + odd) >> shift;
      }
      full[2 * w - 2] = (line[w - 1] * 3 + line[w - 2] + even) >> shift;
      full[2 * w - 1] = vOut === 2 ? (line[w - 1] * 4 + 7) >> 4 : line[w - 1];
      out.set(full.subarray(0, width), o);
    }
    return out;
  }
  if (!Number.isInteger(hOut) || !Number.isInteger(vOut)) {
    throw new Error(`sampling ratio ${hOut}×${vOut} is not an integer`);
  }
  for (let y = 0; y < height; y++) {
    const src = row(Math.floor(y / vOut));
    for (let x = 0; x < width; x++) out[y * width + x] = data[src + Math.floor(x / hOut)];
  }
  return out;
}
