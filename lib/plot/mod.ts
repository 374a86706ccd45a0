/**
 * Figures: small functions from data + options to an Observable Plot spec
 * ({@link budgetCurves}, {@link lorenzCurves}, {@link layerLines}, {@link layerHeatmap}),
 * headless rendering to SVG and PNG ({@link renderSvg}, {@link svgToPng}, {@link writeFigure})
 * and inline display in Deno notebooks ({@link display}; awaited displays and progress lines
 * in `notebook.ts`). The notebooks' own figures: attention maps, importance over the prompt and
 * P_l(o) (`attention.ts`), the patch grid (`patch_grid.ts`), kept entries (`kept.ts`) and the
 * decode roofline (`efficiency.ts`).
 *
 * @module
 */
export * from "./render.ts";
export * from "./figures.ts";
export * from "./display.ts";
export * from "./notebook.ts";
export * from "./attention.ts";
export * from "./patch_grid.ts";
export * from "./kept.ts";
export * from "./efficiency.ts";
