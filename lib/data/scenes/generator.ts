/**
 * Procedural scenes: 1–4 objects (style `rich`: 2–6), each in its own cell of a 3×3 grid, with
 * a random shape, colour and size. Scene `i` of a split depends only on (seed, split, i, style).
 *
 * @module
 */
import { hashString, mixSeed, Prng } from "../../random.ts";
import { blankImage, drawShape, type RgbImage } from "./rasterizer.ts";
import { drawTexture, type SceneStyle, STYLE_SPECS } from "./styles.ts";
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
  /** Style, absent for `basic` (so basic scenes serialise exactly as they always have). */
  style?: Exclude<SceneStyle, "basic">;
  /** Seed of the background texture (styles with a textured background). */
  backgroundSeed?: number;
}

/** Pixel radius of each size. */
export const SIZE_RADIUS: Record<Size, number> = { small: 4, large: 8 };

/** Start pixel of grid column/row `k` (0..3): 0, 21, 42, 64. */
export function cellStart(k: number): number {
  return Math.floor((k * IMAGE_SIZE) / 3);
}

/** Generates scene `index` of `split` from `seed`, in `style` (default `basic`). */
export function generateScene(
  seed: number,
  split: string,
  index: number,
  style: SceneStyle = "basic",
): Scene {
  if (style !== "basic") return generateStyledScene(seed, split, index, style);
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

/**
 * The basic generator's layout with a style's sizes: its own random stream (a fifth seed part),
 * its object count range, and the cell bounds of its image size.
 */
function generateStyledScene(
  seed: number,
  split: string,
  index: number,
  style: Exclude<SceneStyle, "basic">,
): Scene {
  const spec = STYLE_SPECS[style];
  const rng = new Prng(mixSeed(seed, hashString(split), index, hashString(style)));
  const count = rng.range(spec.minObjects, spec.maxObjects);
  const cells = rng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8]).slice(0, count).sort((a, b) => a - b);
  const start = (k: number) => Math.floor((k * spec.imageSize) / 3);
  const objects = cells.map((cell): SceneObject => {
    const row = Math.floor(cell / 3), col = cell % 3;
    const shape = rng.pick(SHAPES), color = rng.pick(COLOR_NAMES), size = rng.pick(SIZES);
    const cx = Math.floor((start(col) + start(col + 1)) / 2) + rng.range(-spec.jitter, spec.jitter);
    const cy = Math.floor((start(row) + start(row + 1)) / 2) + rng.range(-spec.jitter, spec.jitter);
    return { shape, color, size, place: PLACES[cell], cell, cx, cy };
  });
  const id = `${split}-${String(index).padStart(6, "0")}`;
  return { id, objects, style, backgroundSeed: rng.int(2 ** 31) };
}

/** The style a scene was generated in. */
export function sceneStyle(scene: Scene): SceneStyle {
  return scene.style ?? "basic";
}

/** Renders a scene at its style's resolution ({@link IMAGE_SIZE}² for `basic`). */
export function renderScene(scene: Scene): RgbImage {
  if (scene.style !== undefined) return renderStyledScene(scene);
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

function renderStyledScene(scene: Scene): RgbImage {
  const spec = STYLE_SPECS[sceneStyle(scene)];
  const image = blankImage(spec.imageSize, spec.imageSize, BACKGROUND);
  if (spec.background === "texture") drawTexture(image, scene.backgroundSeed ?? 0);
  for (const o of scene.objects) {
    drawShape(image, {
      shape: o.shape,
      cx: o.cx,
      cy: o.cy,
      radius: spec.sizeRadius[o.size],
      rgb: COLORS[o.color],
    });
  }
  return image;
}

/**
 * Per object, which pixels it covers (1 where any of its rasterizer's sub-samples is inside),
 * row-major over the scene's image: the object's own pixels, whatever the background under it.
 */
export function objectPixelMasks(scene: Scene): Uint8Array[] {
  const spec = STYLE_SPECS[sceneStyle(scene)];
  return scene.objects.map((o) => {
    // Drawn white on black, a pixel changes exactly when a sub-sample falls inside.
    const img = blankImage(spec.imageSize, spec.imageSize, [0, 0, 0]);
    drawShape(img, {
      shape: o.shape,
      cx: o.cx,
      cy: o.cy,
      radius: spec.sizeRadius[o.size],
      rgb: [255, 255, 255],
    });
    const mask = new Uint8Array(spec.imageSize * spec.imageSize);
    for (let i = 0; i < mask.length; i++) mask[i] = img.data[i * 3] > 0 ? 1 : 0;
    return mask;
  });
}
