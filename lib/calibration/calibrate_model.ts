/**
 * Offline calibration on a model: for each calibration prompt, prefill with attention
 * importance, run PrefixKV's prefix search, and average the per-layer eviction ratios into a
 * config in the reference's format (see `prefix/calibrate.ts`). Resumable: each finished sample is
 * appended to a `.partial.jsonl` file ({@link ResumeLog}: a header line identifying the model
 * weights, the data — every sample's id, question and a SHA-256 of its image file — and the
 * search settings, then one validated line per sample, like the reference's `samples/*.jsonl`),
 * and a rerun with the same model, data and settings skips the samples found there.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { fileError, InputError } from "../errors.ts";
import { writeTextFileAtomic } from "../output_path.ts";
import { ResumeLog } from "../resume_log.ts";
import type { Provenance } from "../provenance.ts";
import { chatPrompt } from "../runtime/chat_prompt.ts";
import { measureImportance } from "../runtime/measure_importance.ts";
import type { Model } from "../runtime/model.ts";
import {
  calibrate,
  calibrationMeta,
  type CalibrationResult,
  type CalibrationSampleResult,
} from "../prefix/calibrate.ts";
import { type CalibrationPrompt, missingImageHint } from "../prefix/calibration_data.ts";
import { formatReferenceConfig, metaFileName, referenceConfigName } from "../prefix/config.ts";
import { evictRatioOf } from "../prefix/budget.ts";

/** Progress of {@link calibrateModel}, reported after every sample. */
export interface CalibrationProgress {
  /** Samples finished so far (resumed ones included). */
  done: number;
  /** Number of samples in the run. */
  total: number;
  /** The finished sample's result. */
  result: CalibrationSampleResult;
  /** True when the result came from the resume file. */
  resumed: boolean;
  /** Milliseconds since the call started. */
  elapsedMs: number;
  /** Prefill time of this sample (0 when resumed). */
  prefillMs: number;
}

/** Options of {@link calibrateModel}. */
export interface CalibrateModelOptions {
  /** Fraction of the KV kept over all layers, in (0, 1]. */
  budget: number;
  /** Leading positions always kept (default 1). */
  startSize?: number;
  /** Search tolerance in tokens over all layers (default 5). */
  tolerance?: number;
  /** Bisection steps at most (default 100). */
  maxIterations?: number;
  /** `.partial.jsonl` file to resume from and append to; none when omitted. */
  resumeFile?: string;
  /** {@link calibrationDataHash} of `samples` when already computed (else computed here). */
  dataHash?: string;
  /** Called after every sample. */
  onProgress?: (progress: CalibrationProgress) => void;
  /**
   * Called when the resume file was made for another model, data or settings (it is kept as
   * `….stale` and restarted), or when a line of it is unusable (dropped; the sample is redone).
   */
  onDiscard?: (reason: string) => void;
}

/** What identifies a resume file as reusable: same model weights, data and search settings. */
export interface CalibrationResumeHeader {
  /** Always `"prefixkv-calibration-partial"`. */
  kind: "prefixkv-calibration-partial";
  /** Format version (2: the data hash joined the header). */
  version: 2;
  /** The model's {@link Model.fingerprint}. */
  fingerprint: string;
  /** {@link calibrationDataHash} of the samples. */
  data: string;
  /** Kept fraction. */
  budget: number;
  /** Sink tokens. */
  startSize: number;
  /** Search tolerance. */
  tolerance: number;
  /** Bisection cap. */
  maxIterations: number;
  /** Header fields are flat JSON values (what {@link ResumeLog} compares). */
  [field: string]: string | number;
}

/**
 * A SHA-256 over the samples in order: each one's id, question and the SHA-256 of its image
 * file's bytes (so a changed or replaced image changes it too).
 *
 * @throws InputError naming the sample when an image cannot be read (with a hint when it sits
 *   in an `images/` folder next to where it was looked for, as `scenes` writes it)
 */
export async function calibrationDataHash(samples: readonly CalibrationPrompt[]): Promise<string> {
  const hash = createHash("sha256");
  for (const s of samples) {
    let image: string | null = null;
    if (s.image !== undefined) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(s.image);
      } catch (e) {
        throw fileError(
          s.image,
          `read the image of calibration sample "${s.id}"`,
          e,
          missingImageHint(s.image),
        );
      }
      image = createHash("sha256").update(bytes).digest("hex");
    }
    hash.update(JSON.stringify([s.id, s.question, image]) + "\n");
  }
  return hash.digest("hex");
}

/** The resume header of a calibration of `model` on data hashed to `data` with `settings`. */
export function calibrationResumeHeader(
  model: Pick<Model, "fingerprint">,
  data: string,
  settings: { budget: number; startSize?: number; tolerance?: number; maxIterations?: number },
): CalibrationResumeHeader {
  return {
    kind: "prefixkv-calibration-partial",
    version: 2,
    fingerprint: model.fingerprint,
    data,
    budget: settings.budget,
    startSize: settings.startSize ?? 1,
    tolerance: settings.tolerance ?? 5,
    maxIterations: settings.maxIterations ?? 100,
  };
}

/** One resume line as a sample result, or why it is not one (ids must be of this run). */
function parseSampleResult(
  value: unknown,
  ids: ReadonlySet<string>,
  numLayers: number,
): CalibrationSampleResult | string {
  const r = value as Record<string, unknown>;
  if (r === null || typeof r !== "object" || Array.isArray(r)) return "not an object";
  if (typeof r.id !== "string" || !ids.has(r.id)) {
    return `id ${JSON.stringify(r.id)} is not a sample of this run`;
  }
  if (!Number.isInteger(r.promptLength) || (r.promptLength as number) < 1) {
    return "promptLength is not a positive integer";
  }
  if (typeof r.p !== "number" || !(r.p >= 0 && r.p <= 1)) return "p is not a number in [0, 1]";
  if (!Number.isInteger(r.iterations) || (r.iterations as number) < 0) {
    return "iterations is not a count";
  }
  if (typeof r.converged !== "boolean") return "converged is not true or false";
  const ratios = r.evictRatios;
  if (!Array.isArray(ratios) || ratios.length !== numLayers) {
    return `evictRatios is not a list of ${numLayers} numbers`;
  }
  const bad = ratios.findIndex((x) => typeof x !== "number" || !(x >= 0 && x <= 1));
  if (bad >= 0) {
    return `evictRatios[${bad}] is ${JSON.stringify(ratios[bad])}, not a fraction in [0, 1]`;
  }
  return {
    id: r.id,
    promptLength: r.promptLength as number,
    p: r.p,
    iterations: r.iterations as number,
    converged: r.converged,
    evictRatios: ratios as number[],
  };
}

/**
 * Calibrates `model` on `samples` (see the module documentation).
 *
 * @throws InputError for no samples, duplicate sample ids, or unusable prompts/budgets
 */
export async function calibrateModel(
  model: Model,
  samples: readonly CalibrationPrompt[],
  opts: CalibrateModelOptions,
): Promise<CalibrationResult> {
  if (samples.length === 0) throw new InputError("calibration needs at least one sample");
  const ids = new Set<string>();
  for (const s of samples) {
    if (ids.has(s.id)) throw new InputError(`calibration sample id "${s.id}" appears twice`);
    ids.add(s.id);
  }
  const data = opts.dataHash ?? await calibrationDataHash(samples);
  const header = calibrationResumeHeader(model, data, opts);
  const search = {
    budget: header.budget,
    startSize: header.startSize,
    tolerance: header.tolerance,
    maxIterations: header.maxIterations,
  };
  const numLayers = model.spec.text.numLayers;
  const done = opts.resumeFile
    ? await ResumeLog.open<CalibrationSampleResult>({
      path: opts.resumeFile,
      header,
      parseRecord: (v) => parseSampleResult(v, ids, numLayers),
      keyOf: (r) => r.id,
      onMessage: opts.onDiscard,
    })
    : null;
  const t0 = performance.now();
  const results: CalibrationSampleResult[] = [];
  for (const sample of samples) {
    let result = done?.get(sample.id);
    let prefillMs = 0;
    const resumed = result !== undefined;
    if (!result) {
      const prompt = await chatPrompt(model, { question: sample.question, image: sample.image });
      const measured = await measureImportance(model, prompt);
      prefillMs = measured.prefillMs;
      result = (await calibrate([{ id: sample.id, importance: measured.importance }], search))
        .samples[0];
      await done?.append(result);
    }
    results.push(result);
    opts.onProgress?.({
      done: results.length,
      total: samples.length,
      result,
      resumed,
      elapsedMs: performance.now() - t0,
      prefillMs,
    });
  }
  return { ...aggregateCalibration(results, search), dataHash: header.data };
}

/**
 * Averages per-sample results into a calibration result: per-layer arithmetic mean of the
 * eviction ratios, with population std, min and max (the same aggregation as `calibrate`).
 *
 * @throws InputError when there are no results or their layer counts differ
 */
export function aggregateCalibration(
  samples: readonly CalibrationSampleResult[],
  opts: { budget: number; startSize?: number; tolerance?: number },
): CalibrationResult {
  if (samples.length === 0) throw new InputError("calibration needs at least one sample");
  const numLayers = samples[0].evictRatios.length;
  for (const s of samples) {
    if (s.evictRatios.length !== numLayers) {
      throw new InputError(
        `calibration sample "${s.id}" has ${s.evictRatios.length} layers, the first had ${numLayers}`,
      );
    }
  }
  const column = (l: number) => samples.map((s) => s.evictRatios[l]);
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const evictRatios = Array.from({ length: numLayers }, (_, l) => mean(column(l)));
  return {
    budget: opts.budget,
    evictRatio: evictRatioOf(opts.budget),
    startSize: opts.startSize ?? 1,
    tolerance: opts.tolerance ?? 5,
    numLayers,
    evictRatios,
    spread: {
      std: evictRatios.map((m, l) => Math.sqrt(mean(column(l).map((x) => (x - m) ** 2)))),
      min: evictRatios.map((_, l) => Math.min(...column(l))),
      max: evictRatios.map((_, l) => Math.max(...column(l))),
    },
    samples: [...samples],
  };
}

/** Where {@link writeCalibration} puts the files. */
export interface CalibrationPaths {
  /** The config file (reference format). */
  configPath: string;
  /** The metadata sidecar (`….meta.json`). */
  metaPath: string;
  /** The resume file (`….partial.jsonl`), one sample result per line. */
  partialPath: string;
}

/**
 * The files of a calibration: `out` ending in `.json` is the config file itself; otherwise a
 * directory holding `prefixkv_{model}_{ρ}.json`. The sidecar is `….meta.json` and the resume
 * file `….partial.jsonl` next to it.
 */
export function calibrationPaths(out: string, model: string, budget: number): CalibrationPaths {
  const configPath = out.endsWith(".json") ? out : join(out, referenceConfigName(model, budget));
  const base = configPath.replace(/\.json$/, "");
  return {
    configPath,
    metaPath: join(dirname(configPath), metaFileName(configPath.split(/[\\/]/).pop()!)),
    partialPath: `${base}.partial.jsonl`,
  };
}

/** Provenance of a saved calibration. */
export interface CalibrationSource {
  /** Model name (the checkpoint directory's name). */
  model: string;
  /** Calibration data file. */
  dataset: string;
  /** Who made the calibration, when, from which commit and arguments. */
  provenance: Provenance;
}

/**
 * Writes the config (reference format) and its sidecar: the calibration metadata plus every
 * sample's eviction ratios and the full provenance record.
 */
export async function writeCalibration(
  paths: Pick<CalibrationPaths, "configPath" | "metaPath">,
  result: CalibrationResult,
  source: CalibrationSource,
): Promise<void> {
  const meta = calibrationMeta(result, {
    model: source.model,
    dataset: source.dataset,
    gitCommit: source.provenance.commit,
    date: source.provenance.date,
  });
  meta.meanEvictRatio = result.evictRatios.reduce((s, x) => s + x, 0) / result.numLayers;
  meta.sampleEvictRatios = result.samples.map((s) => ({ id: s.id, evictRatios: s.evictRatios }));
  meta.provenance = source.provenance;
  await Deno.mkdir(dirname(paths.configPath), { recursive: true });
  await writeTextFileAtomic(paths.configPath, formatReferenceConfig(result.evictRatios));
  await writeTextFileAtomic(paths.metaPath, JSON.stringify(meta, null, 2) + "\n");
}
