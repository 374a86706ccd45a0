import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
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
  const e = assertThrows(() => createRecipe("pyramidkv"), InputError, 'unknown recipe "pyramidkv"');
  assertStringIncludes(e.message, "Known recipes: full, local, h2o,");
  assertStringIncludes(e.message, "snapkv");
});

Deno.test("registry: options a recipe does not take are refused, bad values too", () => {
  assertStringIncludes(
    assertThrows(
      () => createRecipe("local", { conf: [0.5] }),
      InputError,
      "local does not take conf",
    )
      .message,
    "startSize (an integer ≥ 0, default 1): leading positions always kept",
  );
  assertMatch(
    assertThrows(() => createRecipe("full", { startSize: 2 }), Error).message,
    /takes no options/,
  );
  assertMatch(
    assertThrows(() => createRecipe("snapkv", { window: 0 }), Error).message,
    /window must be an integer ≥ 1/,
  );
  assertMatch(
    assertThrows(() => createRecipe("snapkv", { pooling: "min" }), Error).message,
    /one of max, avg, got "min"/,
  );
  assertMatch(
    assertThrows(() => createRecipe("prefixkv", { tolerance: 0 }), Error).message,
    /tolerance must be a number > 0/,
  );
  assertMatch(
    assertThrows(() => createRecipe("prefixkv", { online: "yes" }), Error).message,
    /true or false/,
  );
  assertThrows(() => createRecipe("prefixkv", { conf: [0.5], online: true }), InputError);
  assertMatch(
    assertThrows(() => createRecipe("prefixkv", { startSize: -1 }), Error).message,
    /startSize/,
  );
  assertMatch(
    assertThrows(() => createRecipe("elastic", { distance: 0 }), Error).message,
    /distance/,
  );
  assertMatch(assertThrows(() => createRecipe("snapkv", { kernel: 4 }), Error).message, /odd/);
  assertMatch(assertThrows(() => createRecipe("pyramid", { beta: 0 }), Error).message, /beta/);
  assertMatch(
    assertThrows(() => createRecipe("prefixkv", { conf: [0.5, 1.5] }), Error).message,
    /conf must be/,
  );
});

Deno.test("composition: parts that cannot work together are refused", () => {
  // Merging leaves no per-entry score for H2O's accumulated decoding.
  assertMatch(
    assertThrows(
      () => recompose(createRecipe("h2o-layerwise"), { selection: mergeIntoNearestAnchor() }),
      InputError,
    ).message,
    /merges entries/,
  );
  // Global H2O needs the same positions in every layer: no pyramid allocation.
  assertMatch(
    assertThrows(
      () => recompose(createRecipe("h2o"), { allocation: pyramidAllocation() }),
      Error,
    ).message,
    /same positions/,
  );
  // Ranking selections need a scorer.
  assertMatch(
    assertThrows(() => recompose(createRecipe("local"), { selection: prefixSelection() }), Error)
      .message,
    /ranks/,
  );
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
    assertMatch(
      assertThrows(() => registerRecipe(listRecipes()[0]), Error).message,
      /already registered/,
    );
    const undescribed = { ...listRecipes()[1], name: "x", options: z.object({ a: z.number() }) };
    assertMatch(
      assertThrows(() => registerRecipe(undescribed), Error).message,
      /option a has no description/,
    );
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
