import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
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
  assertThrows(() => policyFromArgs({ method: "streaming" }), /Known recipes: full, local/);
  assertThrows(() => policyFromArgs({ method: "local" }), /budget: missing/);
  assertThrows(() => policyFromArgs({ method: "local", budget: "1.5" }), InputError);
  assertThrows(() => policyFromArgs({ method: "local", budget: 0.2, window: 8 }), /window/);
  assertThrows(() => policyFromArgs({ method: "h2o", budget: 0.2, startSize: "x" }), /integer/);
  assertThrows(() => policyFromArgs({ method: "snapkv", budget: 0.2, pooling: "min" }), /max/);
  assertThrows(
    () => policyFromArgs({ method: "prefixkv", budget: 0.2, conf: "/nonexistent/c.json" }),
    /cannot read the PrefixKV config/,
  );
  assertThrows(() => policyFromArgs({ method: "" }), /--method/);
});

Deno.test("recipeFromArgs: a budget is never silently ignored (issue 14: budget without method)", () => {
  // No method: the full cache would run while reporting 20%.
  assertThrows(
    () => recipeFromArgs({ budget: "0.2" }),
    (e: Error) =>
      e instanceof InputError && /budget 0\.2 given without a method/.test(e.message) &&
      e.message.includes("--method prefixkv"),
  );
  assertThrows(() => recipeFromArgs({ tokens: "64" }), /without a method/);
  assertThrows(() => recipeFromArgs({ window: 8 }), /window given without a method/);
  // `full` keeps everything: a budget below 100% is refused, 100% is what it does anyway.
  assertThrows(
    () => recipeFromArgs({ method: "full", budget: "20%" }),
    /recipe full keeps the whole cache and takes no budget; drop --budget/,
  );
  assertThrows(() => recipeFromArgs({ method: "full", tokens: 64 }), /drop --tokens/);
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
  assertThrows(
    () => recipeArgsFromFlags({ method: "local", window: "8" }),
    /recipe local does not take window \(--window\); it takes --start-size \(an integer ≥ 0, default 1\)/,
  );
  assertThrows(
    () => recipeArgsFromFlags({ method: "snapkv", window: "x" }),
    /--window: "x" is not a number/,
  );
  // A non-integer reaches the schema, which names the rule.
  assertThrows(
    () => policyFromArgs(recipeArgsFromFlags({ method: "snapkv", budget: "0.2", window: "2.5" })),
    /window must be an integer ≥ 1, got 2.5/,
  );
});
