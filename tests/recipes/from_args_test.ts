import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import { policyFromArgs, recipeFromArgs } from "../../lib/recipes/mod.ts";
import { recipeArgsFromFlags } from "../../lib/cli/recipes.ts";

Deno.test("recipeFromArgs: names, budgets and options", () => {
  const p = policyFromArgs({ method: "snapkv", budget: "25%", window: 8, pooling: "avg" });
  assertEquals(p.budget, { fraction: 0.25 });
  assertEquals(p.needs.prefill, "matrices");
  assertEquals(recipeFromArgs({ method: "prefixkv", tokens: "32" }).label, "prefixkv@32 tokens");
  assertEquals(policyFromArgs({ method: "full" }).budget, { fraction: 1 });
  assertEquals(policyFromArgs({}).budget, { fraction: 1 }); // nothing given: the full cache
  assertEquals(recipeFromArgs({ method: "full", budget: 1 }).label, "full@100%");
});

Deno.test("recipeFromArgs: bad input is an InputError with the fix", () => {
  assertMatch(
    assertThrows(() => policyFromArgs({ method: "streaming" }), Error).message,
    /Known recipes: full, local/,
  );
  assertMatch(
    assertThrows(() => policyFromArgs({ method: "local" }), Error).message,
    /budget: missing/,
  );
  assertThrows(() => policyFromArgs({ method: "local", budget: "1.5" }), InputError);
  assertMatch(
    assertThrows(() => policyFromArgs({ method: "local", budget: 0.2, window: 8 }), Error).message,
    /window/,
  );
  assertMatch(
    assertThrows(() => policyFromArgs({ method: "h2o", budget: 0.2, startSize: "x" }), Error)
      .message,
    /integer/,
  );
  assertMatch(
    assertThrows(() => policyFromArgs({ method: "snapkv", budget: 0.2, pooling: "min" }), Error)
      .message,
    /max/,
  );
  assertMatch(
    assertThrows(
      () => policyFromArgs({ method: "prefixkv", budget: 0.2, conf: "/nonexistent/c.json" }),
      Error,
    ).message,
    /cannot read the PrefixKV config/,
  );
  assertMatch(assertThrows(() => policyFromArgs({ method: "" }), Error).message, /--method/);
});

Deno.test("recipeFromArgs: a budget is never silently ignored (issue 14: budget without method)", () => {
  // No method: the full cache would run while reporting 20%.
  const e = assertThrows(
    () => recipeFromArgs({ budget: "0.2" }),
    InputError,
    "budget 0.2 given without a method",
  );
  assertStringIncludes(e.message, "--method prefixkv");
  assertMatch(
    assertThrows(() => recipeFromArgs({ tokens: "64" }), Error).message,
    /without a method/,
  );
  assertMatch(
    assertThrows(() => recipeFromArgs({ window: 8 }), Error).message,
    /window given without a method/,
  );
  // `full` keeps everything: a budget below 100% is refused, 100% is what it does anyway.
  assertMatch(
    assertThrows(
      () => recipeFromArgs({ method: "full", budget: "20%" }),
      Error,
    ).message,
    /recipe full keeps the whole cache and takes no budget; drop --budget/,
  );
  assertMatch(
    assertThrows(() => recipeFromArgs({ method: "full", tokens: 64 }), Error).message,
    /drop --tokens/,
  );
});

Deno.test("recipeArgsFromFlags: kebab flags become typed options of the method", () => {
  const a = recipeArgsFromFlags({
    method: "prefixkv",
    budget: "0.3",
    "start-size": "2",
    "max-iterations": "50",
    online: true,
  });
  assertEquals(a, {
    method: "prefixkv",
    budget: "0.3",
    tokens: undefined,
    startSize: 2,
    maxIterations: 50,
    online: true,
  });
  assert(policyFromArgs(a).needs.prefill === "importance");
  assertMatch(
    assertThrows(
      () => recipeArgsFromFlags({ method: "local", window: "8" }),
      Error,
    ).message,
    /recipe local does not take window \(--window\); it takes --start-size \(an integer ≥ 0, default 1\)/,
  );
  assertMatch(
    assertThrows(
      () => recipeArgsFromFlags({ method: "snapkv", window: "x" }),
      Error,
    ).message,
    /--window: "x" is not a number/,
  );
  // A non-integer reaches the schema, which names the rule.
  assertMatch(
    assertThrows(
      () => policyFromArgs(recipeArgsFromFlags({ method: "snapkv", budget: "0.2", window: "2.5" })),
      Error,
    ).message,
    /window must be an integer ≥ 1, got 2.5/,
  );
});
