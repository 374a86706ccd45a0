import { assertEquals } from "@std/assert";
import { type ComposedPolicy, createRecipe, pyramidQuotas } from "../../lib/recipes/mod.ts";
import { simulate } from "./harness.ts";

Deno.test("pyramid: arithmetic from 2C − C/β down to C/β, capped at N", () => {
  // C = 20, β = 20: min 1, max 39, step 9.5.
  assertEquals(pyramidQuotas(20, 100, 5, 20), [39, 29.5, 20, 10.5, 1]);
  // C = 80: max 156 > N = 100 → max 100, min 2C − N = 60.
  assertEquals(pyramidQuotas(80, 100, 3, 20), [100, 80, 60]);
});

Deno.test("pyramid: integer counts sum to the budget, floored at the protected two", () => {
  const policy = createRecipe("pyramid").policy({ fraction: 0.2 }) as ComposedPolicy;
  simulate(policy, { numLayers: 5, promptLength: 100 }, 0);
  assertEquals(Array.from(policy.decision!.kept), [39, 29, 20, 10, 2]);
  const beta4 = createRecipe("pyramid", { beta: 4 }).policy({ fraction: 0.2 }) as ComposedPolicy;
  simulate(beta4, { numLayers: 5, promptLength: 100 }, 0);
  // min 5, max 35, step 7.5 → [35, 27.5, 20, 12.5, 5] → floors [35, 27, 20, 12, 5] = 99, the
  // missing unit goes to the layer furthest below its quota (layer 1, ties to the lower layer).
  assertEquals(Array.from(beta4.decision!.kept), [35, 28, 20, 12, 5]);
});
