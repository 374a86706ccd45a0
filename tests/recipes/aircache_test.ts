/**
 * AirCache by hand: an 8-entry prompt, text 0–1 (the BOS sink and one token), the image 2–5,
 * text 6–7 after it (7 is the last token). X_t is 6–7; the last token attends 0.25 to 6 and
 * 0.15 to itself, so with α = 0.9 the elite is {6}. Row 6 then gives I_v over the visual and
 * elite keys; strength, skewness and the layer budget follow the paper's formulas.
 */
import { assert, assertEquals } from "@std/assert";
import {
  type AirCacheDecision,
  airCacheRoles,
  airCacheWeights,
  type ComposedPolicy,
  createRecipe,
  eliteImportance,
  eliteObservationWindow,
  eliteTokens,
  layerElite,
  sampleSkewness,
  strengthAndSkewness,
} from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith } from "./harness.ts";

const N = 8;
const IMAGE = { start: 2, end: 6 };
const LAST = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.25, 0.15];
/** Causal rows 0–5 (not read by AirCache), then row 6 (the elite) and row 7 (the last token). */
function layer(row6: number[]): number[] {
  const rows = Array.from({ length: 6 }, (_, q) => {
    const row = new Array(N).fill(0);
    for (let k = 0; k <= q; k++) row[k] = 1 / (q + 1);
    return row;
  });
  return [...rows, row6, LAST].flat();
}
// Layer 0: row 6 puts 0.4 on visual 2, 0.1 on 3–5, 0.15 on itself: visual + elite keys 0.85.
const L0 = layer([0.1, 0.05, 0.4, 0.1, 0.1, 0.1, 0.15, 0]);
// Layer 1: 0.15, 0.15, 0.1, 0.1 on the image, 0.1 on itself: 0.6.
const L1 = layer([0.2, 0.2, 0.15, 0.15, 0.1, 0.1, 0.1, 0]);
const close = (a: number, b: number, eps = 1e-6) => assert(Math.abs(a - b) < eps, `${a} vs ${b}`);
const info = (imageSpan?: { start: number; end: number }) => ({
  promptLength: N,
  attention: [Float32Array.from(L0), Float32Array.from(L1)],
  headAttention: [Float32Array.from(L0), Float32Array.from(L1)], // one head per layer
  imageSpan,
});

Deno.test("aircache: X_t is the text after the image; the elite get ≥ α × the last token's top", () => {
  assertEquals(airCacheRoles(info(IMAGE)), { visual: IMAGE, textFrom: 6 });
  assertEquals(airCacheRoles(info(), 1), { textFrom: 1 }); // no image: after the sink
  assertEquals(eliteTokens([L0], N, 6, 0.9), [6]); // 0.15 < 0.9 · 0.25
  assertEquals(eliteTokens([L0], N, 6, 0.5), [6, 7]); // 0.15 ≥ 0.125
  // Over every text token the sink-side 0.1s stay below 0.9 · 0.25 too.
  assertEquals(eliteTokens([L0], N, 0, 0.9), [6]);
  // Without an image the last token joins the elite (an early elite sees only a few entries).
  assertEquals(layerElite([L0], N, airCacheRoles(info(), 1), 0.9), [6, 7]);
});

Deno.test("aircache: I_v is the elite's attention renormalised over visual + elite keys", () => {
  const keys = (k: number) => (k >= 2 && k < 6) || k === 6;
  const iv = eliteImportance([L0], N, [6], keys);
  [0, 0, 0.4 / 0.85, 0.1 / 0.85, 0.1 / 0.85, 0.1 / 0.85, 0.15 / 0.85, 0].forEach((x, k) =>
    close(iv[k], x)
  );
  // Two elite queries: the mean of their renormalised rows (row 7 over keys 2–7 sums 0.8).
  const both = eliteImportance([L0], N, [6, 7], (k) => k >= 2);
  close(both[2], (0.4 / 0.85 + 0.1 / 0.8) / 2);
  close(both[7], (0 + 0.15 / 0.8) / 2);
});

Deno.test("aircache: the elite threshold is on the heads' mean text-only softmax of the last row", () => {
  // Head a's last row puts little on X_t = {6, 7}: 0.02, 0.08 → softmax over X_t 0.2, 0.8;
  // head b 0.5, 0.3 → 0.625, 0.375. Mean 0.4125, 0.5875: the elite is {7}. The averaged raw
  // row (0.26, 0.19) would pick {6}.
  const lastRowHead = (x6: number, x7: number) => {
    const m = new Array(N * N).fill(0);
    const rest = (1 - x6 - x7) / 6;
    for (let k = 0; k < 6; k++) m[(N - 1) * N + k] = rest;
    m[(N - 1) * N + 6] = x6;
    m[(N - 1) * N + 7] = x7;
    return m;
  };
  const a = lastRowHead(0.02, 0.08);
  const b = lastRowHead(0.5, 0.3);
  assertEquals(eliteTokens([a, b], N, 6, 0.9), [7]);
  assertEquals(eliteTokens([a.map((x, i) => (x + b[i]) / 2)], N, 6, 0.9), [6]);
});

Deno.test("aircache: I_v averages the heads' restricted softmaxes; the recipe keeps by it", () => {
  // One layer; the elite is {6} in both heads (last row as in L0). Row 6 of head a: 0.5 on
  // visual 2, 0.3 on 3, 0.2 on itself (visual + elite mass 1); head b: 0.9 on the sink, 0.06
  // on visual 4, 0.04 on itself (mass 0.1 → 0.6, 0.4). Per head, then averaged: I_v(2) = 0.25,
  // I_v(3) = 0.15, I_v(4) = 0.3. The averaged row renormalised would rank 2 first (0.25/0.55).
  const headA = layer([0, 0, 0.5, 0.3, 0, 0, 0.2, 0]);
  const headB = layer([0.9, 0, 0, 0, 0.06, 0, 0.04, 0]);
  const mean = headA.map((x, i) => (x + headB[i]) / 2);
  const heads = [Float32Array.from([...headA, ...headB])];
  const [s] = eliteObservationWindow().score({
    promptLength: N,
    attention: [Float32Array.from(mean)],
    headAttention: heads,
    imageSpan: IMAGE,
  }, 1)!;
  [0.25, 0.15, 0.3, 0].forEach((x, i) => close(s[2 + i], x));
  // Text keeps its tier: 2 + the heads' mean attention of the elite row (row sums are 1).
  close(s[6], 2 + 0.12);
  // round(0.625 · 8) = 5 = 4 text entries + the best visual one: 4 (per head), not 2.
  const policy = createRecipe("aircache").policy({ fraction: 0.625 }) as ComposedPolicy;
  const cache = prefillWith(policy, [new Array(N).fill(1)], {
    attention: [mean],
    headAttention: [[...headA, ...headB]],
    imageSpan: IMAGE,
  });
  assertEquals(positionsOf(cache), [[0, 1, 4, 6, 7]]);
});

Deno.test("aircache: scores put text above every visual entry; rank mode scores all alike", () => {
  const [s0, s1] = eliteObservationWindow().score(info(IMAGE), 2)!;
  // Visual: I_v; text: 2 + the elite row's own attention.
  [2.1, 2.05, 0.4 / 0.85, 0.1 / 0.85, 0.1 / 0.85, 0.1 / 0.85, 2.15, 2].forEach((x, k) =>
    close(s0[k], x)
  );
  [0.25, 0.25, 0.1 / 0.6, 0.1 / 0.6].forEach((x, i) => close(s1[2 + i], x));
  const [r0] = eliteObservationWindow({ text: "rank" }).score(info(IMAGE), 2)!;
  [0.1, 0.05, 0.4, 0.1, 0.1, 0.1, 0.15, 0].forEach((x, k) => close(r0[k], x));
});

Deno.test("aircache: adjusted Fisher–Pearson skewness and the layer weights ½(s'_t + s'_k)", () => {
  // [1, 2, 3, 10]: mean 4, s² = 50/3, Σ dev³ = 180 → 4/6 · 180 / s³.
  close(sampleSkewness([1, 2, 3, 10]), (4 / 6) * 180 / (50 / 3) ** 1.5);
  close(sampleSkewness([1, 2, 3, 10]), 1.7636326148038877, 1e-12); // Python, same formula
  assertEquals(sampleSkewness([1, 5]), 0); // fewer than 3
  assertEquals(sampleSkewness([2, 2, 2]), 0); // no spread
  // Layer 0's I_v = [0.4, 0.1, 0.1, 0.1]/0.85: z = 1.5, −0.5 ×3 → 4/6 · 3 = 2.
  const a = strengthAndSkewness([0, 0, 0.4, 0.1, 0.1, 0.1], [2, 3, 4, 5]);
  close(a.strength, 0.7);
  close(a.skewness, 2);
  // Strength normalised by its mean (2), negative skewness as 0, then by its mean (1).
  assertEquals(airCacheWeights([1, 3], [-1, 2]), [0.25, 1.75]);
  assertEquals(airCacheWeights([1, 1], [0, -3]), [1, 1]); // no skew anywhere: strength alone
});

Deno.test("aircache: text kept whole; the skewed layer's visual entries get more of the rest", () => {
  const policy = createRecipe("aircache").policy({ fraction: 0.75 }) as ComposedPolicy;
  assertEquals(policy.needs, { prefill: "headMatrices", step: false });
  const cache = prefillWith(policy, [new Array(N).fill(1), new Array(N).fill(1)], {
    attention: [L0, L1],
    imageSpan: IMAGE,
  });
  // Strength 0.7/0.85 and 5/6, skewness 2 and 0 → weights (0.9941 + 2)/2, 1.0059/2.
  // round(0.75 · 16) = 12 = 2 × 4 text + 4 visual → quotas 2.99, 1.01 → [3, 1].
  const d = policy.decision!.sections.aircache as unknown as AirCacheDecision;
  close(d.strength[0], 0.7 / 0.85);
  close(d.strength[1], 5 / 6);
  close(d.skewness[0], 2);
  close(d.skewness[1], 0);
  const st = [0.7 / 0.85, 5 / 6].map((s) => s / ((0.7 / 0.85 + 5 / 6) / 2));
  close(d.weight[0], (st[0] + 2) / 2);
  close(d.weight[1], st[1] / 2);
  assertEquals(d.elite, [[6], [6]]);
  assertEquals([d.text, d.fixed, d.candidatesKept, d.candidateRatio, d.textTrimmed], [
    "keep",
    4,
    [3, 1],
    0.5,
    false,
  ]);
  assertEquals(Array.from(policy.decision!.kept), [7, 5]);
  // Layer 0: all text, visual 2 (0.42) and the tied 3, 4 (lower first); layer 1: visual 2.
  assertEquals(positionsOf(cache), [[0, 1, 2, 3, 4, 6, 7], [0, 1, 2, 6, 7]]);
});

Deno.test("aircache: below the text share the text itself is trimmed, by the elite's attention", () => {
  const policy = createRecipe("aircache").policy({ fraction: 0.375 }) as ComposedPolicy;
  const cache = prefillWith(policy, [new Array(N).fill(1), new Array(N).fill(1)], {
    attention: [L0, L1],
    imageSpan: IMAGE,
  });
  // 6 entries < 8 text entries: 3 per layer, sink + last + the better text token.
  assertEquals(Array.from(policy.decision!.kept), [3, 3]);
  assertEquals(positionsOf(cache), [[0, 6, 7], [0, 1, 7]]);
  const d = policy.decision!.sections.aircache as unknown as AirCacheDecision;
  assertEquals([d.textTrimmed, d.candidatesKept, d.candidateRatio], [true, [0, 0], 0]);
});

Deno.test("aircache: text: rank ranks text and visual entries together", () => {
  const policy = createRecipe("aircache", { text: "rank" }).policy({
    fraction: 0.5,
  }) as ComposedPolicy;
  const cache = prefillWith(policy, [new Array(N).fill(1), new Array(N).fill(1)], {
    attention: [L0, L1],
    imageSpan: IMAGE,
  });
  // Statistics still over the visual entries: strength 0.7 and 0.5, skewness 2 and 0 →
  // weights 1.583, 0.417; 8 = 2 × 2 protected + 4 → quotas 3.17, 0.83 → [3, 1].
  assertEquals(Array.from(policy.decision!.kept), [5, 3]);
  // Layer 0: 2 (0.4), 6 (0.15), then 3 of the 0.1 ties; layer 1: 1 (0.2).
  assertEquals(positionsOf(cache), [[0, 2, 3, 6, 7], [0, 1, 7]]);
  const d = policy.decision!.sections.aircache as unknown as AirCacheDecision;
  assertEquals([d.text, d.fixed, d.candidatesKept], ["rank", 2, [3, 1]]);
});

Deno.test("aircache: alpha and text are options with ranges", () => {
  const r = createRecipe("aircache", { alpha: 0.5, text: "rank" });
  assertEquals(r.config, {
    method: "aircache",
    startSize: 1,
    alpha: 0.5,
    text: "rank",
    distance: -25,
  });
  assert(r.describeParts().includes("α=0.5"));
  for (const bad of [{ alpha: 0 }, { text: "drop" }, { window: 8 }]) {
    let message = "";
    try {
      createRecipe("aircache", bad);
    } catch (e) {
      message = (e as Error).message;
    }
    assert(message.includes(Object.keys(bad)[0]), message);
  }
});
