/**
 * `calibrate` end to end on tiny checkpoints: three LLaVA-Description-style samples with
 * images → a reference-format config whose values are the per-layer mean of an independent
 * per-sample prefix search, a sidecar, resumption, and `generate --conf` applying the config.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "node:path";
import { encode } from "fast-png";
import { prefixSearch } from "../../lib/prefix/search.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { measureImportance } from "../../lib/runtime/measure_importance.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { writeTinyLlama, writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";
import { QUESTION, TINY } from "../e2e/_models.ts";
import { cli, cliArgs, withTempDir } from "./_cli.ts";

const QUESTIONS = [
  "Describe this picture .",
  "What is in the image ? There are two red circle .",
  "Describe the small green triangle below the large blue square , left of one circle .",
];

/** Python/numpy rounding (half to even), written out independently of lib/prefix. */
function bankersRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

async function writeData(dir: string): Promise<string> {
  await Deno.mkdir(join(dir, "data", "images"), { recursive: true });
  const items = [];
  for (let i = 0; i < QUESTIONS.length; i++) {
    const data = Uint8Array.from({ length: 24 * 20 * 3 }, (_, k) => (k * (17 + 10 * i)) % 256);
    await Deno.writeFile(
      join(dir, "data", "images", `img${i}.png`),
      encode({ width: 24, height: 20, data, channels: 3, depth: 8 }),
    );
    items.push({
      id: `s${i}`,
      image: `images/img${i}.png`,
      conversations: [
        { from: "human", value: `<image>\n${QUESTIONS[i]}` },
        { from: "gpt", value: "There are shapes ." },
      ],
    });
  }
  const path = join(dir, "data", "detail.json");
  await Deno.writeTextFile(path, JSON.stringify(items));
  return path;
}

Deno.test("cli calibrate: LLaVA samples → config = mean of per-sample searches; resumes; generate --conf applies it", () =>
  withTempDir("cli_calibrate_", async (dir) => {
    const ck = await writeTinyLlava(join(dir, "tinyllava"), TINY);
    const data = await writeData(dir);
    const budget = 0.5;
    const args = cliArgs("calibrate", {
      model: ck.dir,
      data,
      budget: String(budget),
      samples: "3",
      out: join(dir, "confs"),
      "cache-dir": join(dir, "g"),
    });
    const first = await cli(args, dir);
    assertEquals(first.code, 0, first.stderr);
    const progress = first.stderr.trim().split("\n");
    assertEquals(progress.length, 3, first.stderr);
    progress.forEach((line, i) =>
      assertMatch(line, new RegExp(`\\[${i + 1}/3\\] s${i}: N=\\d+ p=0\\.\\d+.*elapsed`))
    );
    const configPath = join(dir, "confs", "prefixkv_tinyllava_0.5.json");
    const config: number[] = JSON.parse(await Deno.readTextFile(configPath));
    assertEquals(config.length, TINY.layers);

    // Independent: the same prompts through the runtime and the search, averaged here.
    const model = await loadModel(ck.dir, { cacheDir: false });
    const lengths: number[] = [];
    const perSample: number[][] = [];
    const ps: number[] = [];
    try {
      for (let i = 0; i < QUESTIONS.length; i++) {
        const prompt = await chatPrompt(model, {
          question: QUESTIONS[i],
          image: join(dir, "data", "images", `img${i}.png`),
        });
        const { importance } = await measureImportance(model, prompt);
        const found = prefixSearch(importance, { budget });
        lengths.push(prompt.length);
        perSample.push(found.evict.map((e) => e / prompt.length));
        ps.push(found.p);
      }
    } finally {
      await model.close();
    }
    const mean = config.map((_, l) => perSample.reduce((s, r) => s + r[l], 0) / 3);
    config.forEach((v, l) =>
      assert(Math.abs(v - mean[l]) < 1e-12, `layer ${l}: ${v} vs ${mean[l]}`)
    );
    // Mean eviction ≈ 1 − budget: the search floors each layer, so it may fall short by less
    // than one entry per layer of the shortest prompt.
    const meanEvict = config.reduce((s, x) => s + x, 0) / config.length;
    const rho = 1 - budget;
    assert(meanEvict <= rho + 1e-12 && meanEvict > rho - 1 / Math.min(...lengths), `${meanEvict}`);

    const meta = JSON.parse(
      await Deno.readTextFile(join(dir, "confs", "prefixkv_tinyllava_0.5.meta.json")),
    );
    assertEquals(meta.model, "tinyllava");
    assertEquals(meta.budget, budget);
    assertEquals(meta.numLayers, TINY.layers);
    assertEquals(meta.samples.map((s: { id: string }) => s.id), ["s0", "s1", "s2"]);
    assertEquals(meta.samples.map((s: { p: number }) => s.p), ps);
    assertEquals(
      meta.sampleEvictRatios.map((s: { evictRatios: number[] }) => s.evictRatios),
      perSample,
    );
    assertEquals(meta.provenance.tool, "@prefixkv/prefixkv");
    assert(Array.isArray(meta.provenance.args) && meta.provenance.args.includes("--budget"));

    // Rerun: every sample comes from the resume file; same config.
    const again = await cli(args, dir);
    assertEquals(again.code, 0, again.stderr);
    assertEquals(again.stderr.match(/resumed/g)?.length, 3, again.stderr);
    assertEquals(JSON.parse(await Deno.readTextFile(configPath)), config);

    // generate --conf applies round(ρ_l·N) evictions (the budget defaults to 1 − mean ρ).
    const gen = await cli(
      cliArgs("generate", {
        model: ck.dir,
        image: join(dir, "data", "images", "img2.png"),
        prompt: QUESTION,
        method: "prefixkv",
        conf: configPath,
        "max-new-tokens": "6",
        json: true,
        "cache-dir": join(dir, "g"),
      }),
      dir,
    );
    assertEquals(gen.code, 0, gen.stderr);
    const out = JSON.parse(gen.stdout);
    const N = out.promptLength;
    const want = config.map((r) => N - Math.min(N - 2, bankersRound(r * N)));
    assertEquals(out.prefixkv.mode, "offline");
    assertEquals(out.prefixkv.kept, want);
    assertEquals(out.prefixkv.p, null);
    assertEquals(out.cacheLengthsAfterPrefill, want);
    assertEquals(out.method, "prefixkv");
  }));

Deno.test("cli calibrate: text-only prompts on a LLaMA, samples drawn with a seed", () =>
  withTempDir("cli_calibrate_llama_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "tinyllama"), TINY);
    const data = join(dir, "prompts.json");
    await Deno.writeTextFile(
      data,
      JSON.stringify([
        { id: "p0", prompt: QUESTIONS[0] },
        { id: "p1", conversations: [{ from: "human", value: QUESTIONS[1] }] },
        QUESTIONS[2],
        { id: "p3", prompt: QUESTION },
      ]),
    );
    const out = join(dir, "my.json");
    const r = await cli(
      cliArgs("calibrate", {
        model: ck.dir,
        data,
        budget: "30%",
        samples: "2",
        seed: "7",
        out,
        "cache-dir": join(dir, "g"),
        json: true,
      }),
      dir,
    );
    assertEquals(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assertEquals(summary.configPath, out);
    assertEquals(summary.metaPath, join(dir, "my.meta.json"));
    assertEquals(summary.samples.length, 2);
    const { chooseSamples } = await import("../../lib/prefix/calibration_data.ts");
    const ids = ["p0", "p1", "#2", "p3"];
    assertEquals(summary.samples.map((s: { id: string }) => s.id), chooseSamples(ids, 2, 7));
    assertEquals(JSON.parse(await Deno.readTextFile(out)), summary.evictRatios);
    assert(Math.abs(summary.meanEvictRatio - 0.7) < 0.1);
  }));
