/**
 * Scene styles: `basic` is the original 64×64 world (1–4 objects on flat dark grey, what the
 * bundled tiny LLaVA was trained on); `rich` is a 224×224 world with 2–6 objects on a varied,
 * uninformative grey texture, so that a model reading it at patch 14 or 16 (196–256 image
 * tokens, close to CLIP-B's 196) sees each object spread over many patches and most patches
 * showing nothing but background, as in natural images.
 *
 * @example
 * ```ts
 * import { STYLE_SPECS } from "./styles.ts";
 * console.log(STYLE_SPECS.rich.imageSize / 16); // 14 patches per side at patch 16
 * ```
 *
 * @module
 */
import { Prng } from "../../random.ts";
import { InputError } from "../../errors.ts";
import type { RgbImage } from "./rasterizer.ts";
import type { Size } from "./vocabulary.ts";

/** Names of the scene styles. */
export const SCENE_STYLES = ["basic", "rich"] as const;
/** One of {@link SCENE_STYLES}. */
export type SceneStyle = typeof SCENE_STYLES[number];

/** The geometry and background of a style. */
export interface StyleSpec {
  /** Side of the square image in pixels. */
  imageSize: number;
  /** Fewest objects per scene. */
  minObjects: number;
  /** Most objects per scene (at most 9, one per grid cell). */
  maxObjects: number;
  /** Pixel radius of each size. */
  sizeRadius: Record<Size, number>;
  /** Largest centre offset from the cell centre, in pixels (keeps large shapes in their cell). */
  jitter: number;
  /** `flat`: the one background colour; `texture`: a per-scene grey texture. */
  background: "flat" | "texture";
}

/** Every style's spec. `basic` must never change: the bundled model and its goldens use it. */
export const STYLE_SPECS: Readonly<Record<SceneStyle, Readonly<StyleSpec>>> = {
  basic: {
    imageSize: 64,
    minObjects: 1,
    maxObjects: 4,
    sizeRadius: { small: 4, large: 8 },
    jitter: 2,
    background: "flat",
  },
  // Cells are 74–75 px wide: a large shape (radius 24) plus jitter 8 stays 5 px inside its cell.
  rich: {
    imageSize: 224,
    minObjects: 2,
    maxObjects: 6,
    sizeRadius: { small: 12, large: 24 },
    jitter: 8,
    background: "texture",
  },
};

/** Checks a style name (from a flag or a file); names the choices when it is unknown. */
export function checkSceneStyle(name: string, what = "style"): SceneStyle {
  if (!(SCENE_STYLES as readonly string[]).includes(name)) {
    throw new InputError(
      `${what}: unknown scene style "${name}"; use ${SCENE_STYLES.join(" or ")}`,
    );
  }
  return name as SceneStyle;
}

/**
 * The style whose images are `imageSize` pixels wide: the scenes a vision tower of that input
 * size reads without resizing (64: `basic`, 224: `rich`).
 *
 * @throws InputError when no style draws images of that size
 */
export function styleForImageSize(imageSize: number): SceneStyle {
  const style = SCENE_STYLES.find((s) => STYLE_SPECS[s].imageSize === imageSize);
  if (!style) {
    const sizes = SCENE_STYLES.map((s) => `${s}: ${STYLE_SPECS[s].imageSize}`).join(", ");
    throw new InputError(
      `no scene style draws ${imageSize}-pixel images (${sizes}); give a scene model`,
    );
  }
  return style;
}

/** Lattice spacings the texture picks from: coarse blotches to fine mottling. */
const TEXTURE_SPACINGS = [16, 28, 56] as const;

/**
 * Fills `image` with the `rich` background drawn from `seed`: a dark grey base (25–75) with a
 * small per-channel tint (±6), smooth value noise (a random lattice of ±18 offsets, bilinear
 * between lattice points) and per-pixel grain (±5). It is grey and dim everywhere, so it tells
 * nothing about the saturated objects drawn over it. Integer arithmetic only: byte-identical on
 * every machine.
 */
export function drawTexture(image: RgbImage, seed: number): void {
  const rng = new Prng(seed);
  const base = rng.range(25, 75);
  const tint = [rng.range(-6, 6), rng.range(-6, 6), rng.range(-6, 6)];
  const step = rng.pick(TEXTURE_SPACINGS);
  const nx = Math.ceil(image.width / step) + 1, ny = Math.ceil(image.height / step) + 1;
  const lattice = Array.from({ length: nx * ny }, () => rng.range(-18, 18));
  const area = step * step;
  for (let y = 0; y < image.height; y++) {
    const gy = Math.floor(y / step), fy = y - gy * step;
    for (let x = 0; x < image.width; x++) {
      const gx = Math.floor(x / step), fx = x - gx * step;
      const at = (i: number, j: number) => lattice[j * nx + i];
      const blend = (step - fx) * (step - fy) * at(gx, gy) + fx * (step - fy) * at(gx + 1, gy) +
        (step - fx) * fy * at(gx, gy + 1) + fx * fy * at(gx + 1, gy + 1);
      // Round half away from zero with integers only (blend / area is exact in doubles here).
      const smooth = Math.sign(blend) * Math.floor((2 * Math.abs(blend) + area) / (2 * area));
      const grain = rng.range(-5, 5);
      const o = (y * image.width + x) * 3;
      for (let c = 0; c < 3; c++) {
        image.data[o + c] = Math.max(0, Math.min(255, base + tint[c] + smooth + grain));
      }
    }
  }
}
