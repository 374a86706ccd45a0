import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { z } from "zod";
import { InputError } from "../../lib/errors.ts";
import {
  composeRecipe,
  createRecipe,
  evictOldest,
  fixedDistance,
  keepAllAllocation,
  listRecipes,
  mergeIntoNearestAnchor,
  noScores,
  prefixSelection,
  pyramidAllocation,
  recipeNames,
  recompose,
  registerRecipe,
  sinkAndRecent,
  uniformAllocation,
  unregisterRecipe,
} from "../../lib/recipes/mod.ts";
import { simulate } from "./harness.ts";

Deno.test("registry: the built-in names", () => {
  assertEquals(recipeNames(), [
    "full",
    "local",
    "h2o",
    "h2o-layerwise",
    "elastic",
    "uniform",
    "pyramid",
    "snapkv",
    "prefixkv",
    "prefixkv-maxsum",
    "prefixkv-merge",
    "vl-cache",
    "aircache",
  ]);
});

Deno.test("registry: an unknown name lists the known ones", () => {
  assertThrows(
    () => createRecipe("pyramidkv"),
    (e: Error) =>
      e instanceof InputError && e.message.includes('unknown recipe "pyramidkv"') &&
      e.message.includes("Known recipes: full, local, h2o,") && e.message.includes("snapkv"),
  );
});

Deno.test("registry: options a recipe does not take are refused, bad values too", () => {
  assertThrows(
    () => createRecipe("local", { conf: [0.5] }),
    (e: Error) =>
      e instanceof InputError && e.message.includes("local does not take conf") &&
      e.message.includes("startSize (an integer ≥ 0, default 1): leading positions always kept"),
  );
  assertThrows(() => createRecipe("full", { startSize: 2 }), /takes no options/);
  assertThrows(() => createRecipe("snapkv", { window: 0 }), /window must be an integer ≥ 1/);
  assertThrows(() => createRecipe("snapkv", { pooling: "min" }), /one of max, avg, got "min"/);
  assertThrows(() => createRecipe("prefixkv", { tolerance: 0 }), /tolerance must be a number > 0/);
  assertThrows(() => createRecipe("prefixkv", { online: "yes" }), /true or false/);
  assertThrows(() => createRecipe("prefixkv", { conf: [0.5], online: true }), InputError);
  assertThrows(() => createRecipe("prefixkv", { startSize: -1 }), /startSize/);
  assertThrows(() => createRecipe("elastic", { distance: 0 }), /distance/);
  assertThrows(() => createRecipe("snapkv", { kernel: 4 }), /odd/);
  assertThrows(() => createRecipe("pyramid", { beta: 0 }), /beta/);
  assertThrows(() => createRecipe("prefixkv", { conf: [0.5, 1.5] }), /conf must be/);
});

Deno.test("composition: parts that cannot work together are refused", () => {
  // Merging leaves no per-entry score for H2O's accumulated decoding.
  assertThrows(
    () => recompose(createRecipe("h2o-layerwise"), { selection: mergeIntoNearestAnchor() }),
    (e: Error) => e instanceof InputError && /merges entries/.test(e.message),
  );
  // Global H2O needs the same positions in every layer: no pyramid allocation.
  assertThrows(
    () => recompose(createRecipe("h2o"), { allocation: pyramidAllocation() }),
    /same positions/,
  );
  // Ranking selections need a scorer.
  assertThrows(() => recompose(createRecipe("local"), { selection: prefixSelection() }), /ranks/);
  // A fitting composition works: StreamingLLM selection with fixed-distance decoding.
  const r = recompose(createRecipe("local"), { decode: fixedDistance() });
  simulate(r.policy({ fraction: 0.3 }), { numLayers: 2, promptLength: 40 }, 5);
});

Deno.test("registry: a registered recipe is listed, built and removed", () => {
  registerRecipe({
    name: "test-sinks",
    summary: "sinks and recent entries with the full-cache allocation",
    description: "test only",
    reference: "none",
    compresses: false,
    options: z.object({}),
    build: () => ({
      scorer: noScores(),
      allocation: keepAllAllocation(),
      selection: sinkAndRecent(),
      decode: evictOldest(),
    }),
  });
  try {
    assert(listRecipes().some((d) => d.name === "test-sinks"));
    assertThrows(() => registerRecipe(listRecipes()[0]), /already registered/);
    const undescribed = { ...listRecipes()[1], name: "x", options: z.object({ a: z.number() }) };
    assertThrows(() => registerRecipe(undescribed), /option a has no description/);
    const sim = simulate(createRecipe("test-sinks").policy({ fraction: 1 }), {
      numLayers: 1,
      promptLength: 10,
    }, 0);
    assertEquals(sim.totals[0], 10);
  } finally {
    assert(unregisterRecipe("test-sinks"));
  }
  assert(!recipeNames().includes("test-sinks"));
});

Deno.test("composeRecipe: needs follow the parts", () => {
  const r = composeRecipe({
    scorer: noScores(),
    allocation: uniformAllocation(),
    selection: sinkAndRecent(),
    decode: evictOldest(),
  });
  assertEquals(r.name, "none+uniform+sink+recent(s=1)+evict-oldest(s=1)");
  assertEquals(r.policy({ fraction: 0.5 }).needs, { prefill: "none", step: false });
  assertEquals(createRecipe("snapkv").policy({ fraction: 0.5 }).needs, {
    prefill: "matrices",
    step: false,
  });
});
