/**
 * Recipes as plain data: `recipeFromConfig` checks configs against each method's schema, says
 * its canonical config back, and lists options with rules, defaults and descriptions; the
 * policy keeps what the allocation decided and reports copy it.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import { prefixSearch } from "../../lib/prefix/search.ts";
import {
  type ComposedPolicy,
  createRecipe,
  decisionSummary,
  listRecipes,
  recipeFromConfig,
  recipeOptions,
  retentionReport,
} from "../../lib/recipes/mod.ts";
import { simulate, syntheticPrefill } from "./harness.ts";

Deno.test("recipeFromConfig: canonical config with every default, and it round-trips", () => {
  const snap = recipeFromConfig({ method: "snapkv", window: 16 });
  assertEquals(snap.config, {
    method: "snapkv",
    window: 16,
    kernel: 5,
    pooling: "max",
    distance: -25,
  });
  assertEquals(createRecipe("full").config, { method: "full" });
  for (const m of listRecipes()) {
    const r = createRecipe(m.name);
    assertEquals(recipeFromConfig(JSON.parse(JSON.stringify(r.config))).config, r.config);
    assertEquals(r.describeParts(), recipeFromConfig(r.config).describeParts());
  }
  // JSON from a sweep file: the same recipe as the call.
  const fromJson = recipeFromConfig(JSON.parse('{"method":"pyramid","beta":10}'));
  assertEquals(fromJson.describeParts(), createRecipe("pyramid", { beta: 10 }).describeParts());
});

Deno.test("recipeFromConfig: bad configs name the fix", () => {
  assertMatch(
    assertThrows(() => recipeFromConfig("snapkv"), Error).message,
    /must be an object such as/,
  );
  assertMatch(
    assertThrows(() => recipeFromConfig({ window: 16 }), Error).message,
    /needs "method"/,
  );
  assertMatch(
    assertThrows(
      () => recipeFromConfig({ method: "snap" }),
      Error,
    ).message,
    /unknown recipe "snap"\. Known recipes: full, local, h2o/,
  );
  const unknown = assertThrows(
    () => recipeFromConfig({ method: "snapkv", windw: 16 }),
    InputError,
  );
  assertMatch(unknown.message, /^recipe snapkv does not take windw;/);
  assertStringIncludes(unknown.message, "window (an integer ≥ 1, default 32): observation window");
  assertStringIncludes(unknown.message, 'pooling (one of max, avg, default "max")');
  assertMatch(
    assertThrows(
      () => recipeFromConfig({ method: "snapkv", kernel: 4 }),
      Error,
    ).message,
    /kernel must be an integer ≥ 1 \(odd\), got 4 \(kernel: width of the pooling/,
  );
  assertMatch(
    assertThrows(() => recipeFromConfig({ method: "elastic", distance: 0 }), Error).message,
    /distance .*not 0/,
  );
  assertMatch(
    assertThrows(
      () => recipeFromConfig({ method: "pyramid", beta: 0.5 }),
      Error,
    ).message,
    /beta must be a number ≥ 1/,
  );
});

Deno.test("recipeOptions: rules, defaults and descriptions for help and docs", () => {
  const o = recipeOptions("prefixkv");
  assertEquals(o.map((x) => x.name), [
    "startSize",
    "conf",
    "online",
    "tolerance",
    "maxIterations",
    "distance",
  ]);
  const conf = o.find((x) => x.name === "conf")!;
  assertEquals(conf.default, undefined);
  assertEquals(conf.rule, "a string or a list of numbers in [0, 1]");
  assertEquals(o.find((x) => x.name === "tolerance")!.rule, "a number > 0");
  assertEquals(o.find((x) => x.name === "maxIterations")!.default, 100);
  for (const m of listRecipes()) {
    for (const x of recipeOptions(m.name)) assert(x.description.length > 10, `${m.name} ${x.name}`);
  }
  assertEquals(recipeOptions("full"), []);
});

Deno.test("defaultBudget: 100% for full, the config's own for offline PrefixKV, none otherwise", () => {
  assertEquals(createRecipe("full").defaultBudget, { fraction: 1 });
  assertEquals(createRecipe("prefixkv", { conf: [0.5, 0.25] }).defaultBudget, { fraction: 0.625 });
  assertEquals(createRecipe("prefixkv").defaultBudget, undefined);
});

Deno.test("decisions travel with the policy: online PrefixKV's p without re-running the search", () => {
  const shape = { numLayers: 4, promptLength: 48, seed: 9 };
  const policy = createRecipe("prefixkv").policy({ fraction: 0.3 }) as ComposedPolicy;
  assertEquals(policy.decision, undefined);
  simulate(policy, shape, 0);
  const found = prefixSearch(syntheticPrefill(shape).info.importance!, { budget: 0.3 });
  const d = policy.decision!;
  assertEquals(d.allocation, "prefix-search");
  assertEquals(d.sections.prefixkv, {
    mode: "online",
    p: found.p,
    iterations: found.iterations,
    converged: found.converged,
    kept: found.keep,
    configEvictRatios: null,
  });
  const report = retentionReport("prefixkv", policy, undefined);
  assertEquals(report.prefixkv?.p, found.p);
  assertEquals(report.kept, found.keep);
  assert(decisionSummary(report).startsWith(`mode=online p=${+found.p.toFixed(4)} iterations=`));
});

Deno.test("decisions travel with the policy: offline config's source and ratios", () => {
  const policy = createRecipe("prefixkv", { conf: [0.5, 0.25] }).policy({
    fraction: 0.625,
  }) as ComposedPolicy;
  simulate(policy, { numLayers: 2, promptLength: 8 }, 0);
  assertEquals(policy.decision!.allocation, "offline-config");
  assertEquals(policy.decision!.sections.prefixkv, {
    mode: "offline",
    p: null,
    iterations: null,
    converged: null,
    kept: [4, 6],
    configEvictRatios: [0.5, 0.25],
    source: "PrefixKV config",
  });
  // Count-only allocations decide nothing beyond the counts.
  const uniform = createRecipe("uniform").policy({ fraction: 0.5 }) as ComposedPolicy;
  simulate(uniform, { numLayers: 2, promptLength: 8 }, 0);
  assertEquals(uniform.decision!.sections, {});
  const r = retentionReport("uniform", uniform, undefined);
  assertEquals([r.allocation, r.kept, r.prefixkv], ["uniform", [4, 4], undefined]);
});
