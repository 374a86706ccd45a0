/** The import-direction check (.ci/check_imports.ts): hand-made graphs, and the repository itself. */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { fileURLToPath } from "node:url";
import {
  allowedAreas,
  areaOf,
  checkImports,
  checkRepository,
  type DenoInfo,
  DIRECTION,
  formatReport,
  type Import,
  importsOf,
} from "../../.ci/check_imports.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const imp = (from: string, to: string, line = 1): Import => ({ from, to, line });

Deno.test("areaOf: folders of lib/ are areas, its top-level files the foundation", () => {
  assertEquals(areaOf("lib/prefix/search.ts"), "prefix");
  assertEquals(areaOf("lib/data/scenes/generator.ts"), "data");
  assertEquals(areaOf("lib/errors.ts"), "foundation");
  assertEquals(areaOf("tests/prefix/search_test.ts"), null);
  assertEquals(areaOf("mod.ts"), null);
});

Deno.test("allowedAreas: transitive closure; cycles and unknown areas are errors", () => {
  const allowed = allowedAreas(DIRECTION);
  assert(allowed.get("recipes")!.has("importance")); // through prefix
  assert(allowed.get("recipes")!.has("checkpoint")); // through runtime → graph
  assert(!allowed.get("prefix")!.has("runtime"));
  assert(!allowed.get("importance")!.has("prefix"));
  assert(!allowed.get("analysis")!.has("metrics")); // studies are siblings
  assertThrows(() => allowedAreas({ a: ["b"], b: ["a"] }), Error, "cycle: a → b → a");
  assertThrows(() => allowedAreas({ a: ["nowhere"] }), Error, 'unknown area "nowhere"');
});

Deno.test("checkImports: a graph against the direction fails, naming file, line and fix", () => {
  const check = checkImports(
    [
      imp("lib/importance/analysis.ts", "lib/prefix/search.ts", 16), // upward: the old defect
      imp("lib/prefix/calibrate_model.ts", "lib/runtime/model.ts", 16), // prefix above runtime
      imp("lib/graph/llama_graph.ts", "tests/fixtures/tiny_checkpoint.ts", 3), // lib → tests
      imp("experiments/bench/runtime_bench.ts", "tests/fixtures/tiny_checkpoint.ts", 5),
      imp("lib/runtime/model.ts", "experiments/bench/random_llama.ts", 2), // lib → outside lib
      imp("lib/newarea/x.ts", "lib/errors.ts", 1), // an area nobody placed
      imp("tests/prefix/search_test.ts", "node:assert/strict", 1), // a second assertion style
      // Allowed: downward, transitive, same area, foundation, deno.json, packages, tests → lib.
      imp("lib/recipes/builtin.ts", "lib/importance/validate.ts"),
      imp("lib/prefix/search.ts", "lib/prefix/select.ts"),
      imp("lib/prefix/search.ts", "lib/errors.ts"),
      imp("lib/provenance.ts", "deno.json"),
      imp("lib/runtime/session.ts", "npm:onnxruntime-node@1.30.0"),
      imp("lib/runtime/session.ts", "node:path"),
      imp("tests/prefix/search_test.ts", "lib/prefix/search.ts"),
      imp("tests/prefix/search_test.ts", "tests/_random_importance.ts"),
    ],
    DIRECTION,
    [],
  );
  assertEquals(check.violations.map((v) => [v.import.from, v.import.line]), [
    ["lib/importance/analysis.ts", 16],
    ["lib/prefix/calibrate_model.ts", 16],
    ["lib/graph/llama_graph.ts", 3],
    ["experiments/bench/runtime_bench.ts", 5],
    ["lib/runtime/model.ts", 2],
    ["lib/newarea/x.ts", 1],
    ["tests/prefix/search_test.ts", 1],
  ]);
  const [up, , toTests, benchToTests, outside, unknown, nodeAssert] = check.violations.map((v) =>
    v.message
  );
  assert(up.startsWith("lib/importance may not import lib/prefix (it may import: foundation)"));
  assert(toTests.startsWith("only tests import tests/") && benchToTests.includes("only tests"));
  assert(outside.includes("lib/ imports nothing from the rest of the repository"));
  assert(unknown.includes("lib/newarea has no place in the import direction"));
  assert(nodeAssert.startsWith("tests assert in one style: import assertEquals, assert, "));
  const report = formatReport(check);
  assert(report.includes("lib/importance/analysis.ts:16: imports lib/prefix/search.ts: "));
  assert(report.endsWith("import direction: 7 import(s) against it"));
});

Deno.test("checkImports: exceptions allow one file's import and are reported once unused", () => {
  const exception = { from: "lib/prefix/policy.ts", to: "lib/runtime", reason: "going" };
  const stale = { from: "lib/gone.ts", to: "lib/runtime", reason: "gone" };
  const check = checkImports(
    [
      imp("lib/prefix/policy.ts", "lib/runtime/kv_cache.ts"),
      imp("lib/prefix/config.ts", "lib/runtime/kv_cache.ts", 9),
    ],
    DIRECTION,
    [exception, stale],
  );
  assertEquals(check.violations.map((v) => v.import.from), ["lib/prefix/config.ts"]);
  assertEquals(check.unusedExceptions, [stale]);
  assert(formatReport(check).includes("exception lib/gone.ts → lib/runtime is no longer needed"));
});

Deno.test("importsOf: reads code and type dependencies of the repository's modules", () => {
  const root = "/repo";
  const info: DenoInfo = {
    modules: [
      {
        specifier: "file:///repo/lib/importance/analysis.ts",
        dependencies: [
          {
            specifier: "../prefix/search.ts",
            code: { specifier: "file:///repo/lib/prefix/search.ts", span: { start: { line: 15 } } },
          },
          {
            specifier: "../errors.ts",
            type: { specifier: "file:///repo/lib/errors.ts", span: { start: { line: 3 } } },
          },
          { specifier: "zod", code: { specifier: "npm:zod@4.6.7" } },
        ],
      },
      { specifier: "npm:zod@4.6.7", dependencies: [] },
    ],
  };
  assertEquals(importsOf(info, root), [
    imp("lib/importance/analysis.ts", "lib/prefix/search.ts", 16),
    imp("lib/importance/analysis.ts", "lib/errors.ts", 4),
    imp("lib/importance/analysis.ts", "npm:zod@4.6.7", 1),
  ]);
});

Deno.test("the repository follows the import direction; the README places every area", async () => {
  const check = await checkRepository(ROOT);
  assertEquals(check.violations, [], formatReport(check));
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const architecture = readme.slice(readme.indexOf("## Architecture"));
  assert(readme.includes("## Architecture"), "README has an Architecture section");
  for (const area of Object.keys(DIRECTION)) {
    assert(architecture.includes(`\`${area}\``), `README's Architecture names \`${area}\``);
  }
});
