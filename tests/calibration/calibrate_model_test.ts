import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { calibrate } from "../../lib/prefix/calibrate.ts";
import {
  aggregateCalibration,
  calibrateModel,
  calibrationDataHash,
  calibrationPaths,
  calibrationResumeHeader,
} from "../../lib/calibration/calibrate_model.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { makeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { Prng } from "../../lib/random.ts";
import { randomImportance } from "../_random_importance.ts";

Deno.test("aggregateCalibration equals calibrate's aggregation of the same samples", async () => {
  const r = new Prng(9);
  const samples = [24, 31, 40].map((n, i) => ({
    id: `s${i}`,
    importance: randomImportance(r, 4, n),
  }));
  const whole = await calibrate(samples, { budget: 0.3 });
  const perSample = [];
  for (const s of samples) perSample.push((await calibrate([s], { budget: 0.3 })).samples[0]);
  assertEquals(aggregateCalibration(perSample, { budget: 0.3 }), whole);
});

Deno.test("calibrationPaths: a .json file or a directory with the reference name", () => {
  assertEquals(calibrationPaths("out/my.json", "m", 0.5), {
    configPath: "out/my.json",
    metaPath: join("out", "my.meta.json"),
    partialPath: "out/my.partial.jsonl",
  });
  assertEquals(
    calibrationPaths("confs", "llava-v1.5-7b", 0.8).configPath,
    join("confs", "prefixkv_llava-v1.5-7b_0.2.json"),
  );
});

Deno.test("calibrateModel: resumes finished samples, restarts a file made with another budget", async () => {
  const ck = makeTinyLlama({ heads: 4, kvHeads: 2, layers: 3 });
  const model = await loadModel({ spec: ck.spec, tensors: ck.store }, { cacheDir: false });
  // This model has no tokenizer, so a sample that is not resumed cannot be prompted: resumed
  // samples must never be prompted again.
  const dir = await Deno.makeTempDir({ prefix: "calibrate_model_" });
  try {
    const resumeFile = join(dir, "x.partial.jsonl");
    const samples = [{ id: "a", question: "x" }, { id: "b", question: "y" }];
    const header = calibrationResumeHeader(model, await calibrationDataHash(samples), {
      budget: 0.5,
    });
    const done = [
      {
        id: "a",
        promptLength: 10,
        p: 0.5,
        iterations: 3,
        converged: true,
        evictRatios: [0.4, 0.5, 0.6],
      },
      {
        id: "b",
        promptLength: 12,
        p: 0.6,
        iterations: 2,
        converged: true,
        evictRatios: [0.5, 0.5, 0.5],
      },
    ];
    await Deno.writeTextFile(
      resumeFile,
      [header, ...done].map((x) => JSON.stringify(x)).join("\n") + '\n{"id": "c", "cut',
    );
    const seen: boolean[] = [];
    const result = await calibrateModel(model, samples, {
      budget: 0.5,
      resumeFile,
      onProgress: (p) => seen.push(p.resumed),
    });
    assertEquals(seen, [true, true]);
    assertEquals(result.evictRatios, [0.45, 0.5, 0.55]);
    assertEquals(result.samples, done);

    // Another budget: the file is restarted (and then the tokenizer-less prompt fails).
    const reasons: string[] = [];
    let failed = false;
    try {
      await calibrateModel(model, [{ id: "a", question: "x" }], {
        budget: 0.4,
        resumeFile,
        onDiscard: (r) => reasons.push(r),
      });
    } catch (e) {
      failed = /no tokenizer/.test((e as Error).message);
    }
    assert(failed);
    assertEquals(reasons.length, 1);
    assert(reasons[0].includes("budget"), reasons[0]);
    const lines = (await Deno.readTextFile(resumeFile)).trim().split("\n");
    assertEquals(lines.length, 1);
    assertEquals(JSON.parse(lines[0]).budget, 0.4);
  } finally {
    await model.close();
    await Deno.remove(dir, { recursive: true });
  }
});
