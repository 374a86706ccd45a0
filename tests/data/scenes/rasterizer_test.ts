import { assertEquals } from "@std/assert";
import { blankImage, drawShape, insideShape } from "../../../lib/data/scenes/rasterizer.ts";
import type { Shape } from "../../../lib/data/scenes/vocabulary.ts";

const WHITE = [255, 255, 255] as const;

/** Red channel of a square image as rows of numbers, for readable expectations. */
function redRows(shape: Shape, size: number, cx: number, cy: number, radius: number): number[][] {
  const img = blankImage(size, size, [0, 0, 0]);
  drawShape(img, { shape, cx, cy, radius, rgb: WHITE });
  const rows: number[][] = [];
  for (let y = 0; y < size; y++) {
    rows.push(Array.from({ length: size }, (_, x) => img.data[(y * size + x) * 3]));
  }
  return rows;
}

// Expected values worked out by hand: each pixel has sub-samples at +1/4 and +3/4 of a pixel;
// k of 4 inside gives round(255 * k / 4) = (255k + 2) >> 2, i.e. 64, 128, 191 or 255.

Deno.test("square of radius 1 centred on a pixel corner covers exactly the 2×2 pixels around it", () => {
  assertEquals(redRows("square", 4, 2, 2, 1), [
    [0, 0, 0, 0],
    [0, 255, 255, 0],
    [0, 255, 255, 0],
    [0, 0, 0, 0],
  ]);
});

Deno.test("circle of radius 1 loses one sub-sample at each outer corner pixel", () => {
  // Pixel (0,0): samples at distance² (3²+3²)=18 > 16 (outside), 10, 10, 2 (inside) → 3 of 4.
  assertEquals(redRows("circle", 2, 1, 1, 1), [
    [191, 191],
    [191, 191],
  ]);
});

Deno.test("diamond of radius 2 has anti-aliased edges", () => {
  // Pixel (0,1): |dx|+|dy| over samples = 10, 8, 8, 6 against 8 → 3 inside → 191.
  assertEquals(redRows("diamond", 4, 2, 2, 2), [
    [0, 191, 191, 0],
    [191, 255, 255, 191],
    [191, 255, 255, 191],
    [0, 191, 191, 0],
  ]);
});

Deno.test("triangle points up: narrow top row, full bottom row", () => {
  // Top-left pixel: only the sample (dx=-1, dy=-1) satisfies 2|dx| <= dy + 4 → 64.
  assertEquals(redRows("triangle", 2, 1, 1, 1), [
    [64, 64],
    [191, 191],
  ]);
});

Deno.test("insideShape uses quarter-pixel integer geometry", () => {
  assertEquals(insideShape("circle", 3, 4, 5), true);
  assertEquals(insideShape("circle", 4, 4, 5), false);
  assertEquals(insideShape("triangle", 0, -5, 5), true);
  assertEquals(insideShape("triangle", 1, -5, 5), false);
  assertEquals(insideShape("triangle", 5, 5, 5), true);
  assertEquals(insideShape("triangle", 0, 6, 5), false);
});

Deno.test("drawing blends with the existing pixel, not with black", () => {
  const img = blankImage(2, 2, [100, 100, 100]);
  drawShape(img, { shape: "circle", cx: 1, cy: 1, radius: 1, rgb: [200, 0, 0] });
  // 3 of 4 samples inside: (3*200 + 100 + 2) >> 2 = 175; green (3*0 + 100 + 2) >> 2 = 25.
  assertEquals(Array.from(img.data.subarray(0, 3)), [175, 25, 25]);
});
