/**
 * Checks on per-layer importance vectors (and image spans) shared by the analyses and the prefix
 * search, so bad scores fail early with one clear message instead of producing NaN budgets.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** Shape of a validated set of per-layer importances. */
export interface ImportanceShape {
  /** Number of layers L. */
  numLayers: number;
  /** Prompt length N (every layer has N scores). */
  promptLength: number;
}

/**
 * Validates per-layer importance vectors: at least one layer, every layer the same non-zero
 * length, every score finite and non-negative, every layer with a positive total (the
 * priority sequence divides by it).
 *
 * @param importance per layer, N scores each
 * @param what how to name the input in error messages (e.g. a file name)
 * @throws InputError naming the layer and position of the first problem
 */
export function checkImportance(
  importance: ArrayLike<ArrayLike<number>>,
  what = "importance",
): ImportanceShape {
  const numLayers = importance?.length ?? 0;
  if (numLayers === 0) {
    throw new InputError(`${what}: expected one score vector per layer, got no layers`);
  }
  const promptLength = importance[0]?.length ?? 0;
  if (promptLength === 0) {
    throw new InputError(`${what}: the prompt is empty (layer 0 has no scores); N must be ≥ 1`);
  }
  for (let l = 0; l < numLayers; l++) {
    const row = importance[l];
    if (!row || row.length !== promptLength) {
      throw new InputError(
        `${what}: layer ${l} has ${row?.length ?? 0} scores but layer 0 has ${promptLength}; ` +
          `every layer must score the same N prompt positions`,
      );
    }
    let total = 0;
    for (let n = 0; n < promptLength; n++) {
      const v = row[n];
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        throw new InputError(
          `${what}: layer ${l} position ${n} has score ${v}; scores must be finite and ≥ 0`,
        );
      }
      total += v;
    }
    if (!(total > 0)) {
      throw new InputError(
        `${what}: layer ${l} scores sum to 0; importance must put positive mass somewhere`,
      );
    }
  }
  return { numLayers, promptLength };
}

/** Half-open range `[start, end)` of prompt positions (the image-feature tokens). */
export interface Span {
  /** First position in the span. */
  start: number;
  /** One past the last position in the span. */
  end: number;
}

/**
 * Validates a span of prompt positions against the prompt length N.
 *
 * @throws InputError unless start and end are integers with 0 ≤ start ≤ end ≤ N
 */
export function checkSpan(span: Span, promptLength: number): void {
  if (
    !(Number.isInteger(span.start) && Number.isInteger(span.end) && 0 <= span.start &&
      span.start <= span.end && span.end <= promptLength)
  ) {
    throw new InputError(
      `image span [${span.start}, ${span.end}) must be integers with 0 ≤ start ≤ end ≤ N = ` +
        `${promptLength}`,
    );
  }
}
