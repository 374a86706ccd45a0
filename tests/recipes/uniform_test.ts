import { assertEquals } from "@std/assert";
import { createRecipe } from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith } from "./harness.ts";

Deno.test("uniform: PrefixKV selection with the same count in every layer", () => {
  const policy = createRecipe("uniform").policy({ fraction: 0.5 });
  // K = 3 per layer: 0 and 5 protected, then each layer's own top of [1, 5).
  const cache = prefillWith(policy, [[5, 1, 4, 2, 3, 0.5], [5, 4, 1, 2, 3, 0.5]]);
  assertEquals(positionsOf(cache), [[0, 2, 5], [0, 1, 5]]);
});
