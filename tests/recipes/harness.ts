/**
 * Test harness for recipes: synthetic prompts (no model), a decode simulator, snapshots of what
 * a cache holds, and the one-liner the end-to-end test needs (`fullBudgetPair`).
 *
 * Synthetic data: a KvCache with 1 KV head of dimension 2 whose key row at position p of layer
 * l is [p, l] and value row [p + 0.5, −l], so kept positions and merges can be read back from
 * the buffers. Attention per layer is causal and row-stochastic, with layer-specific sharpness
 * (so layers' importance curves differ, as PrefixKV needs) and a heavy sink at position 0;
 * importance is its column sum. Two heads split each row differently ({@link splitIntoHeads})
 * and average to it, for parts that read per-head attention.
 */
import type { CachePolicy, PrefillInfo, StepInfo } from "../../lib/runtime/cache_policy.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import { mulberry32 } from "../../lib/random.ts";
import { createRecipe } from "../../lib/recipes/mod.ts";

/** Deterministic PRNG (mulberry32). */
export const prng: (seed: number) => () => number = mulberry32;

/** Shape of a synthetic prompt. */
export interface SyntheticShape {
  numLayers: number;
  promptLength: number;
  seed?: number;
  /** Growth rows of the cache (0 makes capacity exact, for byte accounting). */
  growth?: number;
}

/** Key and value rows of one synthetic entry. */
export function entryRows(position: number, layer: number): { key: number[]; value: number[] } {
  return { key: [position, layer], value: [position + 0.5, -layer] };
}

/**
 * Two causal row-stochastic heads `[2, n, n]` whose mean is `matrix` (up to float rounding):
 * in each row head 0 moves a share t of the even keys' mass onto the odd keys, head 1 the
 * opposite, so the heads differ (as real heads do) while their average stays the matrix.
 */
export function splitIntoHeads(matrix: Float32Array, n: number): Float32Array {
  const heads = new Float32Array(2 * n * n);
  for (let q = 0; q < n; q++) {
    let even = 0;
    let odd = 0;
    for (let k = 0; k <= q; k++) {
      if (k % 2 === 0) even += matrix[q * n + k];
      else odd += matrix[q * n + k];
    }
    // Head 0 scales even keys by 1 + t and odd ones by 1 − t·even/odd; head 1 the reverse.
    const t = odd > 0 ? 0.8 * Math.min(1, odd / even) : 0;
    for (let k = 0; k <= q; k++) {
      const a = matrix[q * n + k];
      const shift = k % 2 === 0 ? t * a : -t * a * even / odd;
      heads[q * n + k] = a + shift;
      heads[n * n + q * n + k] = a - shift;
    }
  }
  return heads;
}

/** A prefilled synthetic cache and the prefill report (importance and attention matrices). */
export function syntheticPrefill(shape: SyntheticShape): { cache: KvCache; info: PrefillInfo } {
  const { numLayers: L, promptLength: n, seed = 1, growth = 0 } = shape;
  const rand = prng(seed);
  const cache = new KvCache({ numLayers: L, numKvHeads: 1, headDim: 2 }, growth);
  const importance: Float32Array[] = [];
  const attention: Float32Array[] = [];
  for (let l = 0; l < L; l++) {
    const keys = new Float32Array(n * 2);
    const values = new Float32Array(n * 2);
    for (let p = 0; p < n; p++) {
      const { key, value } = entryRows(p, l);
      keys.set(key, p * 2);
      values.set(value, p * 2);
    }
    cache.append(l, keys, values, Array.from({ length: n }, (_, p) => p));
    // Layer-specific logits: sharper in middle layers, a sink at 0.
    const sharp = 0.5 + 4 * Math.sin((Math.PI * (l + 1)) / (L + 1)) ** 2;
    const logit = Float64Array.from({ length: n }, () => sharp * rand() * 3);
    logit[0] += 3;
    const m = new Float32Array(n * n);
    const imp = new Float32Array(n);
    for (let q = 0; q < n; q++) {
      let z = 0;
      for (let k = 0; k <= q; k++) z += Math.exp(logit[k] + 0.3 * rand());
      let zz = 0;
      const row = new Float64Array(q + 1);
      for (let k = 0; k <= q; k++) {
        row[k] = Math.exp(logit[k] + 0.3 * rand()) / z;
        zz += row[k];
      }
      for (let k = 0; k <= q; k++) {
        m[q * n + k] = row[k] / zz;
        imp[k] += m[q * n + k];
      }
    }
    importance.push(imp);
    attention.push(m);
  }
  const headAttention = attention.map((m) => splitIntoHeads(m, n));
  return { cache, info: { promptLength: n, importance, attention, headAttention } };
}

/**
 * Feeds one synthetic decode token: appends an entry at position `promptLength + step − 1` to
 * every layer and returns the step report with a random attention row per layer.
 */
export function syntheticStep(
  cache: KvCache,
  promptLength: number,
  step: number,
  rand: () => number,
): StepInfo {
  const position = promptLength + step - 1;
  const importance: Float32Array[] = [];
  for (let l = 0; l < cache.numLayers; l++) {
    const { key, value } = entryRows(position, l);
    cache.append(l, Float32Array.from(key), Float32Array.from(value), [position]);
    const len = cache.length(l);
    const w = Float64Array.from({ length: len }, () => Math.exp(2 * rand()));
    const z = w.reduce((s, x) => s + x, 0);
    importance.push(Float32Array.from(w, (x) => x / z));
  }
  return { step, tokensSeen: promptLength + step, importance };
}

/** What a cache holds: per layer, positions, keys and values (copies). */
export interface CacheSnapshot {
  positions: number[][];
  keys: number[][];
  values: number[][];
}

/** Copies what `cache` holds. */
export function snapshot(cache: KvCache): CacheSnapshot {
  const layers = Array.from({ length: cache.numLayers }, (_, l) => l);
  return {
    positions: layers.map((l) => Array.from(cache.positions(l))),
    keys: layers.map((l) => Array.from(cache.keys(l))),
    values: layers.map((l) => Array.from(cache.values(l))),
  };
}

/** Result of {@link simulate}. */
export interface Simulation {
  cache: KvCache;
  afterPrefill: CacheSnapshot;
  lengthsAfterPrefill: number[];
  /** Entries held over all layers after each step (index 0 = after prefill). */
  totals: number[];
  final: CacheSnapshot;
}

/** Runs `policy` over a synthetic prompt and `steps` decode steps. */
export function simulate(policy: CachePolicy, shape: SyntheticShape, steps: number): Simulation {
  const { cache, info } = syntheticPrefill(shape);
  const rand = prng((shape.seed ?? 1) * 7919 + 17);
  policy.afterPrefill(cache, info);
  const afterPrefill = snapshot(cache);
  const lengthsAfterPrefill = cache.lengths();
  const totals = [cache.entriesHeld()];
  for (let t = 1; t <= steps; t++) {
    policy.afterStep(cache, syntheticStep(cache, shape.promptLength, t, rand));
    totals.push(cache.entriesHeld());
  }
  return { cache, afterPrefill, lengthsAfterPrefill, totals, final: snapshot(cache) };
}

/**
 * The recipe `name` at budget 100% and the full cache, as two fresh policies: running both
 * through the same generation must give the same kept sets and the same generated ids, e.g.
 * `const { recipe, full } = fullBudgetPair("prefixkv"); assertEquals(gen(recipe), gen(full))`.
 */
export function fullBudgetPair(
  name: string,
  options: Record<string, unknown> = {},
): { recipe: CachePolicy; full: CachePolicy } {
  return {
    recipe: createRecipe(name, options).policy({ fraction: 1 }),
    full: createRecipe("full").policy({ fraction: 1 }),
  };
}

/** A cache holding positions `0..n−1` in every layer (rows from {@link entryRows}). */
export function promptCache(
  numLayers: number,
  n: number,
  keys?: (p: number, l: number) => number[],
) {
  const cache = new KvCache({ numLayers, numKvHeads: 1, headDim: 2 }, 0);
  for (let l = 0; l < numLayers; l++) {
    const k = new Float32Array(n * 2);
    const v = new Float32Array(n * 2);
    for (let p = 0; p < n; p++) {
      const rows = entryRows(p, l);
      k.set(keys ? keys(p, l) : rows.key, p * 2);
      v.set(rows.value, p * 2);
    }
    cache.append(l, k, v, Array.from({ length: n }, (_, p) => p));
  }
  return cache;
}

/** Options of {@link prefillWith}. */
export interface HandPrefill {
  /** Per layer, `[N, N]` attention rows (row = query), for scorers that need matrices. */
  attention?: number[][];
  /**
   * Per layer, `[heads, N, N]` per-head attention (head, then query); default: `attention` as
   * the layer's only head.
   */
  headAttention?: number[][];
  /** Key row of position p in layer l (default {@link entryRows}). */
  keys?: (p: number, l: number) => number[];
  /** Image-feature positions `[start, end)`, for modality-aware scorers. */
  imageSpan?: { start: number; end: number };
}

/** Runs `policy`'s prefill on a hand-made importance (one row per layer); returns the cache. */
export function prefillWith(policy: CachePolicy, importance: number[][], o: HandPrefill = {}) {
  const n = importance[0].length;
  const cache = promptCache(importance.length, n, o.keys);
  policy.afterPrefill(cache, {
    promptLength: n,
    importance: importance.map((r) => Float32Array.from(r)),
    attention: o.attention?.map((m) => Float32Array.from(m)),
    headAttention: (o.headAttention ?? o.attention)?.map((m) => Float32Array.from(m)),
    imageSpan: o.imageSpan,
  });
  return cache;
}

/** Appends decode token `step` to every layer and runs `policy` with the given attention rows. */
export function stepWith(
  policy: CachePolicy,
  cache: KvCache,
  promptLength: number,
  step: number,
  attention?: number[][],
): void {
  const position = promptLength + step - 1;
  for (let l = 0; l < cache.numLayers; l++) {
    const { key, value } = entryRows(position, l);
    cache.append(l, Float32Array.from(key), Float32Array.from(value), [position]);
  }
  policy.afterStep(cache, {
    step,
    tokensSeen: promptLength + step,
    importance: attention?.map((r) => Float32Array.from(r)),
  });
}

/** Positions held per layer. */
export function positionsOf(cache: KvCache): number[][] {
  return Array.from({ length: cache.numLayers }, (_, l) => Array.from(cache.positions(l)));
}
