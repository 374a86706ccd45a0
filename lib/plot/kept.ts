/**
 * Figures of what recipes keep: kept and evicted prompt positions per layer, one block per
 * recipe ({@link keptOverPrompt}), one layer's kept prompt as Markdown text
 * ({@link keptTokensMarkdown}), and per-layer kept ratios at several budgets as grouped bars
 * ({@link keptRatioBars}).
 *
 * @example Kept ratios of two layers at two budgets
 * ```ts
 * import { keptRatioBars } from "./kept.ts";
 * import { renderSvg } from "./render.ts";
 * const spec = keptRatioBars([
 *   { layer: 0, budget: "20%", ratio: 0.1 }, { layer: 1, budget: "20%", ratio: 0.3 },
 *   { layer: 0, budget: "50%", ratio: 0.4 }, { layer: 1, budget: "50%", ratio: 0.6 },
 * ]);
 * console.log(renderSvg(spec).length > 0);
 * ```
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { PlotSpec } from "./render.ts";

/** One recipe's kept/evicted mask of each layer over the prompt. */
export interface KeptRows {
  /** Recipe label. */
  recipe: string;
  /** Per layer, 1 (kept) or 0 (evicted) per prompt position. */
  masks: readonly (readonly number[])[];
}

/**
 * Kept prompt positions per layer, one block of rows per recipe: a dark cell is kept, the image
 * span is shaded underneath.
 */
export function keptOverPrompt(
  rows: readonly KeptRows[],
  opts: { imageSpan?: { start: number; end: number }; width?: number } = {},
): PlotSpec {
  const cells = rows.flatMap((r) =>
    r.masks.flatMap((mask, layer) =>
      mask.flatMap((k, position) => k ? [{ recipe: r.recipe, layer, position }] : [])
    )
  );
  const layers = Math.max(...rows.map((r) => r.masks.length));
  const span = opts.imageSpan;
  return {
    width: opts.width ?? 680,
    height: 30 + rows.length * (layers * 9 + 22),
    marginLeft: 110,
    x: { label: "prompt position" + (span ? " (shaded: image patches)" : "") },
    y: { label: null, domain: Array.from({ length: layers }, (_, l) => l), axis: null },
    fy: { label: null, domain: rows.map((r) => r.recipe) },
    marks: [
      ...(span
        ? [Plot.rectX(rows, {
          x1: span.start,
          x2: span.end,
          fy: "recipe",
          fill: "#2a9d8f",
          fillOpacity: 0.15,
        })]
        : []),
      Plot.rect(cells, {
        x1: "position",
        x2: (d) => d.position + 1,
        y1: "layer",
        y2: (d) => d.layer + 1,
        fy: "recipe",
        fill: "#1d3557",
        className: "kept-cell",
      }),
      Plot.frame({ stroke: "#ccc" }),
    ],
  };
}

/** One layer's kept ratio at one budget. */
export interface KeptRatio {
  /** Layer index. */
  layer: number;
  /** Budget label, e.g. `"20%"`. */
  budget: string;
  /** Kept fraction of the layer's entries. */
  ratio: number;
}

/** Per-layer kept ratios as bars grouped by layer, one colour per budget. */
export function keptRatioBars(rows: readonly KeptRatio[], opts: { width?: number } = {}): PlotSpec {
  const budgets = [...new Set(rows.map((r) => r.budget))];
  return {
    width: opts.width ?? 640,
    height: 300,
    marginLeft: 50,
    x: { axis: null, domain: budgets },
    fx: { label: "layer", tickFormat: (l: number) => `L${l}` },
    y: { label: "kept ratio (%)", percent: true, grid: true },
    color: { legend: true, label: "budget", domain: budgets, type: "ordinal", scheme: "viridis" },
    marks: [
      Plot.barY(rows, {
        fx: "layer",
        x: "budget",
        y: "ratio",
        fill: "budget",
        className: "kept-bar",
      }),
      Plot.ruleY([0]),
    ],
  };
}

/** Options of {@link keptTokensMarkdown}. */
export interface KeptTokensOptions {
  /** Image-feature positions `[start, end)`, written as one count instead of token by token. */
  imageSpan?: { start: number; end: number };
}

/**
 * One layer's kept prompt as Markdown: each text token in **bold** when kept, ~~struck~~ when
 * evicted, the image span as `[image: kept/total patches]`. `tokens[i]` is position i's text
 * (empty for special tokens, shown as `∅`).
 */
export function keptTokensMarkdown(
  tokens: readonly string[],
  mask: readonly number[],
  opts: KeptTokensOptions = {},
): string {
  if (tokens.length !== mask.length) {
    throw new Error(
      `keptTokensMarkdown: ${tokens.length} tokens but a mask of ${mask.length} positions`,
    );
  }
  const span = opts.imageSpan;
  const words: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (span && i >= span.start && i < span.end) {
      if (i === span.start) {
        const kept = mask.slice(span.start, span.end).reduce((a, b) => a + b, 0);
        words.push(`[image: ${kept}/${span.end - span.start} patches]`);
      }
      continue;
    }
    const text = tokens[i].trim() === "" ? "∅" : tokens[i].trim().replace(/([\\*_~`[\]])/g, "\\$1");
    words.push(mask[i] ? `**${text}**` : `~~${text}~~`);
  }
  return words.join(" ");
}
