/**
 * libjpeg's integer "slow" inverse DCT (JDCT_ISLOW, its default, hence PIL's), bit-exact: the
 * Loeffler–Ligtenberg–Moschytz factorisation with 13-bit fixed-point constants (CONST_BITS = 13),
 * two extra bits kept between the column and row passes (PASS1_BITS = 2), rounding right shifts,
 * and the output wrapped through libjpeg's post-IDCT range-limit table (10-bit index: values
 * just outside 0..255 clamp, wild ones wrap as libjpeg's do).
 *
 * Arithmetic is on doubles with floor division, which equals libjpeg's 64-bit integer
 * arithmetic for every value an 8-bit JPEG can produce.
 *
 * @module
 */

import type { JpegComponent } from "./jpeg_coefficients.ts";

const CONST_BITS = 13, PASS1_BITS = 2;
/** A constant in CONST_BITS fixed point, rounded as libjpeg's FIX(). */
const fix = (x: number) => Math.floor(x * (1 << CONST_BITS) + 0.5);
const F_0_298 = fix(0.298631336), F_0_390 = fix(0.390180644), F_0_541 = fix(0.5411961);
const F_0_765 = fix(0.765366865), F_0_899 = fix(0.899976223), F_1_175 = fix(1.175875602);
const F_1_501 = fix(1.50132111), F_1_847 = fix(1.847759065), F_1_961 = fix(1.96157056);
const F_2_053 = fix(2.053119869), F_2_562 = fix(2.562915447), F_3_072 = fix(3.072711026);

/** Rounding right shift of a (possibly large) integer held in a double. */
const descale = (x: number, n: number) => Math.floor((x + 2 ** (n - 1)) / 2 ** n);

/**
 * libjpeg's post-IDCT range limit: index (value & 1023) → sample. 0..127 → +128, 128..511 →
 * 255 (overshoot), 512..895 → 0 (undershoot, wrapped), 896..1023 (−128..−1) → 0..127.
 */
const RANGE_LIMIT: Uint8Array = (() => {
  const t = new Uint8Array(1024);
  for (let i = 0; i < 1024; i++) {
    const signed = i < 512 ? i : i - 1024; // the sample minus 128
    t[i] = i >= 512 && i < 896 ? 0 : Math.min(255, Math.max(0, signed + 128));
  }
  return t;
})();

/** The even and odd halves of one 8-point inverse DCT, shared by both passes. */
function idct8(
  x0: number,
  x1: number,
  x2: number,
  x3: number,
  x4: number,
  x5: number,
  x6: number,
  x7: number,
  out: Float64Array,
): void {
  // Even part: rotation of x2, x6 by sqrt(2)·c6; x0 ± x4 scaled up.
  const z1 = (x2 + x6) * F_0_541;
  const e2 = z1 - x6 * F_1_847, e3 = z1 + x2 * F_0_765;
  const e0 = (x0 + x4) * (1 << CONST_BITS), e1 = (x0 - x4) * (1 << CONST_BITS);
  const t10 = e0 + e3, t13 = e0 - e3, t11 = e1 + e2, t12 = e1 - e2;
  // Odd part: x7, x5, x3, x1.
  const s1 = x7 + x1, s2 = x5 + x3, s3 = x7 + x3, s4 = x5 + x1;
  const z5 = (s3 + s4) * F_1_175;
  const a1 = -s1 * F_0_899, a2 = -s2 * F_2_562, a3 = -s3 * F_1_961 + z5, a4 = -s4 * F_0_390 + z5;
  const o0 = x7 * F_0_298 + a1 + a3, o1 = x5 * F_2_053 + a2 + a4;
  const o2 = x3 * F_3_072 + a2 + a3, o3 = x1 * F_1_501 + a1 + a4;
  out[0] = t10 + o3;
  out[7] = t10 - o3;
  out[1] = t11 + o2;
  out[6] = t11 - o2;
  out[2] = t12 + o1;
  out[5] = t12 - o1;
  out[3] = t13 + o0;
  out[4] = t13 - o0;
}

/**
 * Inverse-transforms every block of a component into a sample plane of
 * (blocksWide × 8) × (blocksHigh × 8) bytes, row-major.
 *
 * @example
 * ```ts ignore
 * import { decodeJpegCoefficients } from "./jpeg_coefficients.ts";
 * import { islowPlane } from "./jpeg_islow.ts";
 * const frame = decodeJpegCoefficients(await Deno.readFile("cmyk.jpg"));
 * const cyan = islowPlane(frame.components[0]);
 * ```
 */
export function islowPlane(c: JpegComponent): Uint8Array {
  const stride = c.blocksWide * 8;
  const plane = new Uint8Array(stride * c.blocksHigh * 8);
  const ws = new Float64Array(64), tmp = new Float64Array(8), q = c.quant;
  for (let b = 0; b < c.blocksWide * c.blocksHigh; b++) {
    const base = b * 64, coef = c.coefficients;
    // Pass 1: columns, dequantized, kept with PASS1_BITS extra bits.
    for (let col = 0; col < 8; col++) {
      const i = base + col;
      if (
        coef[i + 8] === 0 && coef[i + 16] === 0 && coef[i + 24] === 0 && coef[i + 32] === 0 &&
        coef[i + 40] === 0 && coef[i + 48] === 0 && coef[i + 56] === 0
      ) { // DC only: the full pass gives exactly dc << PASS1_BITS (libjpeg takes this shortcut)
        const dc = coef[i] * q[col] * (1 << PASS1_BITS);
        for (let r = 0; r < 8; r++) ws[r * 8 + col] = dc;
        continue;
      }
      idct8(
        coef[i] * q[col],
        coef[i + 8] * q[col + 8],
        coef[i + 16] * q[col + 16],
        coef[i + 24] * q[col + 24],
        coef[i + 32] * q[col + 32],
        coef[i + 40] * q[col + 40],
        coef[i + 48] * q[col + 48],
        coef[i + 56] * q[col + 56],
        tmp,
      );
      for (let r = 0; r < 8; r++) ws[r * 8 + col] = descale(tmp[r], CONST_BITS - PASS1_BITS);
    }
    // Pass 2: rows, descaled by the passes' gain (and DCT's 1/8), range-limited.
    const bx = b % c.blocksWide, by = (b - bx) / c.blocksWide;
    for (let row = 0; row < 8; row++) {
      const w = row * 8;
      const o = (by * 8 + row) * stride + bx * 8;
      if (
        ws[w + 1] === 0 && ws[w + 2] === 0 && ws[w + 3] === 0 && ws[w + 4] === 0 &&
        ws[w + 5] === 0 && ws[w + 6] === 0 && ws[w + 7] === 0
      ) { // DC only: equal to the full pass, as above
        plane.fill(RANGE_LIMIT[descale(ws[w], PASS1_BITS + 3) & 1023], o, o + 8);
        continue;
      }
      idct8(
        ws[w],
        ws[w + 1],
        ws[w + 2],
        ws[w + 3],
        ws[w + 4],
        ws[w + 5],
        ws[w + 6],
        ws[w + 7],
        tmp,
      );
      for (let i = 0; i < 8; i++) {
        plane[o + i] = RANGE_LIMIT[descale(tmp[i], CONST_BITS + PASS1_BITS + 3) & 1023];
      }
    }
  }
  return plane;
}
