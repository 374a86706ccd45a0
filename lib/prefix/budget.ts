/**
 * Budget conventions and the few Python behaviours the reference implementation relies on.
 *
 * Everywhere in this library a *budget* is the fraction of KV entries **kept** (the paper's
 * "X% budget"). The reference code's `ratio` is the fraction **evicted** (ρ = 1 − budget); it
 * appears only where reference files are named, read or written ({@link evictRatioOf}).
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** Throws unless `budget` is a number in (0, 1]. */
export function checkBudget(budget: number, what = "budget"): void {
  if (typeof budget !== "number" || !Number.isFinite(budget) || budget <= 0 || budget > 1) {
    throw new InputError(
      `${what} must be the fraction of KV kept, in (0, 1]; got ${budget}` +
        ` (the reference's --ratio is the fraction evicted: budget = 1 − ratio)`,
    );
  }
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
