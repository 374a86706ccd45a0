/**
 * Fault tests of the graph cache: an entry whose data file is truncated, whose model file is
 * emptied, whose data is overwritten by same-size garbage, whose meta.json is garbage, or which
 * has no checksums (an older version) is detected, rebuilt with a warning naming the entry and
 * the damage, and the model then computes exactly what it did from a sound entry; the repaired
 * entry is a plain hit afterwards. The CLI prints the warning on stderr and still succeeds.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "node:path";
import { loadModel } from "../../lib/runtime/model.ts";
import { Prng } from "../../lib/random.ts";
import { writeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { cli, cliArgs, withTempDir } from "../cli/_cli.ts";

/** Prefill logits of a fixed prompt through a model using `cacheDir`, and any cache warnings. */
async function logitsWith(dir: string, cacheDir: string) {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    const model = await loadModel(dir, { cacheDir });
    try {
      const out = await model.prefill(model.embedTokens([1, 7, 9, 4]));
      return { logits: [...out.logits], warnings, cached: model.graphLoads.map((g) => g.cached) };
    } finally {
      await model.close();
    }
  } finally {
    console.warn = warn;
  }
}

/** The cache's entry folder (one graph is used here). */
function onlyEntry(cacheDir: string): string {
  const entries = [...Deno.readDirSync(cacheDir)].filter((e) => !e.name.startsWith("."));
  assertEquals(entries.length, 1, entries.map((e) => e.name).join(", "));
  return join(cacheDir, entries[0].name);
}

Deno.test("faults: damaged graph cache entries are detected and rebuilt, with a warning", () =>
  withTempDir("faults_graph_cache_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "tinyllama"), { layers: 2, seed: 6 });
    const cacheDir = join(dir, "g");
    const sound = await logitsWith(ck.dir, cacheDir);
    assertEquals([sound.cached, sound.warnings], [[false], []]);
    const entry = onlyEntry(cacheDir);
    const data = join(entry, "model.onnx.data");
    const model = join(entry, "model.onnx");
    const meta = join(entry, "meta.json");
    const garbage = (n: number) => {
      const r = new Prng(1);
      return Uint8Array.from({ length: n }, () => Math.floor(r.next() * 256));
    };

    const damages: { name: string; damage: () => void; says: RegExp }[] = [
      {
        name: "truncated data",
        damage: () => Deno.truncateSync(data, Math.floor(Deno.statSync(data).size / 2)),
        says: /model\.onnx\.data has \d+ bytes, meta\.json says \d+/,
      },
      {
        name: "emptied model",
        damage: () => Deno.writeFileSync(model, new Uint8Array(0)),
        says: /model\.onnx has 0 bytes/,
      },
      {
        name: "same-size garbage data",
        damage: () => Deno.writeFileSync(data, garbage(Deno.statSync(data).size)),
        says: /model\.onnx\.data's content does not match its checksum/,
      },
      {
        name: "same-size garbage model",
        damage: () => Deno.writeFileSync(model, garbage(Deno.statSync(model).size)),
        says: /model\.onnx's content does not match its checksum/,
      },
      {
        name: "garbage meta.json",
        damage: () => Deno.writeTextFileSync(meta, "{not json"),
        says: /meta\.json is unreadable/,
      },
      {
        name: "meta.json without checksums",
        damage: () => {
          const m = JSON.parse(Deno.readTextFileSync(meta));
          delete m.files;
          Deno.writeTextFileSync(meta, JSON.stringify(m));
        },
        says: /no checksums/,
      },
    ];
    for (const d of damages) {
      d.damage();
      const repaired = await logitsWith(ck.dir, cacheDir);
      assertEquals(repaired.logits, sound.logits, d.name);
      assertEquals(repaired.cached, [false], d.name);
      assertEquals(repaired.warnings.length, 1, d.name);
      assertMatch(repaired.warnings[0], d.says);
      assert(repaired.warnings[0].includes(entry) && repaired.warnings[0].includes("rebuilding"));
      const hit = await logitsWith(ck.dir, cacheDir);
      assertEquals([hit.cached, hit.warnings], [[true], []], `${d.name}: repaired entry is a hit`);
      assertEquals(onlyEntry(cacheDir), entry);
    }

    // Through the CLI: the warning reaches stderr and generate succeeds with the same tokens.
    const cliCache = join(dir, "g-cli");
    const args = cliArgs("generate", {
      model: ck.dir,
      "input-ids": "1,7,9,4",
      "max-new-tokens": "3",
      "cache-dir": cliCache,
      json: true,
    });
    const before = await cli(args, dir);
    assertEquals(before.code, 0, before.stderr);
    const cliData = join(onlyEntry(cliCache), "model.onnx.data");
    Deno.writeFileSync(cliData, garbage(Deno.statSync(cliData).size));
    const after = await cli(args, dir);
    assertEquals(after.code, 0, after.stderr);
    assertMatch(after.stderr, /graph cache entry .* is damaged .*; rebuilding it/);
    assertEquals(JSON.parse(after.stdout).ids, JSON.parse(before.stdout).ids);
  }));
