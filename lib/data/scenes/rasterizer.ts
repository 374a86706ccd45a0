/**
 * A tiny exact rasterizer for the scene shapes. All geometry is integer arithmetic on a grid of
 * quarter pixels and each pixel averages 2×2 sub-samples with integer rounding, so the output is
 * byte-identical on every machine (no canvas, no fonts, no floating-point edge cases).
 *
 * @module
 */
import type { RgbImage } from "../../checkpoint/image.ts";
import type { Shape } from "./vocabulary.ts";

// Scenes use the same image type as the checkpoint's image loader, so a generated scene
// feeds preprocessing directly.
export type { RgbImage };

/** A filled shape to draw: centre and radius in whole pixels. */
export interface ShapeToDraw {
  /** Which outline. */
  shape: Shape;
  /** Centre column in pixels (the shape is centred on the pixel corner at this coordinate). */
  cx: number;
  /** Centre row in pixels. */
  cy: number;
  /** Half extent in pixels: circle radius, square half side, diamond and triangle half width. */
  radius: number;
  /** Fill colour. */
  rgb: readonly [number, number, number];
}

/** Creates an image filled with one colour. */
export function blankImage(
  width: number,
  height: number,
  rgb: readonly [number, number, number],
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
}

/**
 * Whether the point (dx, dy), given relative to the shape centre in quarter pixels, lies inside
 * a shape of half extent `r` (also in quarter pixels). y grows downwards.
 */
export function insideShape(shape: Shape, dx: number, dy: number, r: number): boolean {
  switch (shape) {
    case "circle":
      return dx * dx + dy * dy <= r * r;
    case "square":
      return Math.abs(dx) <= r && Math.abs(dy) <= r;
    case "diamond":
      return Math.abs(dx) + Math.abs(dy) <= r;
    case "triangle":
      // Apex at the top (dy = -r), base at dy = +r spanning dx in [-r, r].
      return dy <= r && 2 * Math.abs(dx) <= dy + r;
  }
}

/**
 * Draws a shape onto `image` in place. Each pixel (x, y) is split into four sub-samples at
 * (x + 1/4, y + 1/4), (x + 3/4, y + 1/4), … ; the pixel becomes the rounded integer average of
 * the sub-samples' colours (fill where inside, the existing pixel where outside).
 */
export function drawShape(image: RgbImage, s: ShapeToDraw): void {
  const r4 = s.radius * 4;
  const x0 = Math.max(0, s.cx - s.radius - 1), x1 = Math.min(image.width - 1, s.cx + s.radius);
  const y0 = Math.max(0, s.cy - s.radius - 1), y1 = Math.min(image.height - 1, s.cy + s.radius);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let inside = 0;
      for (const sy of [1, 3]) {
        for (const sx of [1, 3]) {
          const dx = 4 * x + sx - 4 * s.cx;
          const dy = 4 * y + sy - 4 * s.cy;
          if (insideShape(s.shape, dx, dy, r4)) inside++;
        }
      }
      if (inside === 0) continue;
      const o = (y * image.width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const sum = inside * s.rgb[c] + (4 - inside) * image.data[o + c];
        image.data[o + c] = (sum + 2) >> 2;
      }
    }
  }
}
