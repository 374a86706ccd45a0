/**
 * Issue 11's targets for a bundled model, computed from an experiment run (PPL per cell, the
 * reference's per-layer Gini and prompt lengths) and the full-cache and oracle scene scores:
 * pure functions, so the report can be checked against hand-computed numbers.
 *
 * @example NLL added by a cell: the log of its PPL over the full cache's
 * ```ts
 * import { nllAdded } from "./targets.ts";
 * console.log(nllAdded(2.04, 1.015).toFixed(2)); // "0.70"
 * ```
 *
 * @module
 */
import type { CellSummary } from "../run/cells.ts";
import type { ReferenceSummary } from "../run/report.ts";

/** The scene scores compared between full cache and oracle. */
export interface SceneScoreSet {
  /** True objects described fully right. */
  objectsFullyRight: number;
  /** Descriptions that invent no object. */
  descriptionsWithoutInventedObject: number;
  /** Descriptions exactly right. */
  descriptionsExact: number;
  /** Short questions right. */
  shortQuestionsRight: number;
}

/** Names of {@link SceneScoreSet}'s scores, in report order. */
export const SCORE_NAMES = [
  "objectsFullyRight",
  "descriptionsWithoutInventedObject",
  "descriptionsExact",
  "shortQuestionsRight",
] as const;

/** Mean NLL (nats per answer token) a cell adds over the full cache: ln(PPL) − ln(PPL_full). */
export function nllAdded(ppl: number, fullPpl: number): number {
  return Math.log(ppl) - Math.log(fullPpl);
}

/** One recipe at one budget: its PPL and the NLL it adds. */
export interface RecipeNll {
  /** Recipe label. */
  label: string;
  /** Kept fraction. */
  budget: number;
  /** Teacher-forced PPL of the ground-truth answers. */
  ppl: number;
  /** Nats added over the full cache. */
  nllAdded: number;
}

/** Per budget: every recipe's NLL added, the best, and the spread (worst minus best). */
export interface BudgetNll {
  /** Kept fraction. */
  budget: number;
  /** The recipes, best first. */
  recipes: RecipeNll[];
  /** The best recipe (least NLL added). */
  best: RecipeNll;
  /** Worst minus best NLL added, in nats. */
  spread: number;
}

/**
 * Groups `cells` by budget and ranks each budget's recipes (the `full` cell excluded) by NLL
 * added over `fullPpl`. Only cells whose label is in `labels` count (default: all).
 */
export function nllByBudget(
  cells: readonly CellSummary[],
  fullPpl: number,
  labels?: readonly string[],
): BudgetNll[] {
  const rows = cells.filter((c) => c.method !== "full" && (!labels || labels.includes(c.label)));
  const budgets = [...new Set(rows.map((c) => c.budget))].sort((a, b) => b - a);
  return budgets.map((budget) => {
    const recipes = rows.filter((c) => c.budget === budget)
      .map((c) => ({ label: c.label, budget, ppl: c.ppl, nllAdded: nllAdded(c.ppl, fullPpl) }))
      .sort((a, b) => a.nllAdded - b.nllAdded);
    return {
      budget,
      recipes,
      best: recipes[0],
      spread: recipes.at(-1)!.nllAdded - recipes[0].nllAdded,
    };
  });
}

/** One target: what was measured against what is asked. */
export interface TargetCheck {
  /** What is measured. */
  name: string;
  /** The measured value. */
  value: number;
  /** How to read `value`: a fraction (shown as %), points, nats, entries or a coefficient. */
  unit: "fraction" | "points" | "nats" | "entries" | "coefficient";
  /** The bar, e.g. "≥ 95 %". */
  bar: string;
  /** Whether the value meets the bar. */
  met: boolean;
}

/** What {@link checkTargets} needs. */
export interface TargetInputs {
  /** Full-cache scene scores. */
  full: SceneScoreSet;
  /** Oracle scene scores. */
  oracle: SceneScoreSet;
  /** NLL by budget. */
  nll: readonly BudgetNll[];
  /** The reference run's summary (per-layer Gini, mean prompt length). */
  reference: ReferenceSummary;
  /** Mean share of image tokens in the prompts. */
  imageTokenShare: number;
  /** Mean prompt length (entries, after image expansion). */
  promptLength: number;
}

/** Largest minus smallest per-layer Gini. */
export function giniSpan(gini: readonly number[]): number {
  return Math.max(...gini) - Math.min(...gini);
}

/** A check's value as the report prints it. */
export function formatValue(c: Pick<TargetCheck, "value" | "unit">): string {
  switch (c.unit) {
    case "fraction":
      return pct(c.value);
    case "points":
      return c.value.toFixed(1);
    case "entries":
      return c.value.toFixed(1);
    default:
      return c.value.toFixed(3);
  }
}

/** Checks issue 11's measurable targets (the model-shape ones are checked from the config). */
export function checkTargets(t: TargetInputs): TargetCheck[] {
  const checks: TargetCheck[] = [
    at("full cache: objects fully right", t.full.objectsFullyRight, 0.95),
    at("full cache: descriptions exact", t.full.descriptionsExact, 0.85),
    at("full cache: short questions right", t.full.shortQuestionsRight, 0.9),
  ];
  for (const s of SCORE_NAMES) {
    const drop = t.full[s] - t.oracle[s];
    checks.push({
      name: `oracle − full: ${s} (points)`,
      value: -100 * drop,
      unit: "points",
      bar: "≥ −3",
      met: drop <= 0.03 + 1e-12,
    });
  }
  const bars: Record<string, number> = { "0.5": 0.15, "0.2": 0.5 };
  for (const b of t.nll) {
    const bar = bars[String(b.budget)];
    if (bar === undefined) continue;
    checks.push({
      name: `best recipe at ${pct(b.budget)} kept (${b.best.label}): NLL added`,
      value: b.best.nllAdded,
      unit: "nats",
      bar: `≤ ${bar}`,
      met: b.best.nllAdded <= bar,
    });
  }
  const span = giniSpan(t.reference.gini);
  checks.push({
    name: "per-layer Gini span",
    value: span,
    unit: "coefficient",
    bar: "≥ 0.15",
    met: span >= 0.15,
  });
  checks.push({
    name: "prompt length (entries)",
    value: t.promptLength,
    unit: "entries",
    bar: "≥ 200",
    met: t.promptLength >= 200,
  });
  checks.push(at("image-token share of the prompt", t.imageTokenShare, 0.75));
  return checks;
}

function at(name: string, value: number, bar: number): TargetCheck {
  return { name, value, unit: "fraction", bar: `≥ ${pct(bar)}`, met: value >= bar };
}

function pct(x: number): string {
  return `${+(100 * x).toFixed(1)} %`;
}
