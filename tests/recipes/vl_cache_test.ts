/**
 * VL-Cache by hand: a 6-entry prompt whose image is position 1–3, so the post-vision queries are
 * rows 4 and 5. Sparsity counts the causal entries of those rows below 1 % of the row maximum
 * (Eq. (1)–(2)); Algorithm 1 turns densities into clipped kept ratios; selection keeps the sink,
 * a recent window of 10 % of the count and the top post-vision scores (§3.2, §5).
 */
import { assert, assertEquals } from "@std/assert";
import {
  type ComposedPolicy,
  createRecipe,
  headSparsity,
  layerRatios,
  layerSparsity,
  postVisionAttention,
  vlCacheSelection,
} from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith } from "./harness.ts";

const N = 6;
const IMAGE = { start: 1, end: 4 };
/** Rows 0–3 look at the image (position 1); rows 4, 5 are the post-vision queries. */
const EARLY = [
  [1, 0, 0, 0, 0, 0],
  [0.2, 0.8, 0, 0, 0, 0],
  [0.1, 0.8, 0.1, 0, 0, 0],
  [0.1, 0.7, 0.1, 0.1, 0, 0],
];
// Layer 0, rows 4 and 5: 4 of 5 and 5 of 6 causal entries reach 1 % of the row max.
const L0 = [...EARLY, [0.5, 0.004, 0.2, 0.1, 0.196, 0], [0.4, 0.1, 0.001, 0.2, 0.099, 0.2]];
// Layer 1: 2 of 5 and 2 of 6.
const L1 = [
  ...EARLY,
  [0.9, 0.001, 0.001, 0.001, 0.097, 0],
  [0.8, 0.002, 0.002, 0.002, 0.004, 0.19],
];
const flat = (m: number[][]) => m.flat();
const chunk = (flatRows: number[], n: number) =>
  Array.from({ length: n }, (_, q) => flatRows.slice(q * n, (q + 1) * n));
const columnSums = (m: number[][]) => m[0].map((_, k) => m.reduce((s, row) => s + row[k], 0));
const close = (a: number, b: number) => assert(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);

Deno.test("vl-cache: sparsity is the share of post-vision causal entries below 1% of the row max", () => {
  close(layerSparsity(flat(L0), N, 4, 0.01), 2 / 11); // 9 of 11 dense
  close(layerSparsity(flat(L1), N, 4, 0.01), 7 / 11); // 4 of 11 dense
  close(layerSparsity(flat(L1), N, 4, 0.001), 0); // τ = 0.1 %: every causal entry is dense
  close(layerSparsity(flat(L0), N, 0, 0.01), 2 / 21); // all 21 causal entries: rows 0–3 add none
});

Deno.test("vl-cache: γ is measured per head and averaged (Algorithm 1), not on the averaged matrix", () => {
  // One post-vision row (query 3 of 4). Two heads attend to disjoint halves of it.
  const head = (row: number[]) => [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.3, 0.3, 0.4, 0], row].flat();
  const a = head([0.5, 0.5, 0, 0]);
  const b = head([0, 0, 0.5, 0.5]);
  close(headSparsity([a, b], 4, 3, 0.01), 0.5); // each head zeroes 2 of 4
  const averaged = a.map((x, i) => (x + b[i]) / 2);
  close(layerSparsity(averaged, 4, 3, 0.01), 0); // the averaged matrix zeroes none
  close(headSparsity([averaged], 4, 3, 0.01), 0); // one head: its own sparsity
});

Deno.test("vl-cache: the recipe gets the heads' γ = 0.5 and budgets by it", () => {
  // N = 8, image 1–4, post-vision queries 5, 6, 7 (6 + 7 + 8 = 21 causal entries).
  // Layer 0: head a spreads each post-vision row over the even keys, head b over the odd ones
  // (γ = 10/21 and 11/21, mean 0.5); their average is dense (γ = 0). Layer 1: both heads
  // uniform (γ = 0).
  const n = 8;
  const uniformRow = (q: number) => Array.from({ length: n }, (_, k) => (k <= q ? 1 / (q + 1) : 0));
  const parityRow = (q: number, parity: number) => {
    const keys = Array.from({ length: q + 1 }, (_, k) => k).filter((k) => k % 2 === parity);
    return Array.from({ length: n }, (_, k) => (keys.includes(k) ? 1 / keys.length : 0));
  };
  const matrix = (row: (q: number) => number[]) =>
    Array.from({ length: n }, (_, q) => row(q)).flat();
  const headA = matrix((q) => (q < 5 ? uniformRow(q) : parityRow(q, 0)));
  const headB = matrix((q) => (q < 5 ? uniformRow(q) : parityRow(q, 1)));
  const mean0 = headA.map((x, i) => (x + headB[i]) / 2);
  const uniform = matrix(uniformRow);
  const policy = createRecipe("vl-cache").policy({ fraction: 0.5 }) as ComposedPolicy;
  assertEquals(policy.needs, { prefill: "headMatrices", step: false });
  prefillWith(policy, [columnSums(chunk(mean0, n)), columnSums(chunk(uniform, n))], {
    attention: [mean0, uniform],
    headAttention: [[...headA, ...headB], [...uniform, ...uniform]],
    imageSpan: { start: 1, end: 5 },
  });
  const section = policy.decision!.sections.vlCache as { sparsity: number[]; ratios: number[] };
  close(section.sparsity[0], 0.5);
  close(section.sparsity[1], 0);
  // d = 0.5, 1 → β = 1/3, 2/3 → quotas 8/3, 16/3 of round(0.5·8·2) = 8 → [3, 5]. The averaged
  // matrices (γ = 0 in both layers) would have given [4, 4].
  close(section.ratios[0], 1 / 3);
  close(section.ratios[1], 2 / 3);
  assertEquals(Array.from(policy.decision!.kept), [3, 5]);
});

Deno.test("vl-cache: Algorithm 1's ratios are density shares of α·L, clipped to [0.01, 1]", () => {
  const ratios = layerRatios([2 / 11, 7 / 11], 0.5, 0.01); // d = 9/11, 4/11
  close(ratios[0], 9 / 13);
  close(ratios[1], 4 / 13);
  // α = 0.8, d = 1 and 0.001: 1.6/1.001 ≈ 1.598 → 1, 0.0016/1.001 ≈ 0.0016 → 0.01.
  assertEquals(layerRatios([0, 0.999], 0.8, 0.01), [1, 0.01]);
  assertEquals(layerRatios([1, 1], 0.3, 0.01), [0.3, 0.3]); // all sparse: uniform
});

Deno.test("vl-cache: scores are the post-vision queries' attention; without an image, all queries'", () => {
  const [s0] = postVisionAttention().score(
    { promptLength: N, attention: [Float32Array.from(flat(L0))], imageSpan: IMAGE },
    1,
  )!;
  [0.9, 0.104, 0.201, 0.3, 0.295, 0.2].forEach((x, k) => close(s0[k], x));
  const [all] = postVisionAttention().score(
    { promptLength: N, attention: [Float32Array.from(flat(L0))] },
    1,
  )!;
  columnSums(L0).forEach((x, k) => close(all[k], x));
});

Deno.test("vl-cache: dense layers keep more; each keeps its top post-vision entries", () => {
  const policy = createRecipe("vl-cache").policy({ fraction: 0.5 }) as ComposedPolicy;
  assertEquals(policy.needs, { prefill: "headMatrices", step: false });
  const importance = [columnSums(L0), columnSums(L1)];
  const cache = prefillWith(policy, importance, {
    attention: [flat(L0), flat(L1)],
    imageSpan: IMAGE,
  });
  // Total round(0.5·6·2) = 6; β = 9/13, 4/13 → quotas 4.15, 1.85 → [4, 2] (at least sink + last).
  assertEquals(Array.from(policy.decision!.kept), [4, 2]);
  // Layer 0: sink 0, recent ⌊0.1·4⌋ → the last token 5, then post-vision scores 0.3 (3) and
  // 0.295 (4). The whole-prompt importance would have kept the image entry 1 (column sum 2.4).
  assertEquals(positionsOf(cache), [[0, 3, 4, 5], [0, 5]]);
  const section = policy.decision!.sections.vlCache as {
    postVisionStart: number;
    sparsity: number[];
    ratios: number[];
  };
  assertEquals(section.postVisionStart, 4);
  close(section.sparsity[0], 2 / 11);
  close(section.sparsity[1], 7 / 11);
  close(section.ratios[0], 9 / 13);
});

Deno.test("vl-cache: the recent window is 10% of a layer's count (§5), at least the last token", () => {
  const n = 30;
  const scores = Float32Array.from({ length: n }, (_, k) => n - k); // earlier = higher
  const keep = (recentRatio: number, count: number) => {
    const plan = vlCacheSelection(1, recentRatio).select({
      layer: 0,
      promptLength: n,
      count,
      scores,
    });
    return plan.kind === "keep" ? Array.from(plan.indices) : [];
  };
  // 20 kept: sink 0, recent ⌊2⌋ = 28, 29, and the 17 best of 1…27 (1…17).
  assertEquals(keep(0.1, 20), [0, ...Array.from({ length: 17 }, (_, i) => i + 1), 28, 29]);
  // recentRatio 0 (or a count under 10): only the last token is protected besides the sink.
  assertEquals(keep(0, 5), [0, 1, 2, 3, 29]);
  assertEquals(keep(0.1, 5), [0, 1, 2, 3, 29]);
  assertEquals(Array.from(vlCacheSelection(1, 0.1).protectedPositions(n, 20)), [0, 28, 29]);
});

Deno.test("vl-cache: threshold and recentRatio are options with ranges", () => {
  const r = createRecipe("vl-cache", { threshold: 0.05, recentRatio: 0.2 });
  assertEquals(r.config, {
    method: "vl-cache",
    startSize: 1,
    threshold: 0.05,
    recentRatio: 0.2,
    distance: -25,
  });
  assert(r.describeParts().includes("sparsity(τ=0.05)"));
  assert(r.describeParts().includes("recent=0.2"));
  let message = "";
  try {
    createRecipe("vl-cache", { recentRatio: 1 });
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message.includes("recentRatio"), message);
});
