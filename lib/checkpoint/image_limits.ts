/**
 * The size limit every decoded image obeys, checked from the file's header before any pixel
 * memory is allocated.
 *
 * @module
 */

import { InputError } from "../errors.ts";

/**
 * The most pixels an image may have: PIL's `DecompressionBombError` threshold
 * (2 × `Image.MAX_IMAGE_PIXELS` = 2 × 89 478 485), so what PIL refuses is refused here too.
 */
export const MAX_IMAGE_PIXELS: number = 2 * 89_478_485;

/**
 * Throws an {@link InputError} naming `name` when a `width × height` image exceeds
 * {@link MAX_IMAGE_PIXELS}.
 *
 * @example
 * ```ts
 * import { checkImagePixels } from "./image_limits.ts";
 * checkImagePixels(4000, 3000, "photo.jpg", "JPEG"); // 12 MP: fine
 * ```
 */
export function checkImagePixels(
  width: number,
  height: number,
  name: string,
  format: string,
): void {
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new InputError(
      `${name}: the ${format} image is ${width} × ${height} = ${width * height} pixels, more ` +
        `than the ${MAX_IMAGE_PIXELS} allowed (PIL's decompression-bomb limit); resize it first`,
    );
  }
}
