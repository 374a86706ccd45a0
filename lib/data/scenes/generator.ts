/**
 * Procedural scenes: 1–4 objects, each in its own cell of a 3×3 grid, with a random shape,
 * colour and size. Scene `i` of a split depends only on (seed, split, i).
 *
 * @module
 */
import { hashString, mixSeed, Prng } from "../../random.ts";
import { blankImage, drawShape, type RgbImage } from "./rasterizer.ts";
import {
  BACKGROUND,
  type Color,
  COLOR_NAMES,
  COLORS,
  IMAGE_SIZE,
  type Place,
  PLACES,
  type Shape,
  SHAPES,
  type Size,
  SIZES,
} from "./vocabulary.ts";

/** One object of a scene. */
export interface SceneObject {
  /** Outline. */
  shape: Shape;
  /** Colour name. */
  color: Color;
  /** Size word. */
  size: Size;
  /** Place word of its grid cell. */
  place: Place;
  /** Grid cell, row-major 0..8 (same order as {@link PLACES}). */
  cell: number;
  /** Centre column in pixels. */
  cx: number;
  /** Centre row in pixels. */
  cy: number;
}

/** A generated scene; objects are sorted by cell (reading order), which is description order. */
export interface Scene {
  /** Stable identifier, e.g. `train-000042`. */
  id: string;
  /** Objects in reading order. */
  objects: SceneObject[];
}

/** Pixel radius of each size. */
export const SIZE_RADIUS: Record<Size, number> = { small: 4, large: 8 };

/** Start pixel of grid column/row `k` (0..3): 0, 21, 42, 64. */
export function cellStart(k: number): number {
  return Math.floor((k * IMAGE_SIZE) / 3);
}

/** Generates scene `index` of `split` from `seed`. */
export function generateScene(seed: number, split: string, index: number): Scene {
  const rng = new Prng(mixSeed(seed, hashString(split), index));
  const count = rng.range(1, 4);
  const cells = rng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8]).slice(0, count).sort((a, b) => a - b);
  const objects = cells.map((cell): SceneObject => {
    const row = Math.floor(cell / 3), col = cell % 3;
    const shape = rng.pick(SHAPES), color = rng.pick(COLOR_NAMES), size = rng.pick(SIZES);
    // Centre of the cell plus a small jitter that keeps even large shapes inside their cell.
    const cx = Math.floor((cellStart(col) + cellStart(col + 1)) / 2) + rng.range(-2, 2);
    const cy = Math.floor((cellStart(row) + cellStart(row + 1)) / 2) + rng.range(-2, 2);
    return { shape, color, size, place: PLACES[cell], cell, cx, cy };
  });
  return { id: `${split}-${String(index).padStart(6, "0")}`, objects };
}

/** Renders a scene at the model resolution ({@link IMAGE_SIZE}²). */
export function renderScene(scene: Scene): RgbImage {
  const image = blankImage(IMAGE_SIZE, IMAGE_SIZE, BACKGROUND);
  for (const o of scene.objects) {
    drawShape(image, {
      shape: o.shape,
      cx: o.cx,
      cy: o.cy,
      radius: SIZE_RADIUS[o.size],
      rgb: COLORS[o.color],
    });
  }
  return image;
}
