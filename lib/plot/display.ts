/**
 * Figures in a Jupyter notebook with the Deno kernel: {@link display} turns a figure spec into a
 * value the kernel shows as an inline SVG (the kernel renders any object with a
 * `Symbol.for("Jupyter.display")` method). Outside a notebook the value is inert.
 *
 * @example
 * ```ts
 * import * as Plot from "@observablehq/plot";
 * import { display } from "./display.ts";
 * const shown = display({ marks: [Plot.lineY([1, 3, 2])] });
 * console.log(shown.svg.length > 0);
 * ```
 *
 * @module
 */
import { type PlotSpec, renderSvg } from "./render.ts";

/** A rendered figure the Deno Jupyter kernel displays inline. */
export interface Displayable {
  /** The standalone SVG. */
  readonly svg: string;
  /** The kernel's display hook: the SVG as `image/svg+xml`. */
  [key: symbol]: () => Record<string, string>;
}

/** Renders `spec` and wraps it for inline display in a notebook. */
export function display(spec: PlotSpec): Displayable {
  const svg = renderSvg(spec);
  return { svg, [Symbol.for("Jupyter.display")]: () => ({ "image/svg+xml": svg }) };
}
