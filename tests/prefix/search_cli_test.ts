import { assertEquals, assertRejects } from "@std/assert";
import { command } from "../../lib/cli/search.ts";
import { UsageError } from "../../lib/cli/command.ts";
import { InputError } from "../../lib/errors.ts";

async function runCapture(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...xs: unknown[]) => lines.push(xs.join(" "));
  try {
    const code = await command.run(args);
    return { code, out: lines.join("\n") };
  } finally {
    console.log = original;
  }
}

Deno.test("search CLI: --ratio and --budget give the hand-computed evictions", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      file,
      JSON.stringify([[8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125], [1, 1, 1, 1, 1, 1, 1, 1]]),
    );
    // --ratio 0.25 (evict 25%) = --budget 0.75: see search_test's hand case.
    for (const flags of [["--ratio", "0.25"], ["--budget", "0.75"]]) {
      const { code, out } = await runCapture(["--scores", file, ...flags, "--json"]);
      assertEquals(code, 0);
      const json = JSON.parse(out);
      assertEquals(json.evict, [2, 1]);
      assertEquals(json.keep, [6, 7]);
      assertEquals([json.p, json.iterations, json.converged], [0.5, 1, true]);
      assertEquals([json.budget, json.ratio], [0.75, 0.25]);
    }
    const tight = JSON.parse(
      (await runCapture(["--scores", file, "--budget", "0.75", "--tolerance", "0.5"])).out,
    );
    assertEquals(tight.evict, [4, 0]);
    await assertRejects(() => command.run(["--scores", file]), UsageError);
    await assertRejects(
      () => command.run(["--scores", file, "--ratio", "0.5", "--budget", "0.5"]),
      UsageError,
    );
    await assertRejects(() => command.run(["--scores", file, "--budget", "1.5"]), InputError);
    await assertRejects(() => command.run(["--scores", file, "--bogus"]), UsageError);
    await Deno.writeTextFile(file, "[[1, -1, 1]]");
    await assertRejects(() => command.run(["--scores", file, "--budget", "0.5"]), InputError);
  } finally {
    await Deno.remove(file);
  }
});
