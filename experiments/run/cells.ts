/**
 * Cells: one recipe config at one budget. Their canonical order, keys and shard subsets, and the
 * summary of a finished cell from its per-sample results (micro-averaged PPL, mean ROUGE-L,
 * scene accuracy from counts, per-layer diagnostics, mean efficiency).
 *
 * @module
 */
import { InputError } from "../../lib/errors.ts";
import { type Efficiency, meanEfficiency } from "../../lib/metrics/efficiency.ts";
import type { SampleResult } from "./evaluate.ts";
import { isFullCache, type RecipeConfig, type RecipeGroup } from "./recipes.ts";

/** One unit of work. */
export interface Cell {
  /** `label@budget%`, e.g. `prefixkv@20`; names the cell's file. */
  key: string;
  /** The recipe config. */
  config: RecipeConfig;
  /** Kept fraction (1 for the full cache). */
  budget: number;
}

/** A shard: the `index`-th (1-based) of `count`. */
export interface Shard {
  /** 1-based shard number. */
  index: number;
  /** Number of shards. */
  count: number;
}

/** The budget as an integer percentage for keys and labels (0.2 → 20). */
export function budgetPercent(budget: number): number {
  return Math.round(budget * 1000) / 10;
}

/** Every cell of a run in canonical order: configs in order, budgets ascending; full cache once. */
export function planCells(configs: readonly RecipeConfig[], budgets: readonly number[]): Cell[] {
  const sorted = [...budgets].sort((a, b) => a - b);
  return configs.flatMap((config) =>
    (isFullCache(config)
      ? [1]
      : sorted.filter((b) => !config.budgets || config.budgets.some((x) => Math.abs(x - b) < 1e-9)))
      .map((budget) => ({
        key: `${config.label}@${budgetPercent(budget)}`,
        config,
        budget,
      }))
  );
}

/** The cells of `shard`: every `count`-th cell starting at `index − 1` (deterministic). */
export function shardCells(cells: readonly Cell[], shard?: Shard): Cell[] {
  if (!shard) return [...cells];
  return cells.filter((_, i) => i % shard.count === shard.index - 1);
}

/** Parses `--shard i/n`. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new InputError(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 2/4), got "${text}"`);
  }
  return { index, count };
}

/** What a finished cell reports. */
export interface CellSummary {
  /** Cell key. */
  key: string;
  /** Row label. */
  label: string;
  /** Registered recipe. */
  method: string;
  /** Table group. */
  group: RecipeGroup;
  /** Kept fraction asked for. */
  budget: number;
  /** The recipe's parts, in words. */
  parts: string;
  /** Samples evaluated. */
  samples: number;
  /** exp(mean NLL over all answer tokens). */
  ppl: number;
  /** Answer tokens scored. */
  tokens: number;
  /** Mean ROUGE-L F against the full-cache outputs. */
  rougeL: number;
  /** Entries kept after prefill over N·L (the realised budget). */
  keptFraction: number;
  /** Per layer: mean kept ratio after prefill. */
  keptRatio: number[];
  /** Per layer: mean share of image entries among the kept ones. */
  imageShareOfKept: number[];
  /** Per layer: mean share of the image entries kept. */
  imageKept: number[];
  /** Scenes: accuracy. */
  accuracy?: {
    /** True objects described fully right, over all. */
    objectsFullyRight: number;
    /** Mean per-description object F1. */
    objectF1: number;
    /** Descriptions that invent no object. */
    descriptionsWithoutInventedObject: number;
    /** Descriptions exactly right. */
    descriptionsExact: number;
    /** Short questions right. */
    shortQuestionsRight: number;
  };
  /** Scenes, per layer: object patches kept over object patches (micro-average). */
  objectPatchRecall?: number[];
  /** Mean efficiency of the long answers. */
  efficiency: Efficiency;
  /** Per layer: mean bytes of the entries held right after the prefill compression. */
  kvBytesAfterPrefill: number[];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
const perLayerMean = (rows: number[][]) =>
  rows.length ? rows[0].map((_, l) => mean(rows.map((r) => r[l]))) : [];

/** The summary of a cell from its per-sample results. */
export function summarizeCell(
  cell: Cell,
  parts: string,
  samples: readonly SampleResult[],
): CellSummary {
  const tokens = samples.reduce((s, r) => s + r.tokens, 0);
  const nll = samples.reduce((s, r) => s + r.nllSum, 0);
  const keptRatio = perLayerMean(samples.map((s) => s.keptRatio));
  const summary: CellSummary = {
    key: cell.key,
    label: cell.config.label,
    method: cell.config.method,
    group: cell.config.group,
    budget: cell.budget,
    parts,
    samples: samples.length,
    ppl: tokens ? Math.exp(nll / tokens) : NaN,
    tokens,
    rougeL: mean(samples.map((s) => s.rouge.f)),
    keptFraction: mean(keptRatio),
    keptRatio,
    imageShareOfKept: perLayerMean(samples.map((s) => s.imageShareOfKept)),
    imageKept: perLayerMean(samples.map((s) => s.imageKept)),
    efficiency: meanEfficiency(samples.map((s) => s.efficiency)),
    kvBytesAfterPrefill: perLayerMean(samples.map((s) => s.kvBytesAfterPrefill)),
  };
  const described = samples.filter((s) => s.describe);
  if (described.length) {
    const d = described.map((s) => s.describe!);
    const sum = (f: (x: (typeof d)[number]) => number) => d.reduce((s, x) => s + f(x), 0);
    const shortRight = described.reduce((s, x) => s + (x.short?.right ?? 0), 0);
    const shortTotal = described.reduce((s, x) => s + (x.short?.total ?? 0), 0);
    summary.accuracy = {
      objectsFullyRight: sum((x) => x.objectsRight) / Math.max(1, sum((x) => x.objectsTotal)),
      objectF1: mean(d.map((x) => x.f1)),
      descriptionsWithoutInventedObject: d.filter((x) => x.invented === 0).length / d.length,
      descriptionsExact: d.filter((x) => x.exact).length / d.length,
      shortQuestionsRight: shortTotal ? shortRight / shortTotal : 0,
    };
  }
  const withPatches = samples.filter((s) => s.objectPatches);
  if (withPatches.length) {
    const total = withPatches.reduce((s, x) => s + x.objectPatches!.total, 0);
    const layers = withPatches[0].objectPatches!.kept.length;
    summary.objectPatchRecall = Array.from(
      { length: layers },
      (_, l) => withPatches.reduce((s, x) => s + x.objectPatches!.kept[l], 0) / Math.max(1, total),
    );
  }
  return summary;
}
