/**
 * AirCache by hand: a 6-entry prompt with the image at position 1, so the observation window is
 * positions 2–5. The last token (5) picks the elite among 2, 3, 4 by its own attention; entries
 * are scored by the elite rows only; the budget follows strength / (1 + max(0, skewness)).
 */
import { assert, assertEquals } from "@std/assert";
import {
  type ComposedPolicy,
  createRecipe,
  eliteObservationWindow,
  eliteQueries,
  observationStart,
  strengthAndSkewness,
} from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith } from "./harness.ts";

const N = 6;
const IMAGE = { start: 1, end: 2 };
// Layer 0: row 5 attends 0.25 to 3 and 0.1 to 4 (2 gets 0.05): elite {3, 4, 5}.
const L0 = [
  [1, 0, 0, 0, 0, 0],
  [0.5, 0.5, 0, 0, 0, 0],
  [0.5, 0.3, 0.2, 0, 0, 0],
  [0.2, 0.5, 0.1, 0.2, 0, 0],
  [0.1, 0.6, 0.1, 0.1, 0.1, 0],
  [0.3, 0.2, 0.05, 0.25, 0.1, 0.1],
];
// Layer 1: row 5 gives 0.2 to 2 and ties 0.05 between 3 and 4 (the lower wins): elite {2, 3, 5}.
const L1 = [
  [1, 0, 0, 0, 0, 0],
  [0.5, 0.5, 0, 0, 0, 0],
  [0.4, 0.4, 0.2, 0, 0, 0],
  [0.3, 0.3, 0.2, 0.2, 0, 0],
  [0.2, 0.2, 0.2, 0.2, 0.2, 0],
  [0.5, 0.1, 0.2, 0.05, 0.05, 0.1],
];
const close = (a: number, b: number, eps = 1e-5) => assert(Math.abs(a - b) < eps, `${a} vs ${b}`);

Deno.test("aircache: the window is the text after the image; the last token picks the elite", () => {
  assertEquals(observationStart({ promptLength: N, imageSpan: IMAGE }, 32), 2);
  assertEquals(observationStart({ promptLength: N }, 3), 3); // no image: the last 3 positions
  assertEquals(eliteQueries(L0.flat(), N, 2, 0.5), [3, 4, 5]); // ⌈0.5 · 3⌉ = 2 of 2, 3, 4
  assertEquals(eliteQueries(L1.flat(), N, 2, 0.5), [2, 3, 5]);
  assertEquals(eliteQueries(L0.flat(), N, 2, 0.2), [3, 5]);
});

Deno.test("aircache: scores are the elite rows' attention summed", () => {
  const scores = eliteObservationWindow().score({
    promptLength: N,
    attention: [Float32Array.from(L0.flat()), Float32Array.from(L1.flat())],
    imageSpan: IMAGE,
  }, 2)!;
  [0.6, 1.3, 0.25, 0.55, 0.2, 0.1].forEach((x, k) => close(scores[0][k], x)); // rows 3 + 4 + 5
  [1.2, 0.8, 0.6, 0.25, 0.05, 0.1].forEach((x, k) => close(scores[1][k], x)); // rows 2 + 3 + 5
});

Deno.test("aircache: strength and skewness over the droppable entries 1–4", () => {
  const guarded = (i: number) => i === 0 || i === 5; // sink and last token
  // Layer 0: 2.3 of 3.0 on 1–4; deviations from 0.575: .725, −.325, −.025, −.375.
  const a = strengthAndSkewness([0.6, 1.3, 0.25, 0.55, 0.2, 0.1], guarded);
  close(a.strength, 2.3 / 3);
  const m2 = (0.725 ** 2 + 0.325 ** 2 + 0.025 ** 2 + 0.375 ** 2) / 4; // 0.193125
  const m3 = (0.725 ** 3 - 0.325 ** 3 - 0.025 ** 3 - 0.375 ** 3) / 4; // 0.0735
  close(a.skewness, m3 / m2 ** 1.5); // ≈ 0.866
  // Layer 1: 1.7 of 3.0; scores symmetric about their mean: no skew.
  const b = strengthAndSkewness([1.2, 0.8, 0.6, 0.25, 0.05, 0.1], guarded);
  close(b.strength, 1.7 / 3);
  close(b.skewness, 0);
});

Deno.test("aircache: the skewed, weaker layer keeps fewer entries", () => {
  const policy = createRecipe("aircache").policy({ fraction: 2 / 3 }) as ComposedPolicy;
  assertEquals(policy.needs, { prefill: "matrices", step: false });
  const importance = [L0, L1].map((m) => m[0].map((_, k) => m.reduce((s, r) => s + r[k], 0)));
  const cache = prefillWith(policy, importance, {
    attention: [L0.flat(), L1.flat()],
    imageSpan: IMAGE,
  });
  // Weights 0.7667 / 1.866 = 0.4109 and 0.5667; total round(2/3 · 12) = 8 →
  // quotas 3.362, 4.638 → [3, 5].
  assertEquals(Array.from(policy.decision!.kept), [3, 5]);
  // Layer 0 keeps 0, 5 and the top-scored 1; layer 1 keeps 0, 5 and 1, 2, 3.
  assertEquals(positionsOf(cache), [[0, 1, 5], [0, 1, 2, 3, 5]]);
  const section = policy.decision!.sections.aircache as { weight: number[] };
  close(section.weight[0], (2.3 / 3) / (1 + 0.866025), 1e-4);
  close(section.weight[1], 1.7 / 3, 1e-4);
});
