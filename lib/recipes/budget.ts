/**
 * Retention budgets. Every recipe takes the same budget: the fraction of prompt entries kept,
 * counted over all layers (the paper's "X% budget", never the reference code's evicted ratio),
 * or, as an alternative, a token count: entries kept per layer on average.
 *
 * After prefill a recipe keeps `fraction · N · L` entries in total (within one per layer); during
 * decoding each layer keeps the same fraction of the tokens seen so far.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** A retention budget: a kept fraction in (0, 1], or kept entries per layer (≥ 1). */
export type Budget = { readonly fraction: number } | { readonly tokens: number };

/** Checks a budget and returns it unchanged; throws {@link InputError} when unusable. */
export function checkRecipeBudget(budget: Budget): Budget {
  if ("fraction" in budget) {
    const f = budget.fraction;
    if (!Number.isFinite(f) || f <= 0 || f > 1) {
      const hint = f > 1 && f <= 100 ? ` (did you mean ${f / 100}?)` : "";
      throw new InputError(
        `budget: the kept fraction must be in (0, 1], got ${f}${hint}. ` +
          `Use 0.2 or "20%" for a 20% budget.`,
      );
    }
  } else if ("tokens" in budget) {
    const t = budget.tokens;
    if (!Number.isInteger(t) || t < 1) {
      throw new InputError(
        `budget: the token budget (entries kept per layer) must be a positive integer, got ${t}`,
      );
    }
  } else {
    throw new InputError("budget: give either a kept fraction or a token count");
  }
  return budget;
}

/**
 * Parses a budget given as a number or a string such as `"0.2"` or `"20%"` (kept fraction), or
 * a token count. Exactly one of `budget` and `tokens` must be given.
 */
export function parseBudget(budget?: number | string, tokens?: number | string): Budget {
  if (budget !== undefined && tokens !== undefined) {
    throw new InputError("budget: give either --budget (a kept fraction) or --tokens, not both");
  }
  if (tokens !== undefined) {
    const t = typeof tokens === "number" ? tokens : Number(tokens.trim());
    return checkRecipeBudget({ tokens: t });
  }
  if (budget === undefined) {
    throw new InputError(
      'budget: missing; give --budget (kept fraction, e.g. 0.2 or "20%") or --tokens',
    );
  }
  let f: number;
  if (typeof budget === "number") f = budget;
  else {
    const s = budget.trim();
    f = s.endsWith("%") ? Number(s.slice(0, -1)) / 100 : Number(s);
    if (s === "" || Number.isNaN(f)) {
      throw new InputError(`budget: "${budget}" is not a number; use e.g. 0.2 or "20%"`);
    }
  }
  return checkRecipeBudget({ fraction: f });
}

/** The kept fraction a budget means for a prompt of `promptLength` entries per layer. */
export function keptFraction(budget: Budget, promptLength: number): number {
  checkRecipeBudget(budget);
  if ("fraction" in budget) return budget.fraction;
  return Math.min(1, budget.tokens / promptLength);
}

/** A short label: `"20%"` or `"64 tokens"`. */
export function budgetLabel(budget: Budget): string {
  if ("fraction" in budget) return `${+(budget.fraction * 100).toFixed(4)}%`;
  return `${budget.tokens} tokens`;
}
