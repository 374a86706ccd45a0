/**
 * ROUGE-L exactly as the PrefixKV and Elastic Cache evaluations compute it: the summary-level
 * ROUGE-L of the Python `rouge` package (pltrdy, 1.0.x, `Rouge().get_scores(hyp, ref)` with its
 * default `exclusive=True`), of a compressed run's greedy output against the full-cache output.
 *
 * What that package does, and therefore what this module does:
 * - sentences: the text split on `"."`; empty pieces dropped *before* whitespace is collapsed,
 *   so a piece of only spaces survives as the empty sentence `""`;
 * - words: each sentence's whitespace runs collapsed (Python's `str.split()` whitespace), then
 *   split on single spaces (the empty sentence is the one word `""`); no stemming, no
 *   lower-casing;
 * - `m` and `n`: the numbers of *distinct* words of the reference and of the hypothesis;
 * - the overlap: the set union, over every (reference sentence, hypothesis sentence) pair, of
 *   the words of one longest common subsequence, reconstructed by the package's backtrack
 *   (ties walk towards the hypothesis' start), so repeated words count once;
 * - `r = overlap / m`, `p = overlap / n`, `f = 2pr / (p + r + 1e-8)`.
 *
 * The one difference: the package raises on a text with no sentence (`""` or `"..."`); here
 * such a pair scores 0 (nothing of the reference is recovered), so a compressed run that says
 * nothing is scored instead of crashing the evaluation.
 *
 * @example
 * ```ts
 * import { rougeL } from "./rouge.ts";
 * const s = rougeL("There is one red circle.", "There is one blue circle.");
 * console.log(s.f.toFixed(3)); // 0.800
 * ```
 *
 * @module
 */

/** Precision, recall and F-score of one ROUGE comparison. */
export interface RougeScore {
  /** Overlap over the hypothesis' distinct words. */
  p: number;
  /** Overlap over the reference's distinct words. */
  r: number;
  /** `2pr / (p + r + 1e-8)`, as the package computes it. */
  f: number;
}

/** Python's `str.split()` whitespace (JavaScript's `\s` differs: it has U+FEFF, lacks U+001C–U+001F, U+0085). */
const PYTHON_WHITESPACE =
  // deno-lint-ignore no-control-regex -- U+001C–U+001F are whitespace to Python's str.split()
  /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Python's `s.split()`: whitespace runs separate, no empty words. */
function pythonSplit(s: string): string[] {
  return s.split(PYTHON_WHITESPACE).filter((w) => w !== "");
}

/**
 * The sentences the package scores: `text` split on `"."`, empty pieces dropped, each piece's
 * whitespace collapsed to single spaces (a piece of only spaces becomes `""`).
 */
export function rougeSentences(text: string): string[] {
  return text.split(".").filter((s) => s.length > 0).map((s) => pythonSplit(s).join(" "));
}

/** Words of one collapsed sentence, as Python's `sentence.split(" ")` (`""` → `[""]`). */
function sentenceWords(sentence: string): string[] {
  return sentence.split(" ");
}

/**
 * The words of the longest common subsequence of `ref` and `hyp` that the package reconstructs:
 * walking back from the ends, a match is taken, else the walk moves up in `ref` when that keeps
 * a strictly longer LCS and left in `hyp` otherwise.
 */
export function lcsWords(ref: readonly string[], hyp: readonly string[]): string[] {
  const n = ref.length, m = hyp.length;
  const w = m + 1;
  const table = new Int32Array((n + 1) * w);
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      table[i * w + j] = ref[i - 1] === hyp[j - 1]
        ? table[(i - 1) * w + j - 1] + 1
        : Math.max(table[(i - 1) * w + j], table[i * w + j - 1]);
    }
  }
  const out: string[] = [];
  let i = n, j = m;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === hyp[j - 1]) {
      out.push(ref[i - 1]);
      i--;
      j--;
    } else if (table[(i - 1) * w + j] > table[i * w + j - 1]) i--;
    else j--;
  }
  return out.reverse();
}

/**
 * Summary-level ROUGE-L of `hypothesis` against `reference`, equal to the Python `rouge`
 * package's `get_scores(hypothesis, reference)[0]["rouge-l"]` (see the module documentation).
 */
export function rougeL(hypothesis: string, reference: string): RougeScore {
  const hyp = rougeSentences(hypothesis).map(sentenceWords);
  const ref = rougeSentences(reference).map(sentenceWords);
  if (hyp.length === 0 || ref.length === 0) return { p: 0, r: 0, f: 0 };
  const m = new Set(ref.flat()).size;
  const n = new Set(hyp.flat()).size;
  const union = new Set<string>();
  for (const r of ref) {
    for (const h of hyp) for (const word of lcsWords(r, h)) union.add(word);
  }
  const r = union.size / m;
  const p = union.size / n;
  return { p, r, f: 2 * ((p * r) / (p + r + 1e-8)) };
}

/** Mean F of {@link rougeL} over pairs (the papers' reported number); 0 for no pairs. */
export function meanRougeL(pairs: readonly { hypothesis: string; reference: string }[]): number {
  if (pairs.length === 0) return 0;
  return pairs.reduce((s, x) => s + rougeL(x.hypothesis, x.reference).f, 0) / pairs.length;
}
