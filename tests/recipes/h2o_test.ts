import { assertEquals } from "@std/assert";
import { createRecipe } from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith, stepWith } from "./harness.ts";

Deno.test("h2o: one layer-averaged score, true top-k, same positions in every layer", () => {
  const policy = createRecipe("h2o").policy({ fraction: 0.5 });
  assertEquals(policy.needs, { prefill: "importance", step: true });
  // Layer mean: [7, 1, 3, 2, 2, 1]. K = 3: sink 0, last 5, and the top of [1, 5): position 2.
  // (The baseline code's where(argsort(score) > forget) would not pick the top-scored token.)
  const cache = prefillWith(policy, [[8, 1, 5, 2, 3, 1], [6, 1, 1, 2, 1, 1]]);
  assertEquals(positionsOf(cache), [[0, 2, 5], [0, 2, 5]]);
  // Step 1 (position 6): layer-mean attention [.1, .1, .1, .7] → scores [7.1, 3.1, 1.1, .7];
  // T = 7 allows ⌈3.5⌉ = 4 entries: nothing goes.
  stepWith(policy, cache, 6, 1, [[0.2, 0, 0, 0.8], [0, 0.2, 0.2, 0.6]]);
  assertEquals(positionsOf(cache)[0], [0, 2, 5, 6]);
  // Step 2 (position 7): + [0, 0, 0, .9, .1] → [7.1, 3.1, 1.1, 1.6, .1]; T = 8 allows 4: the
  // argmin over [1, len − 1) is position 5 (1.1) — without accumulation it would be 6 — and
  // the newest entry (.1) is never a candidate.
  stepWith(policy, cache, 6, 2, [[0, 0, 0, 1, 0], [0, 0, 0, 0.8, 0.2]]);
  assertEquals(positionsOf(cache), [[0, 2, 6, 7], [0, 2, 6, 7]]);
});

Deno.test("h2o-layerwise: heavy hitters + recent half, per-layer accumulated scores", () => {
  const policy = createRecipe("h2o-layerwise").policy({ fraction: 0.5 });
  // K = 4: recent window = positions 6, 7; heavy = top-2 of [0, 6) = positions 1 (9), 3 (8).
  const cache = prefillWith(policy, [[1, 9, 3, 8, 2, 7, 5, 4]]);
  assertEquals(positionsOf(cache), [[1, 3, 6, 7]]);
  // Step 1 (position 8): scores [9, 8, 5, 4.9, .1]; T = 9 allows ⌈4.5⌉ = 5.
  stepWith(policy, cache, 8, 1, [[0, 0, 0, 0.9, 0.1]]);
  assertEquals(positionsOf(cache), [[1, 3, 6, 7, 8]]);
  // Step 2 (position 9): scores [9, 8, 5, 5.8, .15, .05]; T = 10 allows 5. The recent window
  // (⌊5/2⌋ = 2: positions 8, 9) is kept although it scores lowest; the argmin of the rest is
  // position 6 (5) — without accumulation it would be 7.
  stepWith(policy, cache, 8, 2, [[0, 0, 0, 0.9, 0.05, 0.05]]);
  assertEquals(positionsOf(cache), [[1, 3, 7, 8, 9]]);
});
