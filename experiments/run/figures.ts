/**
 * The run's figures, made from `results.json` with the library's figure functions and written
 * as SVG and PNG under `figures/`.
 *
 * @module
 */
import { join } from "node:path";
import {
  budgetCurves,
  type BudgetPoint,
  type HeatCell,
  layerHeatmap,
  layerLines,
  lorenzCurves,
} from "../../lib/plot/figures.ts";
import { type PlotSpec, writeFigure } from "../../lib/plot/render.ts";
import { budgetPercent, type CellSummary } from "./cells.ts";
import type { RunResults } from "./report.ts";

/** The rows of the paper's Table 1. */
const PAPER_ROWS = ["local", "h2o", "elastic", "prefixkv"];
const kib = (perLayer: number[]) => perLayer.reduce((a, b) => a + b, 0) / 1024;
const meanOf = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** The figure specs of a run, by file name (without extension). */
export function runFigures(r: RunResults): Record<string, PlotSpec> {
  const main = r.cells.filter((c) => c.group === "main" && c.budget < 1);
  const full = r.cells.find((c) => c.method === "full");
  const points = (f: (c: CellSummary) => number | undefined, cells = main): BudgetPoint[] =>
    cells.flatMap((c) => {
      const v = f(c);
      return v === undefined || !Number.isFinite(v)
        ? []
        : [{ recipe: c.label, budget: c.budget, value: v }];
    });
  const figs: Record<string, PlotSpec> = {
    ppl_vs_budget: budgetCurves(points((c) => c.ppl), {
      label: "PPL (log)",
      logY: true,
      reference: full?.ppl,
    }),
    rouge_vs_budget: budgetCurves(points((c) => c.rougeL), { label: "ROUGE-L F vs full cache" }),
    decode_ms_vs_budget: budgetCurves(points((c) => c.efficiency.decodeMsPerToken), {
      label: "decode ms per token",
      reference: full?.efficiency.decodeMsPerToken,
    }),
    kv_bytes_vs_budget: budgetCurves(points((c) => kib(c.kvBytesAfterPrefill)), {
      label: "KV cache held after prefill (KiB)",
      reference: full ? kib(full.kvBytesAfterPrefill) : undefined,
    }),
  };
  // The paper's own comparison (its Table 1 rows) on its own, easier to read than every recipe.
  const paper = main.filter((c) => PAPER_ROWS.includes(c.label));
  if (paper.length) {
    figs.ppl_vs_budget_paper_baselines = budgetCurves(points((c) => c.ppl, paper), {
      label: "PPL (log)",
      logY: true,
      reference: full?.ppl,
    });
    figs.rouge_vs_budget_paper_baselines = budgetCurves(points((c) => c.rougeL, paper), {
      label: "ROUGE-L F vs full cache",
    });
  }
  if (main.some((c) => c.accuracy)) {
    figs.object_f1_vs_budget = budgetCurves(points((c) => c.accuracy?.objectF1), {
      label: "object F1 of descriptions",
      reference: full?.accuracy?.objectF1,
    });
    figs.short_questions_vs_budget = budgetCurves(points((c) => c.accuracy?.shortQuestionsRight), {
      label: "short questions right (%)",
      percentY: true,
      reference: full?.accuracy?.shortQuestionsRight,
    });
    figs.object_patch_recall_vs_budget = budgetCurves(
      points((c) => (c.objectPatchRecall ? meanOf(c.objectPatchRecall) : undefined)),
      { label: "object patches kept (%, mean over layers)", percentY: true },
    );
  }
  // The paper's Lorenz curves and Gini per layer, from the full-cache importance.
  const xs = r.reference.lorenz[0]?.map((_, i, a) => i / (a.length - 1)) ?? [];
  figs.lorenz = lorenzCurves(
    r.reference.lorenz.map((curve, layer) => ({
      layer,
      gini: r.reference.gini[layer],
      points: curve.map((y, i) => ({ x: xs[i], y })),
    })),
  );
  figs.gini_by_layer = layerLines(
    [
      ...r.reference.gini.map((value, layer) => ({ layer, series: "Gini", value })),
      ...r.reference.imageShare.map((value, layer) => ({
        layer,
        series: "image share of importance",
        value,
      })),
    ],
    { label: "value", seriesLabel: "full cache" },
  );
  // Kept ratio per layer at each budget: the calibrated offline configs (the reference's tables).
  const most = Math.max(0, ...r.calibration.configs.map((c) => c.samples));
  const confCells: HeatCell[] = r.calibration.configs.filter((c) => c.samples === most).flatMap((
    c,
  ) =>
    c.evictRatios.map((e, layer) => ({
      layer,
      column: `${budgetPercent(c.budget)}%`,
      value: 1 - e,
    }))
  );
  const heat = (label: string, cells: HeatCell[]) =>
    layerHeatmap(cells, { label, columnLabel: "budget kept", percent: true });
  if (confCells.length) figs.kept_ratio_heatmap = heat("kept ratio", confCells);
  const prefix = r.cells.filter((c) => c.label === "prefixkv" && c.budget < 1);
  const perLayer = (f: (c: CellSummary) => number[] | undefined) =>
    prefix.flatMap((c) =>
      (f(c) ?? []).map((value, layer) => ({ layer, column: `${budgetPercent(c.budget)}%`, value }))
    );
  if (prefix.length) {
    figs.image_share_heatmap = heat("image share of kept", perLayer((c) => c.imageShareOfKept));
    if (prefix.some((c) => c.objectPatchRecall)) {
      figs.object_patch_recall_heatmap = heat(
        "object patches kept",
        perLayer((c) => c.objectPatchRecall),
      );
    }
  }
  return figs;
}

/** Writes every figure of `r` under `dir` (SVG and PNG); returns the names. */
export async function writeRunFigures(r: RunResults, dir: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const figs = runFigures(r);
  for (const [name, spec] of Object.entries(figs)) await writeFigure(join(dir, name), spec);
  return Object.keys(figs);
}
