/**
 * Speed of PrefixKV's per-sample work at LLaVA-1.5-13B scale (40 layers × 4096 positions):
 * the global prefix search (sort + bisection) and the prefill selection of every layer.
 * Run: `deno bench experiments/bench/search_bench.ts`.
 *
 * @module
 */
import { prefixSearch } from "../../lib/prefix/search.ts";
import { selectKept } from "../../lib/prefix/select.ts";

const LAYERS = 40;
const N = 4096;

/** Seeded xorshift32 so every run benchmarks the same scores. */
function scores(seed: number): Float32Array[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  // Skewed like attention mass: a few heavy hitters, a long light tail, a large sink at 0.
  return Array.from({ length: LAYERS }, () => {
    const v = Float32Array.from({ length: N }, () => next() ** 4 + 1e-4);
    v[0] = N / 4;
    return v;
  });
}

const importance = scores(42);
const found = prefixSearch(importance, { budget: 0.2 });

Deno.bench("prefixSearch 40×4096, budget 20%", () => {
  prefixSearch(importance, { budget: 0.2 });
});

Deno.bench("prefixSearch 40×4096, budget 50%", () => {
  prefixSearch(importance, { budget: 0.5 });
});

Deno.bench("selectKept all 40 layers, 4096 positions", () => {
  for (let l = 0; l < LAYERS; l++) selectKept(importance[l], found.evict[l], 1);
});
