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
export { type PlotSpec, type PngOptions, renderSvg, svgToPng, writeFigure } from "./render.ts";
export {
  budgetCurves,
  type BudgetCurvesOptions,
  type BudgetPoint,
  type HeatCell,
  type HeatmapOptions,
  layerHeatmap,
  layerLines,
  type LayerPoint,
  lorenzCurves,
  type LorenzSeries,
} from "./figures.ts";
export { display, type Displayable } from "./display.ts";
export {
  type JupyterDisplay,
  markdownTable,
  type Progress,
  progressLine,
  provenanceMarkdown,
  showFigure,
  type ShowFigureOptions,
  showMarkdown,
  showProgress,
  showProvenance,
  showTable,
} from "./notebook.ts";
export {
  type AttentionMap,
  type AttentionMapOptions,
  attentionMaps,
  importanceOverPrompt,
  type ImportanceOverPromptOptions,
  type MatrixView,
  type PriorityCurve,
  priorityCurves,
} from "./attention.ts";
export {
  imagePatchValues,
  keptPatches,
  type ObjectPatches,
  objectPatches,
  type ObjectPatchOptions,
  type PatchFigureOptions,
  patchHeatmap,
  type PatchPanel,
} from "./patch_grid.ts";
export {
  keptOverPrompt,
  type KeptRatio,
  keptRatioBars,
  type KeptRows,
  keptTokensMarkdown,
  type KeptTokensOptions,
} from "./kept.ts";
export { type LatencyPoint, latencyVsBudget, type RooflinePoint } from "./efficiency.ts";
