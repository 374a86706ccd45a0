/**
 * Offline calibration on a model: for each calibration prompt, prefill with attention
 * importance, run PrefixKV's prefix search, and average the per-layer eviction ratios into a
 * config in the reference's format (see `prefix/calibrate.ts`). Resumable: each finished sample is
 * appended to a `.partial.jsonl` file (a header line identifying the model and search settings,
 * then one line per sample, like the reference's `samples/*.jsonl`), and a rerun with the same
 * settings skips the samples found there.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { InputError } from "../errors.ts";
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
import type { CalibrationPrompt } from "../prefix/calibration_data.ts";
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
  /** Called after every sample. */
  onProgress?: (progress: CalibrationProgress) => void;
  /** Called when a resume file exists but was made with other settings (it is restarted). */
  onDiscard?: (reason: string) => void;
}

/** What identifies a resume file as reusable: same model weights and search settings. */
interface PartialHeader {
  kind: "prefixkv-calibration-partial";
  fingerprint: string;
  budget: number;
  startSize: number;
  tolerance: number;
  maxIterations: number;
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
  const header: PartialHeader = {
    kind: "prefixkv-calibration-partial",
    fingerprint: model.fingerprint,
    budget: opts.budget,
    startSize: opts.startSize ?? 1,
    tolerance: opts.tolerance ?? 5,
    maxIterations: opts.maxIterations ?? 100,
  };
  const search = {
    budget: header.budget,
    startSize: header.startSize,
    tolerance: header.tolerance,
    maxIterations: header.maxIterations,
  };
  const done = opts.resumeFile ? await readPartial(opts.resumeFile, header, opts.onDiscard) : null;
  if (opts.resumeFile && done === null) {
    await Deno.mkdir(dirname(opts.resumeFile), { recursive: true });
    await Deno.writeTextFile(opts.resumeFile, JSON.stringify(header) + "\n");
  }
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
      if (opts.resumeFile) {
        await Deno.writeTextFile(opts.resumeFile, JSON.stringify(result) + "\n", { append: true });
      }
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
  return aggregateCalibration(results, search);
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

/**
 * Per-sample results of a resume file made with `header`'s settings, by sample id; null when
 * the file is missing, or unusable (then `onDiscard` says why and the caller restarts it).
 */
async function readPartial(
  path: string,
  header: PartialHeader,
  onDiscard?: (reason: string) => void,
): Promise<Map<string, CalibrationSampleResult> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return null;
  }
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  let head: Record<string, unknown>;
  try {
    head = JSON.parse(lines[0] ?? "null") ?? {};
  } catch {
    onDiscard?.(`${path}: unreadable header; starting over`);
    return null;
  }
  const differing = (Object.keys(header) as (keyof PartialHeader)[]).filter((k) =>
    head[k] !== header[k]
  );
  if (differing.length > 0) {
    onDiscard?.(`${path} was made with another ${differing.join(", ")}; starting over`);
    return null;
  }
  const done = new Map<string, CalibrationSampleResult>();
  for (const line of lines.slice(1)) {
    try {
      const r = JSON.parse(line) as CalibrationSampleResult;
      if (typeof r.id === "string" && Array.isArray(r.evictRatios)) done.set(r.id, r);
    } catch {
      // A line cut short by an interrupted run: that sample is simply redone.
    }
  }
  return done;
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
  await Deno.writeTextFile(paths.configPath, formatReferenceConfig(result.evictRatios));
  await Deno.writeTextFile(paths.metaPath, JSON.stringify(meta, null, 2) + "\n");
}
