import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import { budgetLabel, createRecipe, keptFraction, parseBudget } from "../../lib/recipes/mod.ts";
import { simulate } from "./harness.ts";

Deno.test("parseBudget: fractions, percentages and token counts", () => {
  assertEquals(parseBudget(0.2), { fraction: 0.2 });
  assertEquals(parseBudget("0.2"), { fraction: 0.2 });
  assertEquals(parseBudget("20%"), { fraction: 0.2 });
  assertEquals(parseBudget(1), { fraction: 1 });
  assertEquals(parseBudget(undefined, "64"), { tokens: 64 });
  assertEquals(budgetLabel({ fraction: 0.2 }), "20%");
  assertEquals(budgetLabel({ tokens: 64 }), "64 tokens");
});

Deno.test("parseBudget: out-of-range and malformed budgets are InputErrors", () => {
  for (const bad of [0, -0.1, 1.01, NaN, Infinity, "abc", "", "0%"]) {
    assertThrows(() => parseBudget(bad), InputError, undefined, String(bad));
  }
  assertMatch(assertThrows(() => parseBudget(20), Error).message, /did you mean 0.2, i\.e\. 20%\?/);
  // Written as a percentage, 150% is not "did you mean 0.015?" (issue 14): it keeps too much.
  const over = assertThrows(() => parseBudget("150%"), InputError).message;
  assertMatch(over, /got 150%.*cannot keep more than the whole cache/);
  assert(!over.includes("did you mean"), over);
  assertThrows(() => parseBudget(undefined, 0), InputError);
  assertThrows(() => parseBudget(undefined, "2.5"), InputError);
  assertMatch(assertThrows(() => parseBudget(0.2, 10), Error).message, /not both/);
  assertMatch(assertThrows(() => parseBudget(), Error).message, /missing/);
  assertThrows(() => createRecipe("local").policy({ fraction: 2 }), InputError);
});

Deno.test("keptFraction: tokens become tokens/N, capped at 1", () => {
  assertEquals(keptFraction({ tokens: 16 }, 64), 0.25);
  assertEquals(keptFraction({ tokens: 100 }, 64), 1);
});

Deno.test("a budget below the protected entries is an InputError at prefill", () => {
  // N = 10 at 10% keeps 1 entry per layer, but PrefixKV protects the sink and the last token.
  const policy = createRecipe("prefixkv").policy({ fraction: 0.1 });
  assertMatch(
    assertThrows(
      () => simulate(policy, { numLayers: 2, promptLength: 10 }, 0),
      InputError,
    ).message,
    /raise the budget to at least 0.2/,
  );
});
