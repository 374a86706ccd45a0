/**
 * Budgets, the one module that defines them, and the few Python behaviours the reference
 * implementation relies on.
 *
 * Everywhere in this library a *budget* is the fraction of KV entries **kept** (the paper's
 * "X% budget"), counted over all layers, or, as an alternative, a token count: entries kept
 * per layer on average. The reference code's `ratio` is the fraction **evicted**
 * (ρ = 1 − budget); it appears only where reference files are named, read or written
 * ({@link evictRatioOf}).
 *
 * After prefill a recipe keeps `fraction · N · L` entries in total (within one per layer);
 * during decoding each layer keeps the same fraction of the tokens seen so far.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** A retention budget: a kept fraction in (0, 1], or kept entries per layer (≥ 1). */
export type Budget = { readonly fraction: number } | { readonly tokens: number };

/**
 * Throws unless `budget` is a kept fraction in (0, 1]. `asPercent` says the user wrote it as
 * a percentage (so 150% gets no "did you mean 1.5%?").
 */
export function checkBudget(budget: number, what = "budget", asPercent = false): void {
  if (typeof budget !== "number" || !Number.isFinite(budget) || budget <= 0 || budget > 1) {
    const hint = !asPercent && budget > 1 && budget <= 100
      ? ` (did you mean ${budget / 100}, i.e. ${budget}%?)`
      : budget > 1
      ? " (a budget cannot keep more than the whole cache)"
      : "";
    throw new InputError(
      `${what}: the kept fraction must be in (0, 1], got ` +
        `${asPercent ? `${+(budget * 100).toFixed(6)}%` : budget}${hint}. Use 0.2 or "20%" ` +
        `for a 20% budget (the reference's --ratio is the fraction evicted: budget = 1 − ratio)`,
    );
  }
}

/** Checks a budget and returns it unchanged; throws {@link InputError} when unusable. */
export function checkRecipeBudget(budget: Budget): Budget {
  if (typeof budget !== "object" || budget === null) {
    throw new InputError("budget: give either { fraction } (kept fraction) or { tokens }");
  }
  if ("fraction" in budget) {
    checkBudget(budget.fraction);
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
 *
 * @example
 * ```ts
 * import { parseBudget } from "./budget.ts";
 * parseBudget("20%"); // { fraction: 0.2 }
 * parseBudget(undefined, "64"); // { tokens: 64 }
 * ```
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
  if (typeof budget === "number") return checkRecipeBudget({ fraction: budget });
  const s = budget.trim();
  const percent = s.endsWith("%");
  const f = percent ? Number(s.slice(0, -1)) / 100 : Number(s);
  if (s === "" || s === "%" || Number.isNaN(f)) {
    throw new InputError(`budget: "${budget}" is not a number; use e.g. 0.2 or "20%"`);
  }
  checkBudget(f, "budget", percent);
  return { fraction: f };
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

/**
 * The reference's eviction ratio ρ = 1 − budget, cleaned to 12 significant digits so that
 * budget 0.2 gives exactly 0.8 and budget 0.3 gives 0.7 (not 0.7000000000000001). This keeps
 * file names (`_0.7.json`) and the search target (ρ·N·L) identical to the reference's.
 */
export function evictRatioOf(budget: number): number {
  checkBudget(budget);
  return Number((1 - budget).toPrecision(12));
}

/** The budget (fraction kept) for a reference eviction ratio ρ in [0, 1). */
export function budgetOfEvictRatio(ratio: number): number {
  if (typeof ratio !== "number" || !Number.isFinite(ratio) || ratio < 0 || ratio >= 1) {
    throw new InputError(`the evicted fraction (--ratio) must be in [0, 1); got ${ratio}`);
  }
  return Number((1 - ratio).toPrecision(12));
}

/**
 * Python 3 `round(x)` / numpy `rint`: round half to even. The reference applies numpy's
 * `.round()` to ρ_l·N, so 2.5 → 2 and 3.5 → 4.
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for |x| < 2^52
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Python's `str(float)` (= `repr`): the shortest round-trip digits, like JavaScript, but always
 * with a decimal point or exponent ("0.0", "1.0") and exponent form below 1e-4 or from 1e16
 * ("1e-05"). Used for reference file names and for writing configs in the reference's format.
 */
export function pythonFloatStr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const abs = Math.abs(x);
  if (abs >= 1e-4 && abs < 1e16) {
    // JavaScript uses positional notation on this whole range, with the same shortest digits.
    const s = String(x);
    return s.includes(".") ? s : `${s}.0`;
  }
  // Exponent form: JavaScript's shortest digits, Python's two-digit exponent.
  const [mant, exp] = x.toExponential().split("e");
  const e = Number(exp);
  const sign = e < 0 ? "-" : "+";
  return `${mant}e${sign}${String(Math.abs(e)).padStart(2, "0")}`;
}
