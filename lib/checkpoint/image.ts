/**
 * Image decoding (PNG, JPEG) and CLIP preprocessing that reproduces Hugging Face's
 * `CLIPImageProcessor` (and LLaVA-1.5's `expand2square` padding) pixel for pixel:
 * PIL-style bicubic resize on uint8, center crop, rescale and normalise in float32.
 *
 * Alpha is dropped, not composited (as PIL's `convert("RGB")` does); grayscale is replicated to
 * three channels; 16-bit samples keep their high byte. JPEG files decode to PIL's pixels (see
 * `jpeg.ts`). Images above PIL's decompression-bomb limit are refused from their header.
 *
 * @module
 */

import { convertIndexedToRgb, decode as decodePng } from "fast-png";
import { CheckpointError, fileError, InputError } from "../errors.ts";
import { checkImagePixels } from "./image_limits.ts";
import { decodeJpeg } from "./jpeg.ts";
import type { ImageProcessorSpec } from "./spec.ts";

/** An 8-bit RGB image, row-major, interleaved (`data[(y * width + x) * 3 + c]`). */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width · height · 3` bytes, RGB interleaved. */
  data: Uint8Array;
}

/** OpenAI CLIP's normalisation constants (`CLIPImageProcessor` defaults). */
export const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
/** OpenAI CLIP's normalisation constants (`CLIPImageProcessor` defaults). */
export const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/**
 * Decodes PNG or JPEG bytes (detected by their magic bytes) to RGB, with PIL's pixels. `name` (a
 * path) appears in the {@link InputError} thrown for other formats, corrupt or truncated data,
 * and images above PIL's decompression-bomb limit.
 */
export function decodeImage(bytes: Uint8Array, name = "image"): Promise<RgbImage> {
  if (startsWith(bytes, PNG_MAGIC)) {
    // IHDR is the first chunk: width and height at bytes 16 and 20 (big-endian).
    if (bytes.length >= 24) {
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      checkImagePixels(v.getUint32(16), v.getUint32(20), name, "PNG");
    }
    try {
      return Promise.resolve(pngToRgb(decodePng(bytes)));
    } catch (err) {
      return Promise.reject(
        new InputError(`${name}: corrupt PNG image (${(err as Error).message})`),
      );
    }
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return decodeJpeg(bytes, name);
  return Promise.reject(
    new InputError(`${name}: not a PNG or JPEG image (unrecognised leading bytes)`),
  );
}

/** Reads and decodes an image file; errors name the file. */
export async function loadImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw fileError(path, "read the image", err);
  }
  return decodeImage(bytes, path);
}

function pngToRgb(png: ReturnType<typeof decodePng>): RgbImage {
  const { width, height } = png;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const ch = rgb.length / n; // 3, or 4 when the palette has transparency
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) out[i * 3 + c] = rgb[i * ch + c];
    }
    return { width, height, data: out };
  }
  const ch = png.channels;
  const src = png.data;
  // 16-bit samples keep their high byte; 1/2/4-bit gray is stretched to 0…255.
  const max = png.depth === 16 ? 65535 : (1 << png.depth) - 1;
  const to8 = png.depth === 16
    ? (v: number) => v >> 8
    : png.depth === 8
    ? (v: number) => v
    : (v: number) => Math.round((v * 255) / max);
  const sample = png.depth >= 8 ? (i: number) => src[i] : unpackBits(src, png.depth, width, ch);
  const color = ch >= 3;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = to8(sample(i * ch + (color ? c : 0)));
  }
  return { width, height, data: out };
}

/** Sample accessor for sub-byte PNG data (rows are byte-aligned). */
function unpackBits(
  src: ArrayLike<number>,
  depth: number,
  width: number,
  channels: number,
): (i: number) => number {
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const mask = (1 << depth) - 1;
  return (i: number) => {
    const row = Math.floor(i / perRow);
    const bit = (i % perRow) * depth;
    const byte = src[row * rowBytes + (bit >> 3)];
    return (byte >> (8 - depth - (bit & 7))) & mask;
  };
}

/**
 * LLaVA's `expand2square`: pads the shorter side so the image is square, filling with
 * `background`, the image centred at offset `(side - w) // 2`, `(side - h) // 2`.
 */
export function expandToSquare(img: RgbImage, background: readonly number[]): RgbImage {
  const { width: w, height: h } = img;
  if (w === h) return img;
  const side = Math.max(w, h);
  const out = new Uint8Array(side * side * 3);
  for (let i = 0; i < side * side; i++) {
    out[i * 3] = background[0];
    out[i * 3 + 1] = background[1];
    out[i * 3 + 2] = background[2];
  }
  const ox = Math.floor((side - w) / 2), oy = Math.floor((side - h) / 2);
  for (let y = 0; y < h; y++) {
    out.set(img.data.subarray(y * w * 3, (y + 1) * w * 3), ((y + oy) * side + ox) * 3);
  }
  return { width: side, height: side, data: out };
}

/**
 * LLaVA's padding colour: `int(mean * 255)` per channel — truncated, as the original
 * `process_images` does (OpenAI CLIP's mean gives 122, 116, 104).
 */
export function padColour(mean: readonly number[]): [number, number, number] {
  return [Math.trunc(mean[0] * 255), Math.trunc(mean[1] * 255), Math.trunc(mean[2] * 255)];
}

/** PIL's bicubic kernel (a = −0.5, support 2). */
function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** PIL keeps 8-bit filter weights as fixed point with this many fraction bits. */
const PRECISION_BITS = 32 - 8 - 2;

/**
 * Per-output-pixel source window and fixed-point weights, as PIL's `precompute_coeffs` +
 * `normalize_coeffs_8bpc`: the kernel is widened by the downscale factor (antialiasing),
 * weights are normalised to sum 1, then rounded to {@link PRECISION_BITS} bits.
 */
function resampleCoeffs(
  inSize: number,
  outSize: number,
): { start: Int32Array; count: Int32Array; ksize: number; k: Float64Array } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize);
  const k = new Float64Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamp makes that equal to floor here.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = bicubic((x + xmin - center + 0.5) / filterScale);
      sum += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = sum !== 0 ? w[x] / sum : w[x];
      const fixed = v * (1 << PRECISION_BITS);
      k[xx * ksize + x] = Math.trunc(v < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, ksize, k };
}

/** Rounds a fixed-point accumulator to uint8 the way PIL's `clip8` does. */
function clip8(acc: number): number {
  const v = Math.floor(acc / (1 << PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes with PIL's `Image.resize(..., BICUBIC)` semantics: separable convolution, the
 * horizontal pass first, each pass rounded and clipped to uint8; a pass whose size does not
 * change is skipped.
 */
export function resizeBicubic(img: RgbImage, width: number, height: number): RgbImage {
  if (width === img.width && height === img.height) return img;
  const half = 1 << (PRECISION_BITS - 1);
  let cur = img;
  if (width !== cur.width) {
    const { start, count, ksize, k } = resampleCoeffs(cur.width, width);
    const out = new Uint8Array(width * cur.height * 3);
    for (let y = 0; y < cur.height; y++) {
      const row = y * cur.width * 3;
      for (let xx = 0; xx < width; xx++) {
        const s = start[xx], n = count[xx], kb = xx * ksize;
        for (let c = 0; c < 3; c++) {
          let acc = half;
          for (let x = 0; x < n; x++) acc += cur.data[row + (s + x) * 3 + c] * k[kb + x];
          out[(y * width + xx) * 3 + c] = clip8(acc);
        }
      }
    }
    cur = { width, height: cur.height, data: out };
  }
  if (height !== cur.height) {
    const { start, count, ksize, k } = resampleCoeffs(cur.height, height);
    const out = new Uint8Array(width * height * 3);
    for (let yy = 0; yy < height; yy++) {
      const s = start[yy], n = count[yy], kb = yy * ksize;
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          let acc = half;
          for (let y = 0; y < n; y++) acc += cur.data[((s + y) * width + x) * 3 + c] * k[kb + y];
          out[(yy * width + x) * 3 + c] = clip8(acc);
        }
      }
    }
    cur = { width, height, data: out };
  }
  return cur;
}

/**
 * Output size of HF's `get_resize_output_image_size(size=shortest, default_to_square=False)`:
 * the short side becomes `shortest`, the long side `int(shortest * long / short)`.
 */
export function shortestEdgeSize(
  width: number,
  height: number,
  shortest: number,
): { width: number; height: number } {
  const short = Math.min(width, height), long = Math.max(width, height);
  if (short === shortest) return { width, height };
  const newLong = Math.trunc((shortest * long) / short);
  return width <= height
    ? { width: shortest, height: newLong }
    : { width: newLong, height: shortest };
}

/**
 * HF's `center_crop`: top = (h − ch) // 2, left = (w − cw) // 2 (floor division); where the
 * image is smaller than the crop the outside is zero, as HF pads with zeros.
 */
export function centerCrop(img: RgbImage, width: number, height: number): RgbImage {
  const top = Math.floor((img.height - height) / 2);
  const left = Math.floor((img.width - width) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      const si = (sy * img.width + sx) * 3, di = (y * width + x) * 3;
      out[di] = img.data[si];
      out[di + 1] = img.data[si + 1];
      out[di + 2] = img.data[si + 2];
    }
  }
  return { width, height, data: out };
}

/**
 * The full pipeline: optional pad-to-square, resize, center crop, then `(v·rescale − mean) / std`
 * computed in float32 like HF (numpy float32 arithmetic). Returns CHW `[3, H, W]`.
 */
export function preprocessImage(img: RgbImage, spec: ImageProcessorSpec): Float32Array {
  let cur = img;
  if (spec.aspectMode === "pad") cur = expandToSquare(cur, padColour(spec.mean));
  if (spec.doResize) {
    const size = spec.resizeHeight !== undefined && spec.resizeWidth !== undefined
      ? { width: spec.resizeWidth, height: spec.resizeHeight }
      : shortestEdgeSize(cur.width, cur.height, spec.resizeShortestEdge);
    cur = resizeBicubic(cur, size.width, size.height);
  }
  if (spec.doCenterCrop) cur = centerCrop(cur, spec.cropWidth, spec.cropHeight);
  const { width: W, height: H } = cur;
  const out = new Float32Array(3 * H * W);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const mean = f(spec.mean[c]), std = f(spec.std[c]);
    for (let i = 0; i < H * W; i++) {
      // float64 multiply then cast, like HF's rescale(); then float32 (x − mean) / std.
      let v = f(cur.data[i * 3 + c] * spec.rescaleFactor);
      if (spec.doNormalize) v = f(f(v - mean) / std);
      out[c * H * W + i] = v;
    }
  }
  return out;
}

/** Reads `size`/`crop_size` (an int, `{shortest_edge}` or `{height, width}`). */
function sizeField(
  file: string,
  field: string,
  v: unknown,
  fallback: unknown,
): { shortest?: number; height?: number; width?: number } {
  const x = v ?? fallback;
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  if (ok(x)) return { shortest: x as number };
  if (x && typeof x === "object") {
    const o = x as Record<string, unknown>;
    if (ok(o.shortest_edge)) return { shortest: o.shortest_edge as number };
    if (ok(o.height) && ok(o.width)) {
      return { height: o.height as number, width: o.width as number };
    }
  }
  throw new CheckpointError(
    `${file}: ${field} = ${JSON.stringify(v)} is not supported ` +
      `(supported: an integer, {"shortest_edge": n} or {"height": h, "width": w})`,
  );
}

function triple(file: string, field: string, v: unknown, fallback: [number, number, number]) {
  if (v === undefined || v === null) return fallback;
  if (typeof v === "number") return [v, v, v] as [number, number, number];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number")) {
    return v as [number, number, number];
  }
  throw new CheckpointError(`${file}: ${field} must be a number or a list of 3 numbers`);
}

/**
 * Parses `preprocessor_config.json` (`CLIPImageProcessor` or `LlavaImageProcessor`) into an
 * {@link ImageProcessorSpec}. Missing fields take CLIPImageProcessor's defaults (size 224,
 * crop 224, 1/255, OpenAI CLIP mean/std). `aspectMode` comes from the model config (original
 * LLaVA's `image_aspect_ratio`); `do_pad: true` (LlavaImageProcessor) also selects `pad`.
 * Only bicubic resampling (`resample: 3`) is supported.
 */
export function parseImageProcessorConfig(
  json: unknown,
  aspectMode: "pad" | "none" = "none",
  file = "preprocessor_config.json",
): ImageProcessorSpec {
  if (typeof json !== "object" || json === null) {
    throw new CheckpointError(`${file}: expected a JSON object`);
  }
  const c = json as Record<string, unknown>;
  if (c.resample !== undefined && c.resample !== 3) {
    throw new CheckpointError(
      `${file}: resample = ${JSON.stringify(c.resample)} is not supported (supported: 3, bicubic)`,
    );
  }
  const size = sizeField(file, "size", c.size, { shortest_edge: 224 });
  const crop = sizeField(file, "crop_size", c.crop_size, 224);
  const cropHeight = crop.height ?? crop.shortest!, cropWidth = crop.width ?? crop.shortest!;
  const rescale = c.do_rescale === false ? 1 : (c.rescale_factor ?? 1 / 255);
  if (typeof rescale !== "number" || !(rescale > 0)) {
    throw new CheckpointError(`${file}: rescale_factor must be a positive number`);
  }
  return {
    resizeShortestEdge: size.shortest ?? Math.min(size.height!, size.width!),
    ...(size.height !== undefined ? { resizeHeight: size.height, resizeWidth: size.width } : {}),
    cropHeight,
    cropWidth,
    rescaleFactor: rescale,
    mean: triple(file, "image_mean", c.image_mean, OPENAI_CLIP_MEAN),
    std: triple(file, "image_std", c.image_std, OPENAI_CLIP_STD),
    doResize: c.do_resize !== false,
    doCenterCrop: c.do_center_crop !== false,
    doNormalize: c.do_normalize !== false,
    aspectMode: aspectMode === "pad" || c.do_pad === true ? "pad" : "none",
  };
}

/** CLIPImageProcessor defaults for a tower of `imageSize` (used when no config file exists). */
export function defaultImageProcessor(
  imageSize: number,
  aspectMode: "pad" | "none" = "none",
): ImageProcessorSpec {
  return parseImageProcessorConfig(
    { size: { shortest_edge: imageSize }, crop_size: imageSize },
    aspectMode,
  );
}
