/**
 * Figures: small functions from data + options to an Observable Plot spec
 * ({@link budgetCurves}, {@link lorenzCurves}, {@link layerLines}, {@link layerHeatmap}),
 * headless rendering to SVG and PNG ({@link renderSvg}, {@link svgToPng}, {@link writeFigure})
 * and inline display in Deno notebooks ({@link display}).
 *
 * @module
 */
export * from "./render.ts";
export * from "./figures.ts";
export * from "./display.ts";
