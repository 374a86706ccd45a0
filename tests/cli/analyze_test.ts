/** `analyze` end to end on a tiny LLaVA: files, provenance, and agreement with the library. */
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { encode } from "fast-png";
import { keptByPrefixKV } from "../../lib/analysis/kept.ts";
import { analyzeImportance } from "../../lib/importance/analysis.ts";
import { writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";
import { QUESTION, TINY } from "../e2e/_models.ts";
import { cli, cliArgs, withTempDir } from "./_cli.ts";

Deno.test("cli analyze: importance.json and analysis.json agree with analyzeImportance and keptByPrefixKV; Gini in [0, 1]", () =>
  withTempDir("cli_analyze_", async (dir) => {
    const ck = await writeTinyLlava(join(dir, "tinyllava"), TINY);
    const data = Uint8Array.from({ length: 16 * 16 * 3 }, (_, k) => (k * 41) % 256);
    await Deno.writeFile(
      join(dir, "img.png"),
      encode({ width: 16, height: 16, data, channels: 3, depth: 8 }),
    );
    const r = await cli(
      cliArgs("analyze", {
        model: ck.dir,
        image: join(dir, "img.png"),
        prompt: QUESTION,
        out: join(dir, "out"),
        budget: "0.4",
        "cache-dir": join(dir, "g"),
      }),
      dir,
    );
    assertEquals(r.code, 0, r.stderr);
    const imp = JSON.parse(await Deno.readTextFile(join(dir, "out", "importance.json")));
    const ana = JSON.parse(await Deno.readTextFile(join(dir, "out", "analysis.json")));
    assertEquals(imp.numLayers, TINY.layers);
    assertEquals(imp.importance.length, TINY.layers);
    assertEquals(imp.importance[0].length, imp.promptLength);
    assertEquals(imp.imageSpan.end - imp.imageSpan.start, ck.spec.imageTokens);
    for (const file of [imp, ana]) {
      const p = file.provenance;
      assertEquals(p.tool, "@prefixkv/prefixkv");
      assert(typeof p.version === "string" && typeof p.deno === "string" && p.date);
      assert("commit" in p && "onnxruntime" in p);
      assert(p.args.includes("--prompt") && p.args.includes(QUESTION));
    }
    const { provenance: _, ...analysis } = ana;
    const stats = analyzeImportance(imp.importance, { imageSpan: imp.imageSpan });
    const prefixkv = keptByPrefixKV(imp.importance, { budget: 0.4, imageSpan: imp.imageSpan });
    const layers = stats.layers.map((layer, l) => ({ ...layer, kept: prefixkv.layers[l] }));
    const want = { ...stats, layers, search: prefixkv.search };
    assertEquals(analysis, JSON.parse(JSON.stringify(want)));
    for (const layer of analysis.layers) {
      assert(layer.gini >= 0 && layer.gini <= 1, `gini ${layer.gini}`);
      assert(Math.abs(layer.gini - layer.giniStandard) < 1e-9);
      assert(Math.abs(layer.imageShare + layer.textShare - 1) < 1e-9);
    }
    const kept = analysis.search.keep.reduce((s: number, k: number) => s + k, 0);
    assert(Math.abs(kept - 0.4 * imp.promptLength * TINY.layers) <= TINY.layers + 5);
    assert(analysis.search.p > 0 && analysis.search.p <= 1);
  }));
