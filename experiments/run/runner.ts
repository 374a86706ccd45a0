/**
 * One experiment run: the full-cache reference, the calibrated offline configs, then every cell
 * (recipe config × budget) over the test samples, each stored when done; then the tables and
 * figures. Resumable (finished parts are reused), deterministic (greedy decoding, fixed seeds,
 * canonical cell order), and shardable (`shard` picks every n-th cell).
 *
 * @module
 */
import { join, resolve } from "node:path";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { InputError } from "../../lib/errors.ts";
import { calibrate } from "../../lib/prefix/calibrate.ts";
import { formatReferenceConfig, referenceConfigName } from "../../lib/prefix/config.ts";
import { provenance } from "../../lib/provenance.ts";
import { resetPeakRss } from "../../lib/metrics/efficiency.ts";
import type { Model } from "../../lib/runtime/model.ts";
import { buildRecipe, cellPolicy, type RecipeConfig } from "./recipes.ts";
import { planCells, type Shard, shardCells, summarizeCell } from "./cells.ts";
import {
  calibrationImportance,
  type DecodeSettings,
  evaluateSample,
  PromptCache,
  type ReferenceSample,
  referenceSample,
  type SampleResult,
} from "./evaluate.ts";
import { type DataSource, type EvalData, loadEvalData } from "./samples.ts";
import {
  cellPath,
  checkResume,
  prepareOutDir,
  readJson,
  shortHash,
  writeJsonAtomic,
} from "./store.ts";
import { existsSync } from "node:fs";
import type { CalibrationRecord, ReferenceSummary, RunResults } from "./report.ts";
import { writeResults } from "./write_results.ts";
import type { VqaSample } from "../../lib/data/vqa_sample.ts";

/** Settings of a run (validated by the command line or the caller). */
export interface RunOptions {
  /** Model directory as given (recorded), and its loaded model. */
  modelDir: string;
  /** Data source. */
  data: DataSource;
  /** Entries of a data file, already validated (scenes: none). */
  entries?: VqaSample[];
  /** Recipe rows. */
  recipes: RecipeConfig[];
  /** Kept fractions in (0, 1). */
  budgets: number[];
  /** Test samples. */
  samples: number;
  /** Calibration samples available to offline configs. */
  calibration: number;
  /** Decoding settings. */
  decode: DecodeSettings;
  /** Results folder (default `results/<run id>`, with `-shard-i-of-n` for a shard). */
  out?: string;
  /** Only this shard's cells. */
  shard?: Shard;
  /** The command-line arguments (recorded). */
  args: unknown;
  /** Write figures (default true). */
  figures?: boolean;
}

/** Progress of a run. */
export interface RunProgress {
  /** What is being done. */
  phase: "reference" | "calibration" | "cells";
  /** Units done in this phase (samples). */
  done: number;
  /** Units of this phase. */
  total: number;
  /** Units done across cells (including resumed ones), for the overall bar. */
  cellsDone: number;
  /** Cells of this run (this shard). */
  cellsTotal: number;
  /** Current cell key. */
  cell?: string;
  /** Milliseconds since this phase started. */
  elapsedMs: number;
  /** Estimated milliseconds left in this phase (null until something was measured). */
  etaMs: number | null;
}

/** What identifies a run's results: anything that changes a cell's numbers. */
export interface RunIdentity {
  /** Model name and weight fingerprint. */
  model: { name: string; fingerprint: string };
  /** Data: kind, source, counts and hashes. */
  data: {
    kind: string;
    test: string;
    calibration: string;
    samples: number;
    calibrationSamples: number;
  };
  /** Decoding settings. */
  decode: DecodeSettings;
  /** Seeds of the data. */
  seeds: Record<string, number>;
}

/** A stable id of the run: model, data and settings, shard excluded. */
export async function runId(identity: RunIdentity): Promise<string> {
  return `${identity.model.name}-${identity.data.kind}-${await shortHash(identity)}`;
}

function modelName(dir: string): string {
  if (resolve(dir) === resolve(BUNDLED_MODEL_DIR)) return "tiny-llava";
  return dir.replace(/\/+$/, "").split("/").pop()!.toLowerCase().replace(/[^a-z0-9.-]+/g, "-");
}

function machine() {
  const mem = Deno.systemMemoryInfo();
  return {
    os: Deno.build.os,
    arch: Deno.build.arch,
    cpus: navigator.hardwareConcurrency,
    memoryBytes: mem.total,
    hostname: Deno.hostname(),
    loadAverage: Deno.loadavg(),
  };
}

function estimate(done: number, total: number, elapsed: number): number | null {
  return done > 0 ? (elapsed / done) * (total - done) : null;
}

/** Runs the experiment on `model` (see the module documentation); returns the results. */
export async function runExperiments(
  model: Model,
  opts: RunOptions,
  onProgress: (p: RunProgress) => void = () => {},
): Promise<RunResults> {
  const t0 = performance.now();
  const name = modelName(opts.modelDir);
  const calibrationCounts = [
    ...new Set(opts.recipes.flatMap((r) => (r.calibrate ? [r.calibrate] : []))),
  ].sort((a, b) => a - b);
  const neededCalibration = Math.max(0, ...calibrationCounts);
  if (neededCalibration > opts.calibration) {
    throw new InputError(
      `a recipe calibrates on ${neededCalibration} samples but --calibration is ${opts.calibration}`,
    );
  }
  const data: EvalData = await loadEvalData(
    model,
    opts.data,
    opts.samples,
    neededCalibration > 0 ? opts.calibration : 0,
    opts.entries,
  );
  const identity: RunIdentity = {
    model: { name, fingerprint: model.fingerprint },
    data: {
      kind: data.kind,
      test: data.record.test.hash,
      calibration: data.record.calibration.hash,
      samples: opts.samples,
      calibrationSamples: data.calibration.length,
    },
    decode: opts.decode,
    seeds: data.kind === "scenes" ? { testScenes: 3, calibrationScenes: 5 } : { shuffle: 0 },
  };
  const id = await runId(identity);
  const out = opts.out ??
    join("results", opts.shard ? `${id}-shard-${opts.shard.index}-of-${opts.shard.count}` : id);
  await prepareOutDir(out);
  checkResume(out, identity);
  const allCells = planCells(opts.recipes, opts.budgets);
  const cells = shardCells(allCells, opts.shard);
  const prov = await provenance(opts.args);
  const runRecord = {
    runId: id,
    out,
    identity,
    provenance: prov,
    machine: { ...machine(), onnxruntimeThreads: model.threads ?? "default" },
    positionMode: opts.decode.positionMode,
    data: data.record,
    recipes: opts.recipes,
    budgets: opts.budgets,
    plan: allCells.map((c) => c.key),
    shard: opts.shard ?? null,
    cells: cells.map((c) => c.key),
    startedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(join(out, "run.json"), runRecord);

  const prompts = new PromptCache(model);
  const reference = await computeReference(model, prompts, data, { ...opts, out }, onProgress);
  const calibration = await computeCalibration(
    model,
    prompts,
    data,
    { ...opts, out },
    name,
    calibrationCounts,
    onProgress,
  );
  const confOf = (config: RecipeConfig, budget: number) =>
    config.calibrate === undefined
      ? undefined
      : calibration.configs.find((c) => c.samples === config.calibrate && c.budget === budget)!
        .evictRatios;

  // Cells: skip finished ones, evaluate the rest sample by sample.
  const total = cells.length * data.test.length;
  const pending = cells.filter((c) => !existsSync(cellPath(out, c.key)));
  let cellsDone = (cells.length - pending.length) * data.test.length;
  let done = 0;
  const tc = performance.now();
  const pendingTotal = pending.length * data.test.length;
  for (const cell of pending) {
    resetPeakRss(); // peak RSS per cell where the kernel allows it
    const policy = cellPolicy(cell.config, cell.budget, confOf(cell.config, cell.budget));
    const parts = buildRecipe(cell.config, confOf(cell.config, cell.budget)).describeParts();
    const results: SampleResult[] = [];
    for (let i = 0; i < data.test.length; i++) {
      results.push(
        await evaluateSample(model, prompts, data.test[i], reference[i], policy, opts.decode),
      );
      done++;
      cellsDone++;
      const elapsed = performance.now() - tc;
      onProgress({
        phase: "cells",
        done: cellsDone,
        total,
        cellsDone,
        cellsTotal: cells.length,
        cell: cell.key,
        elapsedMs: elapsed,
        etaMs: estimate(done, pendingTotal, elapsed),
      });
    }
    await writeJsonAtomic(cellPath(out, cell.key), {
      key: cell.key,
      config: cell.config,
      budget: cell.budget,
      summary: summarizeCell(cell, parts, results),
      samples: results,
    });
  }
  const durationSeconds = (performance.now() - t0) / 1000;
  const finished = { ...runRecord, finishedAt: new Date().toISOString(), durationSeconds };
  await writeJsonAtomic(join(out, "run.json"), finished);
  return writeResults(out, finished, cells.map((c) => c.key), opts.figures ?? true);
}

async function computeReference(
  model: Model,
  prompts: PromptCache,
  data: EvalData,
  opts: RunOptions & { out: string },
  onProgress: (p: RunProgress) => void,
): Promise<ReferenceSample[]> {
  const path = join(opts.out, "reference.json");
  if (existsSync(path)) return readJson<{ samples: ReferenceSample[] }>(path).samples;
  const t = performance.now();
  const samples: ReferenceSample[] = [];
  for (const s of data.test) {
    samples.push(await referenceSample(model, prompts, s, opts.decode));
    const elapsed = performance.now() - t;
    onProgress({
      phase: "reference",
      done: samples.length,
      total: data.test.length,
      cellsDone: 0,
      cellsTotal: 0,
      elapsedMs: elapsed,
      etaMs: estimate(samples.length, data.test.length, elapsed),
    });
  }
  await writeJsonAtomic(path, { summary: summarizeReference(samples), samples });
  return samples;
}

/** Means of the reference's per-layer analyses. */
export function summarizeReference(samples: readonly ReferenceSample[]): ReferenceSummary {
  const L = samples[0]?.gini.length ?? 0;
  const mean = (f: (s: ReferenceSample) => number) =>
    samples.reduce((a, s) => a + f(s), 0) / Math.max(1, samples.length);
  return {
    samples: samples.length,
    gini: Array.from({ length: L }, (_, l) => mean((s) => s.gini[l])),
    imageShare: Array.from({ length: L }, (_, l) => mean((s) => s.imageShare[l])),
    lorenz: Array.from(
      { length: L },
      (_, l) => samples[0].lorenz[l].map((_, i) => mean((s) => s.lorenz[l][i])),
    ),
    promptLength: mean((s) => s.promptLength),
  };
}

async function computeCalibration(
  model: Model,
  prompts: PromptCache,
  data: EvalData,
  opts: RunOptions & { out: string },
  name: string,
  counts: number[],
  onProgress: (p: RunProgress) => void,
): Promise<CalibrationRecord> {
  const path = join(opts.out, "calibration.json");
  const budgets = [...opts.budgets].sort((a, b) => a - b);
  if (existsSync(path)) {
    const saved = readJson<CalibrationRecord>(path);
    const has = (n: number, b: number) =>
      saved.configs.some((c) => c.samples === n && c.budget === b);
    if (counts.every((n) => budgets.every((b) => has(n, b)))) return saved;
  }
  const record: CalibrationRecord = { available: data.calibration.length, configs: [] };
  if (counts.length === 0) return record;
  const most = counts.at(-1)!;
  const importances: { id: string; importance: Float32Array[] }[] = [];
  const t = performance.now();
  for (const s of data.calibration.slice(0, most)) {
    importances.push({ id: s.id, importance: await calibrationImportance(model, prompts, s) });
    const elapsed = performance.now() - t;
    onProgress({
      phase: "calibration",
      done: importances.length,
      total: most,
      cellsDone: 0,
      cellsTotal: 0,
      elapsedMs: elapsed,
      etaMs: estimate(importances.length, most, elapsed),
    });
  }
  await Deno.mkdir(join(opts.out, "configs"), { recursive: true });
  for (const n of counts) {
    for (const budget of budgets) {
      const result = await calibrate(importances.slice(0, n), { budget });
      const file = join(
        "configs",
        referenceConfigName(name, budget).replace(/\.json$/, `_n${n}.json`),
      );
      await Deno.writeTextFile(join(opts.out, file), formatReferenceConfig(result.evictRatios));
      record.configs.push({
        samples: n,
        budget,
        evictRatios: result.evictRatios,
        std: result.spread.std,
        file,
      });
    }
  }
  await writeJsonAtomic(path, record);
  return record;
}
