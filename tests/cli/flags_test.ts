import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { UsageError } from "../../lib/cli/command.ts";
import {
  choiceFlag,
  MODEL_HELP,
  MODEL_OPTIONS,
  modelSettings,
  numberFlag,
  parseFlags,
  parseFlagsWithPositionals,
  requireFlags,
  searchSettings,
} from "../../lib/cli/flags.ts";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { InputError } from "../../lib/errors.ts";

/** Asserts that `fn` throws a one-line `type` error whose message matches `re`. */
function throwsOneLine(fn: () => unknown, type: new (...a: never[]) => Error, re: RegExp) {
  const e = assertThrows(fn, type);
  assertMatch(e.message, re);
  assert(!e.message.includes("\n"), `more than one line: ${e.message}`);
}

const OPTIONS = { out: { type: "string" }, json: { type: "boolean" } } as const;

Deno.test("parseFlags: values; unknown flags and positionals are usage errors", () => {
  // node:util returns null-prototype objects; compare plain copies.
  assertEquals({ ...parseFlags(["--out", "d", "--json"], OPTIONS) }, { out: "d", json: true });
  assertEquals({ ...parseFlags([], OPTIONS) }, {});
  throwsOneLine(() => parseFlags(["--bogus"], OPTIONS), UsageError, /bogus.*\(see --help\)$/);
  throwsOneLine(() => parseFlags(["extra"], OPTIONS), UsageError, /\(see --help\)$/);
  throwsOneLine(() => parseFlags(["--out"], OPTIONS), UsageError, /--out/);
  const { values, positionals } = parseFlagsWithPositionals(["a", "--json", "b"], OPTIONS);
  assertEquals([{ ...values }, positionals], [{ json: true }, ["a", "b"]]);
});

Deno.test("requireFlags: lists every missing flag in order", () => {
  requireFlags({ a: "x", b: "" }, ["a", "b"]); // an empty value is present
  throwsOneLine(
    () => requireFlags({ b: "x" } as { a?: string; b?: string; c?: string }, ["a", "b", "c"]),
    UsageError,
    /^missing --a, --c \(see --help\)$/,
  );
});

Deno.test("numberFlag: absent, valid and each broken rule", () => {
  assertEquals(numberFlag("n", undefined, { integer: true, min: 1 }), undefined);
  assertEquals(numberFlag("n", "3", { integer: true, min: 1 }), 3);
  assertEquals(numberFlag("n", "-2.5"), -2.5);
  assertEquals(numberFlag("n", "0.1", { above: 0 }), 0.1);
  throwsOneLine(() => numberFlag("n", "0", { above: 0 }), UsageError, /^--n must be a number > 0/);
  throwsOneLine(
    () => numberFlag("count", "zero", { integer: true, min: 1 }),
    UsageError,
    /^--count must be an integer ≥ 1, got "zero"$/,
  );
  throwsOneLine(() => numberFlag("n", "1.5", { integer: true }), UsageError, /an integer, got/);
  throwsOneLine(() => numberFlag("n", "-1", { integer: true, min: 0 }), UsageError, /≥ 0/);
  for (const bad of ["", " ", "Infinity", "NaN", "1e"]) {
    throwsOneLine(() => numberFlag("n", bad), UsageError, /^--n must be a number/);
  }
});

Deno.test("choiceFlag: one of the choices, or an error listing them", () => {
  assertEquals(choiceFlag("mode", undefined, ["a", "b"]), undefined);
  assertEquals(choiceFlag("mode", "b", ["a", "b"]), "b");
  throwsOneLine(
    () => choiceFlag("mode", "c", ["a", "b", "x"]),
    UsageError,
    /^--mode must be a, b or x, got "c"$/,
  );
});

Deno.test("modelSettings: defaults, validated device and threads; help names every flag", () => {
  assertEquals(modelSettings({}), {
    dir: BUNDLED_MODEL_DIR,
    device: "cpu",
    precision: undefined,
    cacheLocation: undefined,
    cacheDir: undefined,
    threads: undefined,
  });
  assertEquals(
    modelSettings({ model: "m", device: "cuda", "cache-dir": "c", threads: "4" }),
    {
      dir: "m",
      device: "cuda",
      precision: undefined,
      cacheLocation: undefined,
      cacheDir: "c",
      threads: 4,
    },
  );
  assertEquals(modelSettings({ "kv-location": "cpu" }).cacheLocation, "cpu");
  assertEquals(modelSettings({ "link-checkpoint": true }).linkCheckpoint, true);
  throwsOneLine(
    () => modelSettings({ "kv-location": "vram" }),
    UsageError,
    /^--kv-location must be cpu or gpu, got "vram"/,
  );
  assertEquals(modelSettings({ device: "webgpu", precision: "float16" }).precision, "float16");
  throwsOneLine(
    () => modelSettings({ precision: "int8" }),
    UsageError,
    /^--precision must be float32 or float16/,
  );
  throwsOneLine(() => modelSettings({ threads: "0" }), UsageError, /^--threads must be an integer/);
  throwsOneLine(() => modelSettings({ device: "tpu" }), InputError, /unknown device "tpu"/);
  for (const name of Object.keys(MODEL_OPTIONS)) {
    assertEquals(MODEL_HELP.includes(`--${name} `), true, name);
  }
});

Deno.test("searchSettings: defaults left undefined; each setting checked with its rule", () => {
  assertEquals(searchSettings({}), {
    startSize: undefined,
    tolerance: undefined,
    maxIterations: undefined,
  });
  assertEquals(
    searchSettings({ "start-size": "0", tolerance: "0.5", "max-iterations": "7" }),
    { startSize: 0, tolerance: 0.5, maxIterations: 7 },
  );
  throwsOneLine(() => searchSettings({ tolerance: "0" }), UsageError, /^--tolerance .* > 0/);
  throwsOneLine(() => searchSettings({ "start-size": "-1" }), UsageError, /^--start-size/);
  throwsOneLine(() => searchSettings({ "max-iterations": "0" }), UsageError, /≥ 1/);
});
