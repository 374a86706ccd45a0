import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { InputError } from "../../lib/errors.ts";
import { policyFromArgs, recipeFromArgs } from "../../lib/recipes/mod.ts";
import { policyArgsFromFlags } from "../../lib/cli/recipes.ts";
import { simulate } from "./harness.ts";

Deno.test("policyFromArgs: names, budgets and options as CLI strings", () => {
  const p = policyFromArgs({ method: "snapkv", budget: "25%", window: "8", pooling: "avg" });
  assertEquals(p.needs, { prefill: "matrices", step: false });
  assertEquals(p.budget, { fraction: 0.25 });
  simulate(p, { numLayers: 2, promptLength: 64 }, 3);
  assertEquals(Array.from(p.decision!.kept), [16, 16]);
  assertEquals(recipeFromArgs({ method: "prefixkv", tokens: "32" }).label, "prefixkv@32 tokens");
  assertEquals(policyFromArgs({ method: "full" }).budget, { fraction: 1 });
});

Deno.test("policyFromArgs: bad input is an InputError with the fix", () => {
  assertThrows(() => policyFromArgs({ method: "streaming" }), /Known recipes: full, local/);
  assertThrows(() => policyFromArgs({ method: "local" }), /budget: missing/);
  assertThrows(() => policyFromArgs({ method: "local", budget: "1.5" }), InputError);
  assertThrows(() => policyFromArgs({ method: "local", budget: 0.2, window: "8" }), /window/);
  assertThrows(() => policyFromArgs({ method: "h2o", budget: 0.2, startSize: "x" }), /number/);
  assertThrows(() => policyFromArgs({ method: "snapkv", budget: 0.2, pooling: "min" }), /max/);
  assertThrows(
    () => policyFromArgs({ method: "prefixkv", budget: 0.2, conf: "/nonexistent/c.json" }),
    /cannot read/,
  );
  assertThrows(() => policyFromArgs({ method: "" }), /--method/);
});

Deno.test("policyArgsFromFlags: kebab flags to PolicyArgs, full by default", () => {
  const a = policyArgsFromFlags({ budget: "0.3", "start-size": "2", "max-iterations": "50" });
  assertEquals(a.method, "full");
  assertEquals([a.budget, a.startSize, a.maxIterations], ["0.3", "2", "50"]);
  assert(policyFromArgs({ ...a, method: "prefixkv" }).needs.prefill === "importance");
});
