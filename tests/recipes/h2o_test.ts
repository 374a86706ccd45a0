import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { createRecipe } from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith, stepWith } from "./harness.ts";

Deno.test("h2o: one layer-averaged score, true top-k, same positions in every layer", () => {
  const policy = createRecipe("h2o").policy({ fraction: 0.5 });
  assertEquals(policy.needs, { prefill: "importance", step: true });
  // Layer mean: [7, 1, 3, 2, 2, 1]. K = 3: sink 0, last 5, and the top of [1, 5): position 2.
  // (The baseline code's where(argsort(score) > forget) would not pick the top-scored token.)
  const cache = prefillWith(policy, [[8, 1, 5, 2, 3, 1], [6, 1, 1, 2, 1, 1]]);
  assertEquals(positionsOf(cache), [[0, 2, 5], [0, 2, 5]]);
  // Step 1 (position 6): layer-mean attention [.2, .3, .3, .2] → scores [7.2, 3.3, 1.3, .2];
  // T = 7 allows ⌈3.5⌉ = 4 entries: nothing goes.
  stepWith(policy, cache, 6, 1, [[0.1, 0.5, 0.2, 0.2], [0.3, 0.1, 0.4, 0.2]]);
  assertEquals(positionsOf(cache)[0], [0, 2, 5, 6]);
  // Step 2 (position 7): + [.1, .1, .1, .1, .6] → [7.3, 3.4, 1.4, .3, .6]; T = 8 allows 4:
  // the argmin over [1, len − 1) is position 6 (.3); the newest (.6) is never a candidate.
  const a = [0.1, 0.1, 0.1, 0.1, 0.6];
  stepWith(policy, cache, 6, 2, [a, a]);
  assertEquals(positionsOf(cache), [[0, 2, 5, 7], [0, 2, 5, 7]]);
});

Deno.test("h2o-layerwise: heavy hitters + recent half, per-layer accumulated scores", () => {
  const policy = createRecipe("h2o-layerwise").policy({ fraction: 0.5 });
  // K = 4: recent window = positions 6, 7; heavy = top-2 of [0, 6) = positions 1 (9), 3 (8).
  const cache = prefillWith(policy, [[1, 9, 3, 8, 2, 7, 5, 4]]);
  assertEquals(positionsOf(cache), [[1, 3, 6, 7]]);
  // Step 1 (position 8): scores [9.1, 8.1, 5.1, 4.6, .1]; T = 9 allows ⌈4.5⌉ = 5.
  stepWith(policy, cache, 8, 1, [[0.1, 0.1, 0.1, 0.6, 0.1]]);
  assertEquals(positionsOf(cache), [[1, 3, 6, 7, 8]]);
  // Step 2 (position 9): scores [9.1, 8.1, 5.6, 4.8, .3, .1]; T = 10 allows 5. The recent
  // window (⌊5/2⌋ = 2: positions 8, 9) is kept although position 8 scores lowest; the argmin
  // of the rest is position 7 (4.8).
  stepWith(policy, cache, 8, 2, [[0, 0, 0.5, 0.2, 0.2, 0.1]]);
  assertEquals(positionsOf(cache), [[1, 3, 6, 8, 9]]);
});
