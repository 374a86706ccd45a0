/**
 * What PrefixKV keeps of one sample at a budget: the global prefix search's p and per-layer
 * counts, and per layer the kept entries' importance mass and, with an image span, their split
 * between image and text tokens. Sits above `lib/prefix/` (it runs the search); the statistics
 * that need no search (curves, Gini, shares) are `analyzeImportance` in `lib/importance/`.
 *
 * @module
 */
import { checkImportance, checkSpan, type Span } from "../importance/validate.ts";
import { prefixSearch } from "../prefix/search.ts";
import { selectKept } from "../prefix/select.ts";

/** Options of {@link keptByPrefixKV}. */
export interface KeptOptions {
  /** Fraction of the KV kept over all layers, in (0, 1]. */
  budget: number;
  /** Image-token span; enables the per-modality split of the kept entries. */
  imageSpan?: Span;
  /** Leading positions always kept in the search (default 1). */
  startSize?: number;
  /** Search tolerance in tokens over all layers (default 5). */
  tolerance?: number;
  /** Search iteration cap (default 100). */
  maxIterations?: number;
}

/** Kept entries of one modality in one layer. */
export interface ModalityKept {
  /** Kept entries of this modality. */
  count: number;
  /** Their share of the layer's kept entries. */
  shareOfKept: number;
  /** Fraction of this modality's tokens that are kept (0 when the modality has none). */
  retained: number;
  /** Their importance mass, as a share of the layer's total. */
  mass: number;
}

/** Kept entries of one layer under the searched configuration. */
export interface KeptAnalysis {
  /** Number of entries kept. */
  count: number;
  /** Kept fraction of the layer's entries, `count / N`. */
  ratio: number;
  /** Importance mass of the kept entries (share of the layer's total). */
  mass: number;
  /** With an image span: the kept image tokens. */
  image?: ModalityKept;
  /** With an image span: the kept text tokens (everything outside the span). */
  text?: ModalityKept;
}

/** The search's decision, as {@link keptByPrefixKV} reports it. */
export interface KeptSearch {
  /** Fraction kept that was asked for. */
  budget: number;
  /** Retained-information threshold found: each layer keeps ≥ p of its importance mass. */
  p: number;
  /** Per-layer evictions (after rescale and floor). */
  evict: number[];
  /** Per-layer kept entries, N − evict. */
  keep: number[];
  /** Bisection steps taken. */
  iterations: number;
  /** Whether the search met its tolerance. */
  converged: boolean;
  /** Leading positions always kept. */
  startSize: number;
}

/** Result of {@link keptByPrefixKV}: plain JSON. */
export interface PrefixKVKept {
  /** The search summary. */
  search: KeptSearch;
  /** One entry per layer. */
  layers: KeptAnalysis[];
}

/**
 * Runs PrefixKV's global prefix search on one sample's per-layer importances and describes
 * what each layer keeps.
 *
 * @example What PrefixKV keeps of two layers at 75 %
 * ```ts
 * import { keptByPrefixKV } from "./kept.ts";
 * const kept = keptByPrefixKV([[8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125], [1, 1, 1, 1, 1, 1, 1, 1]], {
 *   budget: 0.75,
 *   imageSpan: { start: 2, end: 6 },
 * });
 * console.log(kept.search.p, kept.search.keep); // 0.5 [6, 7]
 * console.log(kept.layers[0].image?.retained); // 0.75
 * ```
 *
 * @throws InputError for bad scores, an image span outside [0, N], or bad search options
 */
export function keptByPrefixKV(
  importance: ArrayLike<ArrayLike<number>>,
  options: KeptOptions,
): PrefixKVKept {
  const { promptLength } = checkImportance(importance);
  const span = options.imageSpan ?? null;
  if (span) checkSpan(span, promptLength);
  const found = prefixSearch(importance, {
    budget: options.budget,
    startSize: options.startSize,
    tolerance: options.tolerance,
    maxIterations: options.maxIterations,
  });
  return {
    search: {
      budget: found.budget,
      p: found.p,
      evict: found.evict,
      keep: found.keep,
      iterations: found.iterations,
      converged: found.converged,
      startSize: found.startSize,
    },
    layers: Array.from(
      { length: found.numLayers },
      (_, l) => keptAnalysis(importance[l], found.evict[l], found.startSize, span),
    ),
  };
}

function keptAnalysis(
  scores: ArrayLike<number>,
  evict: number,
  startSize: number,
  span: Span | null,
): KeptAnalysis {
  const kept = selectKept(scores, evict, startSize);
  let total = 0;
  for (let i = 0; i < scores.length; i++) total += scores[i];
  let mass = 0;
  let imageCount = 0;
  let imageMass = 0;
  for (const i of kept) {
    mass += scores[i];
    if (span && i >= span.start && i < span.end) {
      imageCount++;
      imageMass += scores[i];
    }
  }
  const result: KeptAnalysis = {
    count: kept.length,
    ratio: kept.length / scores.length,
    mass: mass / total,
  };
  if (span) {
    const imageTotal = span.end - span.start;
    const textTotal = scores.length - imageTotal;
    const textCount = kept.length - imageCount;
    result.image = {
      count: imageCount,
      shareOfKept: imageCount / kept.length,
      retained: imageTotal === 0 ? 0 : imageCount / imageTotal,
      mass: imageMass / total,
    };
    result.text = {
      count: textCount,
      shareOfKept: textCount / kept.length,
      retained: textTotal === 0 ? 0 : textCount / textTotal,
      mass: (mass - imageMass) / total,
    };
  }
  return result;
}
