/**
 * The experiments' figures as data + options → an Observable Plot spec ({@link PlotSpec}).
 * Each function takes plain rows, so a notebook can draw the same figure from its own numbers;
 * render with `renderSvg`/`writeFigure`, or show inline with `display`.
 *
 * @example PPL against the budget, one line per recipe
 * ```ts
 * import { budgetCurves } from "./figures.ts";
 * import { renderSvg } from "./render.ts";
 * const spec = budgetCurves([
 *   { recipe: "prefixkv", budget: 0.2, value: 3.7 },
 *   { recipe: "prefixkv", budget: 0.5, value: 3.4 },
 *   { recipe: "local", budget: 0.2, value: 105 },
 *   { recipe: "local", budget: 0.5, value: 33.8 },
 * ], { label: "PPL", logY: true, reference: 3.2 });
 * console.log(renderSvg(spec).length > 0);
 * ```
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { PlotSpec } from "./render.ts";

/**
 * Twenty distinguishable colours (pairs of a strong and a light tone), so that a sweep of more
 * recipes than a ten-colour scheme has never repeats a colour.
 */
export const SERIES_COLORS: readonly string[] = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
  "#aec7e8",
  "#ffbb78",
  "#98df8a",
  "#ff9896",
  "#c5b0d5",
  "#c49c94",
  "#f7b6d2",
  "#c7c7c7",
  "#dbdb8d",
  "#9edae5",
];

/** One value of one recipe at one budget. */
export interface BudgetPoint {
  /** Series name (a recipe label). */
  recipe: string;
  /** Kept fraction in (0, 1]. */
  budget: number;
  /** The measured value. */
  value: number;
}

/** Options of {@link budgetCurves}. */
export interface BudgetCurvesOptions {
  /** Y axis label, e.g. `"PPL"`. */
  label: string;
  /** Logarithmic y axis (PPL spans orders of magnitude). */
  logY?: boolean;
  /** Y values are fractions: show them as percentages. */
  percentY?: boolean;
  /** A horizontal reference line, e.g. the full-cache value. */
  reference?: number;
  /** Width in pixels (default 640). */
  width?: number;
  /** Height in pixels (default 360). */
  height?: number;
}

/** A metric against the kept budget, one coloured line per recipe (the paper's Table 1 as lines). */
export function budgetCurves(points: readonly BudgetPoint[], opts: BudgetCurvesOptions): PlotSpec {
  const marks: Plot.Markish[] = [
    Plot.lineY(points, { x: "budget", y: "value", stroke: "recipe", z: "recipe", sort: "budget" }),
    Plot.dot(points, { x: "budget", y: "value", fill: "recipe", r: 2.5 }),
  ];
  if (opts.reference !== undefined) {
    marks.unshift(Plot.ruleY([opts.reference], { stroke: "#888", strokeDasharray: "4,3" }));
  }
  return {
    width: opts.width ?? 640,
    height: opts.height ?? 360,
    marginLeft: 50,
    grid: true,
    x: { label: "KV budget kept (%)", percent: true },
    y: {
      label: opts.label,
      type: opts.logY ? "log" : "linear",
      percent: opts.percentY ?? false,
      ...(opts.percentY ? { domain: [0, 100] } : {}),
    },
    color: {
      legend: true,
      label: "recipe",
      type: "categorical",
      domain: [...new Set(points.map((p) => p.recipe))],
      range: [...SERIES_COLORS],
    },
    marks,
  };
}

/** One layer's Lorenz curve, sampled. */
export interface LorenzSeries {
  /** Layer index. */
  layer: number;
  /** The curve's points: x = share of entries (least important first), y = share of importance. */
  points: readonly { x: number; y: number }[];
  /** Gini coefficient of the layer (shown in the legend). */
  gini: number;
}

/** Per-layer Lorenz curves of importance with the line of equality (paper §4.4). */
export function lorenzCurves(
  series: readonly LorenzSeries[],
  opts: { width?: number } = {},
): PlotSpec {
  const rows = series.flatMap((s) =>
    s.points.map((p) => ({ ...p, layer: `L${s.layer} (G=${s.gini.toFixed(2)})` }))
  );
  return {
    width: opts.width ?? 520,
    height: 420,
    grid: true,
    x: { label: "share of entries, least important first", domain: [0, 1] },
    y: { label: "share of importance", domain: [0, 1] },
    color: { legend: true, label: "layer", type: "ordinal", scheme: "viridis" },
    marks: [
      Plot.line([{ x: 0, y: 0 }, { x: 1, y: 1 }], {
        x: "x",
        y: "y",
        stroke: "#aaa",
        strokeDasharray: "4,3",
      }),
      Plot.line(rows, { x: "x", y: "y", stroke: "layer", z: "layer" }),
    ],
  };
}

/** One value per layer and series (e.g. Gini per layer per data set). */
export interface LayerPoint {
  /** Layer index. */
  layer: number;
  /** Series name. */
  series: string;
  /** The value. */
  value: number;
}

/** A per-layer quantity as lines over depth, one per series (Gini, image share, recall…). */
export function layerLines(
  points: readonly LayerPoint[],
  opts: { label: string; seriesLabel: string; percentY?: boolean; width?: number },
): PlotSpec {
  return {
    width: opts.width ?? 560,
    height: 320,
    grid: true,
    x: { label: "layer", tickFormat: "d" },
    y: { label: opts.label, percent: opts.percentY ?? false },
    color: { legend: true, label: opts.seriesLabel, type: "ordinal", scheme: "turbo" },
    marks: [
      Plot.lineY(points, { x: "layer", y: "value", stroke: "series", z: "series", sort: "layer" }),
      Plot.dot(points, { x: "layer", y: "value", fill: "series", r: 2 }),
    ],
  };
}

/** One heat-map cell: a layer, a column (budget or recipe), a value. */
export interface HeatCell {
  /** Layer index (rows). */
  layer: number;
  /** Column key, e.g. `"20%"`. */
  column: string;
  /** Cell value. */
  value: number;
}

/** Options of {@link layerHeatmap}. */
export interface HeatmapOptions {
  /** Colour legend label, e.g. `"kept ratio"`. */
  label: string;
  /** Column axis label, e.g. `"budget"`. */
  columnLabel: string;
  /** Values are fractions: print them as percentages. */
  percent?: boolean;
  /** Column order (default: first appearance). */
  columns?: readonly string[];
  /** Colour domain (default [0, 1] for percentages, else the data's extent). */
  domain?: [number, number];
}

/**
 * Layers × columns as coloured cells with the value printed in each: the kept ratio per layer at
 * each budget (like the reference's config tables), image shares, object-patch recall.
 */
export function layerHeatmap(cells: readonly HeatCell[], opts: HeatmapOptions): PlotSpec {
  const columns = opts.columns ?? [...new Set(cells.map((c) => c.column))];
  const layers = [...new Set(cells.map((c) => c.layer))].sort((a, b) => a - b);
  const fmt = (v: number) => (opts.percent ? (100 * v).toFixed(0) : v.toFixed(2));
  const domainMax = opts.domain?.[1] ?? (opts.percent ? 1 : Math.max(...cells.map((c) => c.value)));
  return {
    width: Math.max(360, 70 + columns.length * 52),
    height: 50 + layers.length * 26,
    marginLeft: 50,
    padding: 0.04,
    x: { label: opts.columnLabel, domain: [...columns], axis: "top" },
    y: { label: "layer", domain: layers, tickFormat: (l: number) => `L${l}` },
    color: {
      scheme: "blues",
      domain: opts.domain ?? (opts.percent ? [0, 1] : undefined),
      label: opts.label,
    },
    marks: [
      Plot.cell(cells, { x: "column", y: "layer", fill: "value" }),
      // Dark cells get white text; two marks, because a text colour is not a scale value.
      ...[true, false].map((dark) =>
        Plot.text(cells.filter((c) => (c.value > 0.6 * (domainMax ?? 1)) === dark), {
          x: "column",
          y: "layer",
          text: (c: HeatCell) => fmt(c.value),
          fill: dark ? "white" : "black",
        })
      ),
    ],
  };
}
