import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { errorReport, InputError, NumericError } from "../lib/errors.ts";
import { main as experimentsMain } from "../experiments/run/main.ts";

Deno.test("errorReport: known problems print their message, file-system errors one line with the cause", () => {
  assertEquals(
    errorReport(new InputError("budget: 1.5 is not a kept fraction")),
    "budget: 1.5 is not a kept fraction",
  );
  assertEquals(
    errorReport(new NumericError("NaN in layer 1's keys at prefill")),
    "NaN in layer 1's keys at prefill",
  );
  let fsError: unknown;
  try {
    Deno.readTextFileSync("/no/such/dir/config.json");
  } catch (e) {
    fsError = e;
  }
  const line = errorReport(fsError);
  assertStringIncludes(line, "/no/such/dir/config.json");
  assertStringIncludes(line, "(not found)");
  assert(!line.includes("\n    at "), `no stack: ${line}`);
  // Unforeseen errors keep their stack for bug reports.
  assertStringIncludes(errorReport(new TypeError("x is undefined")), "at ");
});

Deno.test("experiments reports through the same errorReport as the CLI", async () => {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (m: string) => errors.push(m);
  try {
    assertEquals(await experimentsMain(["--budgets", "0.2,1.5"]), 2);
  } finally {
    console.error = orig;
  }
  assertEquals(errors.length, 1);
  assert(!errors[0].includes("\n    at "), errors[0]);
  assertStringIncludes(errors[0], "experiments: ");
});
