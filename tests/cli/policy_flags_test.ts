/**
 * `generate` with KV policy flags: the online PrefixKV report matches the search on the same
 * prompt's importance, and bad policy input is a one-line error for generate, calibrate and
 * analyze.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "node:path";
import { prefixSearch } from "../../lib/prefix/search.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { measureImportance } from "../../lib/runtime/measure_importance.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { writeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { QUESTION, TINY } from "../e2e/_models.ts";
import { cli, cliArgs, withTempDir } from "./_cli.ts";

Deno.test("cli generate --method prefixkv --online: kept counts and p are the prefix search's", () =>
  withTempDir("cli_online_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "llama"), TINY);
    const r = await cli(
      cliArgs("generate", {
        model: ck.dir,
        prompt: QUESTION,
        method: "prefixkv",
        budget: "40%",
        online: true,
        "max-new-tokens": "8",
        json: true,
        "cache-dir": join(dir, "g"),
      }),
      dir,
    );
    assertEquals(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const model = await loadModel(ck.dir, { cacheDir: false });
    try {
      const prompt = await chatPrompt(model, { question: QUESTION });
      const found = prefixSearch((await measureImportance(model, prompt)).importance, {
        budget: 0.4,
      });
      assertEquals(out.promptLength, prompt.length);
      assertEquals(out.prefixkv.mode, "online");
      assertEquals(out.prefixkv.kept, found.keep);
      assertEquals(out.prefixkv.p, found.p);
      assertEquals(out.cacheLengthsAfterPrefill, found.keep);
    } finally {
      await model.close();
    }
    assertEquals([out.method, out.budget, out.fraction], ["prefixkv", "40%", 0.4]);
    assertEquals(
      out.entriesHeldAfterPrefill,
      out.prefixkv.kept.reduce((s: number, k: number) => s + k, 0),
    );
    assertEquals(out.entriesHeld, out.cacheLengths.reduce((s: number, k: number) => s + k, 0));
    assert(out.bytesHeldAfterPrefill > 0 && out.bytesHeld >= out.bytesHeldAfterPrefill);
    assertEquals(out.positionMode, "absolute");
  }));

Deno.test("cli: bad policy input is a one-line error naming the problem", () =>
  withTempDir("cli_policy_errors_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "llama"), TINY);
    const badConf = join(dir, "two_layers.json");
    await Deno.writeTextFile(badConf, "[0.5, 0.5]");
    const data = join(dir, "data.json");
    await Deno.writeTextFile(data, JSON.stringify([{ prompt: "   " }]));
    const gen = cliArgs("generate", {
      model: ck.dir,
      prompt: QUESTION,
      "cache-dir": join(dir, "g"),
    });
    const calibrate = (budget: string) =>
      cliArgs("calibrate", { model: ck.dir, data, budget, samples: "1", out: dir });
    const cases: [string[], RegExp][] = [
      [
        [...gen, "--method", "prefixkv", "--budget", "0"],
        /kept fraction must be in \(0, 1\], got 0\b/,
      ],
      [
        [...gen, "--method", "h2o", "--budget", "1.5"],
        /kept fraction must be in \(0, 1\], got 1\.5/,
      ],
      [
        [...gen, "--method", "nope", "--budget", "0.5"],
        /unknown recipe "nope"\. Known recipes: full, local/,
      ],
      [
        [...gen, "--method", "prefixkv", "--conf", badConf],
        /2 per-layer ratios but the model has 3 layers/,
      ],
      [
        [...gen, "--method", "local", "--budget", "0.5", "--online"],
        /recipe local does not take online/,
      ],
      // A budget without --method would keep the full cache while reporting 20%.
      [[...gen, "--budget", "0.2"], /budget 0\.2 given without a method.*--method prefixkv/],
      [[...gen, "--method", "full", "--budget", "0.2"], /recipe full keeps the whole cache/],
      [[...gen, "--method", "snapkv", "--budget", "0.2", "--kernel", "4"], /kernel must be .*odd/],
      [
        ["generate", "--model", ck.dir, "--prompt", "", "--method", "prefixkv", "--budget", "0.5"],
        /the prompt is empty/,
      ],
      [calibrate("0"), /kept fraction must be in \(0, 1\], got 0\b/],
      [calibrate("0.5"), /sample 0 \(#0\): the question is empty/],
      [["calibrate", "--model", ck.dir, "--budget", "0.5"], /missing --data, --samples, --out/],
      [["analyze", "--model", ck.dir, "--prompt", "", "--out", dir], /the prompt is empty/],
      [
        ["analyze", "--model", ck.dir, "--prompt", "x", "--out", dir, "--budget", "1.5"],
        /kept fraction must be in \(0, 1\], got 1\.5/,
      ],
    ];
    for (const [args, want] of cases) {
      const r = await cli(args, dir);
      assert(r.code === 1 || r.code === 2, `${args.join(" ")}: exit ${r.code}`);
      assertMatch(r.stderr, want, args.join(" "));
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(!r.stderr.includes("    at "), r.stderr);
      assertEquals(r.stdout, "");
    }
  }));
