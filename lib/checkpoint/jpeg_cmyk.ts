/**
 * Four-component (CMYK and YCCK) JPEGs decoded exactly as PIL decodes them: libjpeg-turbo's
 * coefficients → ISLOW IDCT → fancy upsampling → raw CMYK (YCCK first turned to RGB by the
 * JFIF equations in 16-bit fixed point, then inverted to CMY, K kept) → PIL's "CMYK;I" (Adobe
 * files store inverted ink) → PIL's CMYK → RGB conversion (`R = (255 − K) − (C·(255 − K))/255`,
 * with PIL's rounded division by 255).
 *
 * @module
 */

import { InputError } from "../errors.ts";
import type { RgbImage } from "./image.ts";
import { decodeJpegCoefficients } from "./jpeg_coefficients.ts";
import { islowPlane } from "./jpeg_islow.ts";
import { upsample } from "./jpeg_upsample.ts";

/** libjpeg's YCbCr → RGB tables: 16-bit fixed point, rounded (jdcolor's build_ycc_rgb_table). */
const YCC = (() => {
  const SCALE = 16, HALF = 1 << (SCALE - 1);
  const fix = (x: number) => Math.floor(x * (1 << SCALE) + 0.5);
  const crR = new Int32Array(256), cbB = new Int32Array(256);
  const crG = new Int32Array(256), cbG = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    crR[i] = (fix(1.402) * x + HALF) >> SCALE;
    cbB[i] = (fix(1.772) * x + HALF) >> SCALE;
    crG[i] = -fix(0.71414) * x;
    cbG[i] = -fix(0.34414) * x + HALF;
  }
  return { crR, cbB, crG, cbG, SCALE };
})();

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** PIL's MULDIV255: a·b / 255 rounded, as ((t >> 8) + t) >> 8 with t = a·b + 128. */
const mulDiv255 = (a: number, b: number) => {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
};

/**
 * Decodes a four-component JPEG to PIL's RGB pixels (`Image.open(f).convert("RGB")`). Errors
 * are {@link InputError}s naming `name`.
 *
 * @example
 * ```ts ignore
 * import { decodeFourComponentJpeg } from "./jpeg_cmyk.ts";
 * const img = decodeFourComponentJpeg(await Deno.readFile("print.jpg"), "print.jpg");
 * ```
 */
export function decodeFourComponentJpeg(bytes: Uint8Array, name = "image"): RgbImage {
  const frame = decodeJpegCoefficients(bytes, name);
  const { width, height, hMax, vMax } = frame;
  if (frame.components.length !== 4) {
    throw new InputError(`${name}: expected a four-component JPEG, got ${frame.components.length}`);
  }
  // libjpeg's guess: Adobe transform 0 is CMYK, 2 (or any other value) YCCK; no marker, CMYK.
  const ycck = frame.adobeTransform !== null && frame.adobeTransform !== 0;
  const planes = frame.components.map((c) => {
    const plane = {
      data: islowPlane(c),
      stride: c.blocksWide * 8,
      width: c.width,
      height: c.height,
    };
    return upsample(plane, hMax / c.h, vMax / c.v, width, height);
  });
  const [p0, p1, p2, k] = planes;
  const n = width * height, data = new Uint8Array(n * 3);
  const { crR, cbB, crG, cbG, SCALE } = YCC;
  for (let i = 0; i < n; i++) {
    let c = p0[i], m = p1[i], y = p2[i];
    if (ycck) { // libjpeg: CMY = 255 − RGB(Y, Cb, Cr)
      const luma = p0[i], cb = p1[i], cr = p2[i];
      c = clamp(255 - (luma + crR[cr]));
      m = clamp(255 - (luma + ((cbG[cb] + crG[cr]) >> SCALE)));
      y = clamp(255 - (luma + cbB[cb]));
    }
    // PIL reads Adobe CMYK inverted ("CMYK;I"), then converts with its own formula.
    const nk = k[i]; // 255 − (255 − K)
    data[i * 3] = clamp(nk - mulDiv255(255 - c, nk));
    data[i * 3 + 1] = clamp(nk - mulDiv255(255 - m, nk));
    data[i * 3 + 2] = clamp(nk - mulDiv255(255 - y, nk));
  }
  return { width, height, data };
}
