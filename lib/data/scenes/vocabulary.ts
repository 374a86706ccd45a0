/**
 * The closed world of the synthetic scenes: shapes, colours, sizes and the 3×3 places, with the
 * exact words used in descriptions and questions.
 *
 * @module
 */

/** Shapes an object can have. */
export const SHAPES = ["circle", "square", "triangle", "diamond"] as const;
/** One of {@link SHAPES}. */
export type Shape = typeof SHAPES[number];

/** Colour names with their RGB values (saturated, far apart, all distinct from the background). */
export const COLORS = {
  red: [220, 40, 40],
  green: [40, 180, 60],
  blue: [50, 90, 230],
  yellow: [235, 215, 40],
  purple: [150, 60, 200],
  orange: [245, 140, 30],
} as const;
/** One of the keys of {@link COLORS}. */
export type Color = keyof typeof COLORS;
/** Colour names in a fixed order. */
export const COLOR_NAMES = Object.keys(COLORS) as Color[];

/** Object sizes. */
export const SIZES = ["small", "large"] as const;
/** One of {@link SIZES}. */
export type Size = typeof SIZES[number];

/**
 * Place words of the 3×3 grid in row-major order: index = row * 3 + column. Each is one or two
 * plain words so descriptions stay easy to parse.
 */
export const PLACES = [
  "top left",
  "top",
  "top right",
  "left",
  "center",
  "right",
  "bottom left",
  "bottom",
  "bottom right",
] as const;
/** One of {@link PLACES}. */
export type Place = typeof PLACES[number];

/** Count words for 1..6 objects (index = count; `basic` scenes use up to four). */
export const COUNT_WORDS = ["zero", "one", "two", "three", "four", "five", "six"] as const;

/** Background colour of every image (dark grey). */
export const BACKGROUND: readonly [number, number, number] = [40, 40, 40];

/** Side of the square images in pixels (the model's input resolution, so no resizing happens). */
export const IMAGE_SIZE = 64;
