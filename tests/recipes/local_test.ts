import { assertEquals } from "@std/assert";
import { createRecipe } from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith, stepWith } from "./harness.ts";

const IMPORTANCE = [[9, 1, 1, 1, 1, 1, 1, 1, 1, 1], [9, 1, 1, 1, 1, 1, 1, 1, 1, 1]];

Deno.test("local: sink + most recent, same in every layer, then oldest non-sink goes", () => {
  const policy = createRecipe("local").policy({ fraction: 0.5 });
  assertEquals(policy.needs, { prefill: "none", step: false });
  const cache = prefillWith(policy, IMPORTANCE);
  // K = 5 of 10: position 0 (sink) and the 4 most recent.
  assertEquals(positionsOf(cache), [[0, 6, 7, 8, 9], [0, 6, 7, 8, 9]]);
  // T = 11: ⌈11·5/10⌉ = 6 entries allowed, nothing goes.
  stepWith(policy, cache, 10, 1);
  assertEquals(positionsOf(cache)[0], [0, 6, 7, 8, 9, 10]);
  // T = 12: 6 allowed, the oldest non-sink (position 6) goes.
  stepWith(policy, cache, 10, 2);
  assertEquals(positionsOf(cache), [[0, 7, 8, 9, 10, 11], [0, 7, 8, 9, 10, 11]]);
  // T = 13: ⌈6.5⌉ = 7 allowed.
  stepWith(policy, cache, 10, 3);
  assertEquals(positionsOf(cache)[1], [0, 7, 8, 9, 10, 11, 12]);
});

Deno.test("local: startSize 2 keeps two sinks", () => {
  const policy = createRecipe("local", { startSize: 2 }).policy({ fraction: 0.5 });
  const cache = prefillWith(policy, IMPORTANCE);
  assertEquals(positionsOf(cache)[0], [0, 1, 7, 8, 9]);
  stepWith(policy, cache, 10, 1);
  stepWith(policy, cache, 10, 2);
  assertEquals(positionsOf(cache)[0], [0, 1, 8, 9, 10, 11]);
});
