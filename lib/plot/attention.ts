/**
 * Figures of one prompt's attention: head-averaged attention maps of chosen layers
 * ({@link attentionMaps}), each layer's importance over the prompt with the image span marked
 * ({@link importanceOverPrompt}) and the prefix cumulative priority curves P_l(o)
 * ({@link priorityCurves}), per layer or per sample.
 *
 * @example The importance of two layers over a 10-position prompt
 * ```ts
 * import { importanceOverPrompt } from "./attention.ts";
 * import { renderSvg } from "./render.ts";
 * const importance = [0, 1].map((l) => Array.from({ length: 10 }, (_, i) => 1 + ((i * (l + 2)) % 5)));
 * const spec = importanceOverPrompt(importance, { imageSpan: { start: 2, end: 6 } });
 * console.log(renderSvg(spec).length > 0);
 * ```
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { PlotSpec } from "./render.ts";

/** A 2-D matrix read through `get(row, column)`, such as an `ndarray` view. */
export interface MatrixView {
  /** `[rows, columns]`. */
  readonly shape: readonly number[];
  /** The entry at `(i, j)`. */
  get(i: number, j: number): number;
}

/** One attention map to draw. */
export interface AttentionMap {
  /** Layer index (the panel title). */
  layer: number;
  /** `[N, N]` head-averaged attention, row = query, column = key. */
  matrix: MatrixView;
}

/** Options of {@link attentionMaps}. */
export interface AttentionMapOptions {
  /** Image-feature positions `[start, end)`, marked by lines on both axes. */
  imageSpan?: { start: number; end: number };
  /** Side of one panel in pixels (default 220). */
  panelSize?: number;
}

interface MapCell {
  layer: string;
  query: number;
  key: number;
  value: number;
}

/**
 * Head-averaged attention maps, one panel per layer: query rows down, key columns across, a
 * logarithmic viridis scale (attention spans orders of magnitude; yellow is high) and the
 * causal zeros left blank. Thousands of cells: show with `format: "png"` in a notebook.
 */
export function attentionMaps(
  maps: readonly AttentionMap[],
  opts: AttentionMapOptions = {},
): PlotSpec {
  if (maps.length === 0) throw new Error("attentionMaps: give at least one layer's matrix");
  const cells: MapCell[] = [];
  for (const { layer, matrix } of maps) {
    const [rows, cols] = matrix.shape;
    if (matrix.shape.length !== 2 || rows !== cols) {
      throw new Error(
        `attentionMaps: layer ${layer}'s matrix has shape [${matrix.shape}], not [N, N]`,
      );
    }
    for (let q = 0; q < rows; q++) {
      for (let k = 0; k <= q; k++) {
        const value = matrix.get(q, k);
        if (value > 0) cells.push({ layer: `L${layer}`, query: q, key: k, value });
      }
    }
  }
  const n = maps[0].matrix.shape[0];
  const size = opts.panelSize ?? 220;
  const span = opts.imageSpan;
  const spanRules: Plot.Markish[] = span
    ? [
      Plot.ruleX([span.start, span.end], { stroke: "#2a9d8f", strokeDasharray: "3,2" }),
      Plot.ruleY([span.start, span.end], { stroke: "#2a9d8f", strokeDasharray: "3,2" }),
    ]
    : [];
  return {
    width: maps.length * (size + 16) + 60,
    height: size + 70,
    marginLeft: 40,
    marginBottom: 36,
    x: { domain: [0, n], label: "key position", ticks: 4 },
    y: { domain: [0, n], reverse: true, label: "query position", ticks: 4 },
    fx: { label: null, domain: maps.map((m) => `L${m.layer}`), padding: 0.08 },
    // No legend: the headless renderer draws swatches, which a continuous scale does not have.
    color: { type: "log", scheme: "viridis", label: "attention" },
    marks: [
      Plot.rect(cells, {
        x1: "key",
        x2: (d: MapCell) => d.key + 1,
        y1: "query",
        y2: (d: MapCell) => d.query + 1,
        fx: "layer",
        fill: "value",
        shapeRendering: "crispEdges",
        className: "attention-cell",
      }),
      ...spanRules,
      Plot.frame({ stroke: "#ccc" }),
    ],
  };
}

/** Options of {@link importanceOverPrompt}. */
export interface ImportanceOverPromptOptions {
  /** Layers to draw (default all). */
  layers?: readonly number[];
  /** Image-feature positions `[start, end)`, shaded. */
  imageSpan?: { start: number; end: number };
  /** Width in pixels (default 640). */
  width?: number;
}

/**
 * Each layer's importance over the prompt's positions as its share of the layer's total, one
 * row per layer, with the image span shaded.
 */
export function importanceOverPrompt(
  importance: readonly ArrayLike<number>[],
  opts: ImportanceOverPromptOptions = {},
): PlotSpec {
  const layers = opts.layers ?? importance.map((_, l) => l);
  const rows = layers.flatMap((l) => {
    const scores = importance[l];
    if (!scores) {
      throw new Error(`importanceOverPrompt: no layer ${l} (${importance.length} given)`);
    }
    let total = 0;
    for (let i = 0; i < scores.length; i++) total += scores[i];
    return Array.from(scores, (s, position) => ({ layer: `L${l}`, position, share: s / total }));
  });
  const span = opts.imageSpan;
  const shade: Plot.Markish[] = span
    ? [
      Plot.rectX(layers.map((l) => ({ layer: `L${l}` })), {
        x1: span.start - 0.5,
        x2: span.end - 0.5,
        fy: "layer",
        fill: "#2a9d8f",
        fillOpacity: 0.12,
        className: "image-span",
      }),
    ]
    : [];
  return {
    width: opts.width ?? 640,
    height: 40 + layers.length * 70,
    marginLeft: 50,
    marginRight: 40,
    x: { label: "prompt position" + (span ? " (shaded: image patches)" : "") },
    y: { label: "share", tickFormat: "%", ticks: 2 },
    fy: { label: null, domain: layers.map((l) => `L${l}`) },
    marks: [
      ...shade,
      Plot.areaY(rows, { x: "position", y: "share", fy: "layer", fill: "#457b9d", opacity: 0.35 }),
      Plot.lineY(rows, { x: "position", y: "share", fy: "layer", stroke: "#1d3557" }),
    ],
  };
}

/** One prefix cumulative priority curve P(o), sampled at evenly spaced o in [0, 1]. */
export interface PriorityCurve {
  /** Layer index. */
  layer: number;
  /** Sample name when curves of several samples are compared. */
  sample?: string;
  /** P at o = i / (points − 1), i = 0..points − 1 (as in `LayerAnalysis.prefixCurve`). */
  prefixCurve: readonly number[];
}

/**
 * Prefix cumulative priority curves P_l(o): the share of a layer's importance held by its most
 * important fraction o of entries (`analyzeImportance(…).layers` can be passed as is). One panel with a line per layer; with several samples, one
 * panel per layer with a line per sample (how alike the samples are is the case for offline
 * calibration).
 */
export function priorityCurves(
  curves: readonly PriorityCurve[],
  opts: { width?: number } = {},
): PlotSpec {
  const samples = new Set(curves.map((c) => c.sample ?? ""));
  const rows = curves.flatMap((c) =>
    c.prefixCurve.map((p, i) => ({
      o: c.prefixCurve.length === 1 ? 1 : i / (c.prefixCurve.length - 1),
      p,
      layer: `L${c.layer}`,
      sample: c.sample ?? "",
    }))
  );
  const axes = {
    x: { label: "o: fraction of entries kept, most important first", domain: [0, 1] },
    y: { label: "P(o): importance kept", domain: [0, 1] },
    grid: true,
  };
  if (samples.size <= 1) {
    return {
      width: opts.width ?? 520,
      height: 380,
      ...axes,
      color: { legend: true, label: "layer", type: "ordinal", scheme: "viridis" },
      marks: [Plot.line(rows, { x: "o", y: "p", stroke: "layer", className: "priority-curve" })],
    };
  }
  const layers = [...new Set(rows.map((r) => r.layer))];
  const columns = Math.min(4, layers.length);
  const at = (r: { layer: string }) => layers.indexOf(r.layer);
  return {
    width: opts.width ?? 760,
    height: 40 + Math.ceil(layers.length / columns) * 170,
    ...axes,
    fx: { axis: null },
    fy: { axis: null },
    color: { legend: true, label: "sample", type: "ordinal", scheme: "tableau10" },
    marks: [
      Plot.line(rows, {
        x: "o",
        y: "p",
        stroke: "sample",
        fx: (r) => at(r) % columns,
        fy: (r) => Math.floor(at(r) / columns),
        strokeOpacity: 0.8,
        className: "priority-curve",
      }),
      Plot.text(layers.map((layer) => ({ layer })), {
        text: "layer",
        fx: (r) => at(r) % columns,
        fy: (r) => Math.floor(at(r) / columns),
        frameAnchor: "bottom-right",
        dx: -4,
        dy: -4,
        fontWeight: "bold",
      }),
      Plot.frame({ stroke: "#ddd" }),
    ],
  };
}
