/**
 * Unwritable outputs fail before any work, in one line naming the flag, the path and the cause,
 * for every command that writes (scenes, analyze, calibrate, eval-scenes, experiments) and for
 * the graph cache (`--cache-dir`, and `cacheDir` in the library).
 *
 * The tests run as root, for whom permission bits do not stop writes, so the unwritable places
 * are (1) a path under a regular file (ENOTDIR: "a part of the path is a file") and (2) a new
 * entry in `/sys`, which the kernel refuses even to root (EACCES, or EROFS where /sys is mounted
 * read-only).
 */
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { errorReport } from "../../lib/cli/main.ts";
import { InputError } from "../../lib/errors.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { writeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { cli, EXPERIMENTS_MAIN, withTempDir } from "../cli/_cli.ts";

Deno.test("faults: unwritable outputs and cache folders are one-line errors before any work", () =>
  withTempDir("faults_unwritable_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "tinyllama"), { layers: 1, seed: 3 });
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "not a folder");
    const data = join(dir, "prompts.json");
    await Deno.writeTextFile(data, JSON.stringify(["one prompt .", "another prompt ."]));
    const model = ["--model", ck.dir, "--cache-dir", join(dir, "g")];
    const underFile = join(file, "out");
    const cases: { args: string[]; says: RegExp }[] = [
      {
        args: ["scenes", "--out", underFile, "--split", "s", "--count", "2"],
        says: /^--out .*a-file\/out: cannot be created: a part of the path is a file/,
      },
      {
        args: ["scenes", "--out", "/sys/prefixkv-test-out", "--split", "s", "--count", "2"],
        says:
          /^--out \/sys\/prefixkv-test-out: cannot write in \/sys: (permission denied|the file system is read-only)/,
      },
      {
        args: ["analyze", ...model, "--prompt", "hi", "--out", underFile],
        says: /^--out .*: cannot be created: a part of the path is a file/,
      },
      {
        args: [
          "calibrate",
          ...model,
          "--data",
          data,
          "--budget",
          "0.5",
          "--samples",
          "2",
          "--out",
          join(underFile, "c.json"),
        ],
        says: /^--out .*c\.json: cannot be created: a part of the path is a file/,
      },
      {
        args: [
          "calibrate",
          ...model,
          "--data",
          data,
          "--budget",
          "0.5",
          "--samples",
          "2",
          "--out",
          "/sys/c.json",
        ],
        says: /^--out \/sys\/c\.json: cannot write in \/sys/,
      },
      {
        args: ["eval-scenes", ...model, "--count", "3", "--out", join(underFile, "r.json")],
        says: /^--out .*r\.json: cannot be created: a part of the path is a file/,
      },
      {
        args: ["eval-scenes", ...model, "--count", "3", "--out", dir],
        says: /^--out .*: is a folder; give a file name/,
      },
      {
        args: ["generate", "--model", ck.dir, "--input-ids", "1,5", "--cache-dir", underFile],
        says: /^--cache-dir .*a-file\/out: cannot be created: a part of the path is a file/,
      },
    ];
    for (const c of cases) {
      const r = await cli(c.args, dir);
      const what = c.args.join(" ");
      assertEquals(r.code, 1, `${what}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines.length, 1, `${what}: one line, no trace, no progress: ${r.stderr}`);
      assertMatch(lines[0].replace(`prefixkv ${c.args[0]}: `, ""), c.says, what);
    }
    // deno task experiments: --out and --cache-dir are checked before the model loads.
    for (
      const [flags, says] of [
        [["--out", underFile], /^experiments: --out .*a-file\/out: cannot write results there/],
        [
          ["--out", join(dir, "ex"), "--cache-dir", underFile],
          /^experiments: --cache-dir .*a-file\/out: cannot be created: a part of the path is a file/,
        ],
      ] as const
    ) {
      const r = await cli(["--quick", ...flags], dir, { script: EXPERIMENTS_MAIN });
      const err = r.stderr.trim();
      assert(r.code !== 0, err);
      assertEquals(err.split("\n").length, 1, err);
      assertMatch(err, says);
    }
    assert(!existsSync("/sys/prefixkv-test-out"));
    assert(!existsSync(join(dir, "g")), "no graph was built before the failures");

    // The library: a graph cache under a file fails at the first graph with the folder named.
    const m = await loadModel(ck.dir, { cacheDir: underFile });
    try {
      const e = await assertRejects(() => m.prefill(m.embedTokens([1, 5])), InputError);
      assertMatch(
        e.message,
        /a-file\/out: cannot write the graph cache: a part of the path is a file/,
      );
    } finally {
      await m.close();
    }
  }));

Deno.test("faults: a file-system error no command anticipated is one line naming path and cause", () => {
  let report = "";
  try {
    Deno.mkdirSync("/sys/prefixkv-test-dir");
  } catch (e) {
    report = errorReport(e);
  }
  assertMatch(
    report,
    /^.*os error \d+\).*\/sys\/prefixkv-test-dir.* \((permission denied|the file system is read-only)\)$/,
  );
  assert(!report.includes("\n    at "), report);
});
