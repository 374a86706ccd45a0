/**
 * The experiment runner end to end on the bundled model, kept small (a few samples, one or two
 * budgets): a `--quick` run writes every file consistently; an interrupted and resumed run
 * equals a clean one; shards merged equal the unsharded run; a tiny LLaVA-Description-layout
 * data set runs; bad input fails before any work and loses no finished cell.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { encodePng, generateSplit } from "../../lib/data/scenes/dataset.ts";
import { InputError } from "../../lib/errors.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import type { CellSummary } from "../../experiments/run/cells.ts";
import { main, parseRunArgs } from "../../experiments/run/main.ts";
import { mergeRuns, withoutTimings } from "../../experiments/run/merge.ts";
import type { RunResults } from "../../experiments/run/report.ts";
import { runExperiments } from "../../experiments/run/runner.ts";
import { readDataSource } from "../../experiments/run/samples.ts";

/** The fields of run.json the tests read. */
interface RunRecordView {
  plan: string[];
  provenance: { commit: string | null };
  data: { disjoint: { overlap: number }; calibration: { count: number }; fileHash: string };
  identity: { seeds: Record<string, number>; data: { test: string } };
  positionMode: string;
}

const readJson = <T>(path: string): T => JSON.parse(Deno.readTextFileSync(path));

/** Results without what legitimately differs between runs (timings, dates, folders, shards). */
function comparable(r: RunResults) {
  return {
    cells: r.cells.map((c: CellSummary) => withoutTimings(c)),
    reference: r.reference,
    calibration: r.calibration,
    identity: r.run.identity,
    plan: r.run.plan,
  };
}

async function withModel(fn: (model: Model) => Promise<void>) {
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false, threads: 1 });
  try {
    await fn(model);
  } finally {
    await model.close();
  }
}

const SMALL = [
  "--recipes",
  "full,local,prefixkv",
  "--budgets",
  "0.3",
  "--samples",
  "2",
  "--calibration",
  "2",
  "--no-figures",
];

Deno.test("experiments --quick writes every file with consistent contents", async () => {
  const out = await Deno.makeTempDir();
  try {
    assertEquals(await main(["--quick", "--out", out]), 0);
    const results = readJson<RunResults>(join(out, "results.json"));
    const run = readJson<RunRecordView>(join(out, "run.json"));
    // Every planned cell is stored, summarised in results.json, and a row of results.csv.
    assertEquals(run.plan.length, 11); // full once + 5 compressing presets × 2 budgets
    assertEquals(results.cells.map((c) => c.key), run.plan);
    for (const key of run.plan) assert(existsSync(join(out, "cells", `${key}.json`)), key);
    const csv = Deno.readTextFileSync(join(out, "results.csv")).trim().split("\n");
    assertEquals(csv.length, 1 + run.plan.length);
    const pplColumn = csv[0].split(",").indexOf("ppl");
    results.cells.forEach((c, i) => assertEquals(Number(csv[i + 1].split(",")[pplColumn]), c.ppl));
    // Table 1 shows each compressing recipe's PPL / ROUGE-L at each budget.
    const md = Deno.readTextFileSync(join(out, "results.md"));
    const local20 = results.cells.find((c) => c.key === "local@20")!;
    assertStringIncludes(md, "| local |");
    assertStringIncludes(md, `/ ${local20.rougeL.toFixed(2)}`);
    // Provenance: commit, machine, seeds, disjoint splits, data hashes.
    assert(run.provenance.commit === null || /^[0-9a-f]{40}$/.test(run.provenance.commit));
    assertEquals(run.data.disjoint.overlap, 0);
    assertEquals(run.identity.seeds, { testScenes: 3, calibrationScenes: 5 });
    assert(/^[0-9a-f]{64}$/.test(run.identity.data.test));
    assertEquals(run.positionMode, "absolute");
    // The full cache: ROUGE-L 1 against itself, nothing dropped; compressed cells keep less.
    const full = results.cells.find((c) => c.method === "full")!;
    assert(full.rougeL > 0.99 && full.keptFraction === 1);
    assert(results.cells.filter((c) => c.budget === 0.2).every((c) => c.keptFraction < 0.3));
    // Offline configs: one per calibration size and budget, in the reference's format.
    for (const c of results.calibration.configs) {
      const ratios = JSON.parse(Deno.readTextFileSync(join(out, c.file)));
      assertEquals(ratios.length, 8);
    }
    // Figures: SVG and PNG of each.
    const names = [...Deno.readDirSync(join(out, "figures"))].map((e) => e.name);
    for (
      const f of [
        "ppl_vs_budget",
        "rouge_vs_budget",
        "lorenz",
        "kept_ratio_heatmap",
        "object_patch_recall_heatmap",
      ]
    ) {
      assert(names.includes(`${f}.svg`) && names.includes(`${f}.png`), f);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("an interrupted run resumed equals a clean run; shards merged equal it too", async () => {
  const root = await Deno.makeTempDir();
  try {
    await withModel(async (model) => {
      const opts = (dir: string, extra: string[] = []) => ({
        ...parseRunArgs([...SMALL, "--out", join(root, dir), ...extra]),
        entries: [],
      });
      const clean = await runExperiments(model, opts("clean"));
      assertEquals(clean.cells.map((c) => c.key), ["full@100", "local@30", "prefixkv@30"]);

      // Killed in the middle of the second cell: the first stays stored, the run resumes.
      let seen = 0;
      await assertRejects(
        () =>
          runExperiments(model, opts("resumed"), (p) => {
            if (p.phase === "cells" && ++seen === 3) throw new Error("killed");
          }),
        Error,
        "killed",
      );
      assert(existsSync(join(root, "resumed", "cells", "full@100.json")));
      assert(!existsSync(join(root, "resumed", "cells", "local@30.json")));
      const resumed = await runExperiments(model, opts("resumed"));
      assertEquals(comparable(resumed), comparable(clean));

      const a = await runExperiments(model, opts("s1", ["--shard", "1/2"]));
      const b = await runExperiments(model, opts("s2", ["--shard", "2/2"]));
      assertEquals(a.cells.map((c) => c.key), ["full@100", "prefixkv@30"]);
      assertEquals(b.cells.map((c) => c.key), ["local@30"]);
      const merged = await mergeRuns([join(root, "s1"), join(root, "s2")], join(root, "merged"));
      assertEquals(comparable(merged), comparable(clean));
      // `report DIR` rewrites the tables from the stored cells: the same results.json.
      const before = Deno.readTextFileSync(join(root, "clean", "results.csv"));
      Deno.removeSync(join(root, "clean", "results.csv"));
      assertEquals(await main(["report", join(root, "clean")]), 0);
      assertEquals(Deno.readTextFileSync(join(root, "clean", "results.csv")), before);
      // A folder made with other settings is refused, and nothing in it changes.
      const cellBefore = Deno.readTextFileSync(join(root, "clean", "cells", "local@30.json"));
      await assertRejects(
        () => runExperiments(model, { ...opts("clean"), samples: 1 }),
        InputError,
        "holds results of another run",
      );
      assertEquals(
        Deno.readTextFileSync(join(root, "clean", "cells", "local@30.json")),
        cellBefore,
      );
      await assertRejects(
        () => mergeRuns([join(root, "s1")], join(root, "m2")),
        InputError,
        "cells are in no folder",
      );
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a tiny data set in the LLaVA-Description layout runs end to end", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { images } = generateSplit("desc", 3, 11);
    const data = images.map((img, i) => {
      Deno.writeFileSync(join(root, `${i}.png`), encodePng(img));
      return {
        id: `d${i}`,
        image: `${i}.png`,
        conversations: [
          { from: "human", value: "<image>\nDescribe the image in detail." },
          { from: "gpt", value: "There is one object. A small red circle is at the top." },
        ],
      };
    });
    const file = join(root, "detail_1k.json");
    Deno.writeTextFileSync(file, JSON.stringify(data));
    const args = [
      "--data",
      file,
      "--images",
      root,
      "--recipes",
      "full,prefixkv",
      "--budgets",
      "0.5",
      "--samples",
      "2",
      "--calibration",
      "1",
      "--max-new-tokens",
      "16",
      "--no-figures",
      "--out",
      join(root, "out"),
    ];
    const opts = parseRunArgs(args);
    assertEquals(opts.data.kind, "llava-description");
    await withModel(async (model) => {
      const r = await runExperiments(model, { ...opts, entries: readDataSource(opts.data) });
      assertEquals(r.cells.map((c) => c.key), ["full@100", "prefixkv@50"]);
      assert(r.cells.every((c) => Number.isFinite(c.ppl) && c.ppl > 1 && c.accuracy === undefined));
      const run = readJson<RunRecordView>(join(root, "out", "run.json"));
      assertEquals(run.data.calibration.count, 1);
      assert(/^[0-9a-f]{64}$/.test(run.data.fileHash));
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("bad input fails before any work with a clear error", async () => {
  const root = await Deno.makeTempDir();
  try {
    const fails = async (args: string[], message: string) => {
      const errors: string[] = [];
      const orig = console.error;
      console.error = (m: string) => errors.push(m);
      try {
        assertEquals(await main(args), 2, args.join(" "));
      } finally {
        console.error = orig;
      }
      assertStringIncludes(errors.join("\n"), message);
    };
    await fails(["--recipes", "full,nope"], 'unknown recipe "nope"');
    await fails(["--budgets", "0.2,1.5"], '"1.5" is not a kept fraction');
    await fails(["--shard", "3/2"], "--shard must be i/n");
    const sweep = join(root, "sweep.json");
    Deno.writeTextFileSync(sweep, JSON.stringify([{ method: "local", window: 8 }]));
    await fails(["--recipes", sweep], "entry 0: recipe local does not take window");
    Deno.writeTextFileSync(sweep, JSON.stringify([{ method: "local", calibrate: 5 }]));
    await fails(["--recipes", sweep], "calibrate needs a recipe that takes an offline config");
    const file = join(root, "out-is-a-file");
    Deno.writeTextFileSync(file, "");
    await fails(["--quick", "--out", join(file, "sub")], "cannot write results there");
    const data = join(root, "detail_1k.json");
    Deno.writeTextFileSync(
      data,
      JSON.stringify([{
        id: "x",
        image: "gone.png",
        conversations: [{ from: "human", value: "<image>\nQ" }, { from: "gpt", value: "A" }],
      }]),
    );
    await fails(["--data", data, "--images", root, "--out", join(root, "o")], "entry 0");
    await fails(["--data", data], "--data needs --images");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
