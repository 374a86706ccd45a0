/**
 * JPEG decoding that gives PIL's pixels. PIL decodes with libjpeg-turbo (integer "islow" IDCT,
 * "fancy" triangular chroma upsampling); `@jsquash/jpeg` is libjpeg-turbo's descendant MozJPEG
 * compiled to WebAssembly with the same defaults, so baseline and progressive files, every
 * chroma subsampling (4:2:0, 4:2:2, 4:4:4) and greyscale decode to PIL's bytes exactly.
 *
 * Four-component (CMYK / YCCK, Adobe) files are the exception: that build only outputs RGBA and
 * refuses them, so they go through this project's own decoder (`jpeg_cmyk.ts`: libjpeg-turbo's
 * ISLOW IDCT, fancy upsampling and YCCK conversion, then PIL's "CMYK;I" reading and CMYK → RGB
 * formula), which gives PIL's bytes exactly for baseline, progressive, restart-marker and
 * subsampled files.
 *
 * The frame header is read first, so that a file too large to decode safely is refused before
 * any pixel memory is allocated.
 *
 * @module
 */

import decodeWasm, { init as initWasm } from "@jsquash/jpeg/decode.js";
import { InputError } from "../errors.ts";
import type { RgbImage } from "./image.ts";
import { checkImagePixels } from "./image_limits.ts";
import { decodeFourComponentJpeg } from "./jpeg_cmyk.ts";

/** What a JPEG's frame header (SOFn) and Adobe marker say. */
export interface JpegFrame {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Colour components: 1 (greyscale), 3 (YCbCr or RGB) or 4 (CMYK / YCCK). */
  components: number;
  /** Bits per sample (8 for nearly every file). */
  precision: number;
  /** True for progressive (SOF2) files. */
  progressive: boolean;
}

/**
 * Reads the frame header of a JPEG by walking its markers up to the first SOFn. Throws an
 * {@link InputError} naming `name` when the file ends or has a scan before any frame header.
 */
export function readJpegFrame(bytes: Uint8Array, name = "image"): JpegFrame {
  const bad = (why: string) => new InputError(`${name}: corrupt JPEG image (${why})`);
  const u16 = (at: number) => (bytes[at] << 8) | bytes[at + 1];
  let at = 2; // after SOI
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw bad(`no marker at byte ${at}`);
    const marker = bytes[at + 1];
    if (marker === 0xff) { // fill byte
      at++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // no length
      at += 2;
      continue;
    }
    const len = u16(at + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) {
      if (at + 10 > bytes.length) break;
      return {
        precision: bytes[at + 4],
        height: u16(at + 5),
        width: u16(at + 7),
        components: bytes[at + 9],
        progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce,
      };
    }
    if (marker === 0xda || marker === 0xd9) throw bad("no frame header before the image data");
    at += 2 + len;
  }
  throw bad("the file ends before the frame header; it is truncated");
}

/** libjpeg's messages, kept to explain a failed decode (the wasm build prints them). */
let messages: string[] = [];
let ready: Promise<void> | null = null;

function wasmReady(): Promise<void> {
  ready ??= initWasm({
    print: (s: string) => messages.push(s),
    printErr: (s: string) => messages.push(s),
  });
  return ready;
}

/**
 * Decodes JPEG bytes to RGB with PIL's pixels (see the module notes for four-component files).
 * Truncated files are errors, as in PIL (libjpeg would fill the rest with grey). Errors are
 * {@link InputError}s naming `name`.
 *
 * @example
 * ```ts ignore
 * import { decodeJpeg } from "./jpeg.ts";
 * const img = await decodeJpeg(await Deno.readFile("photo.jpg"), "photo.jpg");
 * console.log(img.width, img.height);
 * ```
 */
export async function decodeJpeg(bytes: Uint8Array, name = "image"): Promise<RgbImage> {
  const frame = readJpegFrame(bytes, name);
  const { width, height } = frame;
  if (width === 0 || height === 0) {
    throw new InputError(`${name}: JPEG image of ${width} × ${height} pixels has no pixels`);
  }
  checkImagePixels(width, height, name, "JPEG");
  if (frame.precision !== 8) {
    throw new InputError(
      `${name}: ${frame.precision}-bit JPEG samples are not supported (supported: 8-bit, as in ` +
        `PIL); convert the image to an 8-bit JPEG or to PNG`,
    );
  }
  if (frame.components === 4) return decodeFourComponentJpeg(bytes, name);
  if (frame.components !== 1 && frame.components !== 3) {
    throw new InputError(
      `${name}: JPEG with ${frame.components} colour components is not supported ` +
        `(supported: 1 greyscale, 3 YCbCr/RGB, 4 CMYK)`,
    );
  }
  await wasmReady();
  messages = [];
  let rgba: { width: number; height: number; data: ArrayLike<number> };
  try {
    rgba = await decodeWasm(bytes.slice().buffer as ArrayBuffer);
  } catch {
    throw new InputError(`${name}: corrupt JPEG image (${messages.at(-1) ?? "decoding failed"})`);
  }
  if (messages.some((m) => m.includes("Premature end"))) {
    throw new InputError(
      `${name}: the JPEG image is truncated (libjpeg: ${messages[0]}); download or export it again`,
    );
  }
  const n = rgba.width * rgba.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[i * 3] = rgba.data[i * 4];
    data[i * 3 + 1] = rgba.data[i * 4 + 1];
    data[i * 3 + 2] = rgba.data[i * 4 + 2];
  }
  return { width: rgba.width, height: rgba.height, data };
}
