import { assertEquals, assertMatch, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import { prefixSearch } from "../../lib/prefix/mod.ts";
import { prefixKvPolicy } from "./prefixkv_oracle.ts";
import {
  type ComposedPolicy,
  composeRecipe,
  createRecipe,
  fixedDistance,
  policyFromArgs,
  prefillImportance,
  prefixSearchAllocation,
  topKSelection,
} from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith, simulate, syntheticPrefill } from "./harness.ts";

const SHAPE = { numLayers: 6, promptLength: 64, seed: 11 };

Deno.test("prefixkv (online) runs exactly as lib/prefix's prefixKvPolicy", () => {
  for (const budget of [0.1, 0.3, 0.7]) {
    const ours = simulate(createRecipe("prefixkv").policy({ fraction: budget }), SHAPE, 30);
    const ref = simulate(prefixKvPolicy({ budget, mode: { kind: "online" } }), SHAPE, 30);
    assertEquals(ours.afterPrefill, ref.afterPrefill);
    assertEquals(ours.final, ref.final);
  }
});

Deno.test("prefixkv (offline config) runs exactly as prefixKvPolicy and keeps ρ_l", () => {
  // A config calibrated on another prompt (seed 5) applied to this one.
  const { info } = syntheticPrefill({ ...SHAPE, seed: 5 });
  const conf = prefixSearch(info.importance!, { budget: 0.3 }).evictRatios;
  const policy = createRecipe("prefixkv", { conf }).policy({ fraction: 0.3 }) as ComposedPolicy;
  const ours = simulate(policy, SHAPE, 30);
  const ref = simulate(
    prefixKvPolicy({ budget: 0.3, mode: { kind: "offline", evictRatios: conf } }),
    SHAPE,
    30,
  );
  assertEquals(ours.afterPrefill, ref.afterPrefill);
  assertEquals(ours.final, ref.final);
  assertEquals(Array.from(policy.decision!.kept), conf.map((r) => 64 - Math.round(r * 64)));
});

Deno.test("prefixkv: offline config by hand and from a file; mismatched budget is refused", () => {
  const conf = [0.5, 0.25];
  const policy = createRecipe("prefixkv", { conf }).policy({ fraction: 0.625 }) as ComposedPolicy;
  simulate(policy, { numLayers: 2, promptLength: 8 }, 0);
  assertEquals(Array.from(policy.decision!.kept), [4, 6]); // evict round(.5·8), round(.25·8)
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/c.json`, "[0.5, 0.25]");
    const fromFile = policyFromArgs({ method: "prefixkv", conf: `${dir}/c.json` });
    const decision = fromFile.decision;
    assertEquals(decision, undefined);
    simulate(fromFile, { numLayers: 2, promptLength: 8 }, 0);
    assertEquals(Array.from(fromFile.decision!.kept), [4, 6]);
    assertEquals(fromFile.budget, { fraction: 0.625 }); // 1 − mean ρ
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  const wrong = createRecipe("prefixkv", { conf }).policy({ fraction: 0.2 });
  assertThrows(() => simulate(wrong, { numLayers: 2, promptLength: 8 }, 0), InputError);
  const layers = createRecipe("prefixkv", { conf }).policy({ fraction: 0.625 });
  assertMatch(
    assertThrows(() => simulate(layers, { numLayers: 3, promptLength: 8 }, 0), Error).message,
    /3 layers/,
  );
});

Deno.test("prefix-search composed with a selection that protects more floors its counts at minKeep", () => {
  // Layer 0 is concentrated: alone, the search keeps 3 of its 8 entries at 50 % (see
  // tests/prefix/search_test.ts), fewer than the 4 this top-k selection protects (sink +
  // 3 recent). This composition used to fail at prefill ("layer 0 keeps 3 of 8").
  const recipe = composeRecipe({
    scorer: prefillImportance(),
    allocation: prefixSearchAllocation(),
    selection: topKSelection({
      name: "top-k(sink=1,recent=3)",
      sink: 1,
      recent: () => 3,
      minKeep: () => 4,
    }),
    decode: fixedDistance(),
  });
  const policy = recipe.policy({ fraction: 0.5 }) as ComposedPolicy;
  const cache = prefillWith(policy, [[8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125], [
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
  ]]);
  // Capped at 8 − 4 evictions: p = .5 → (4, 2) = 6, within 5 of the target 8; rescaled and
  // floored as the reference does: 4·8/6 → 4 (the cap), 2·8/6 → 2.
  assertEquals(Array.from(policy.decision!.kept), [4, 6]);
  assertEquals(positionsOf(cache)[0], [0, 5, 6, 7]);
  // PrefixKV's own selection protects startSize + 1 = 2: the same prompt keeps 3 there.
  const own = createRecipe("prefixkv", { online: true }).policy({
    fraction: 0.5,
  }) as ComposedPolicy;
  prefillWith(own, [[8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125], [1, 1, 1, 1, 1, 1, 1, 1]]);
  assertEquals(Array.from(own.decision!.kept), [3, 6]);
});
