/**
 * Offline calibration: run the prefix search on a few samples, average the per-layer eviction
 * ratios (the reference's shipped configs fit a per-layer arithmetic mean), and save the
 * result in the reference's format with a provenance sidecar.
 *
 * @module
 */
import { gitCommit } from "../provenance.ts";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import denoConfig from "../../deno.json" with { type: "json" };
import { prefixSearch, type PrefixSearchOptions } from "./search.ts";
import { formatReferenceConfig, metaFileName, referenceConfigName } from "./config.ts";

/** One calibration sample: an id and its per-layer prefill importances. */
export interface CalibrationSample {
  /** Sample identifier, carried into the results. */
  id: string;
  /** Per layer, N non-negative importance scores. */
  importance: ArrayLike<ArrayLike<number>>;
}

/** What calibration recorded for one sample. */
export interface CalibrationSampleResult {
  /** The sample's identifier. */
  id: string;
  /** Prompt length N of the sample. */
  promptLength: number;
  /** Retained-information threshold the search found. */
  p: number;
  /** Bisection steps taken. */
  iterations: number;
  /** Whether the search reached its tolerance. */
  converged: boolean;
  /** evict_l / N per layer after rescale and floor (the reference's logged `.jsonl` line). */
  evictRatios: number[];
}

/** Options of {@link calibrate}. */
export interface CalibrateOptions extends Omit<PrefixSearchOptions, "rescale"> {
  /** Called after each sample with the number done so far and that sample's result. */
  onProgress?: (done: number, sample: CalibrationSampleResult) => void;
}

/** Result of {@link calibrate}. */
export interface CalibrationResult {
  /** Kept fraction in (0, 1]. */
  budget: number;
  /** ρ = 1 − budget (names the file). */
  evictRatio: number;
  /** Leading positions always kept (default 1). */
  startSize: number;
  /** Search tolerance in tokens over all layers (default 5). */
  tolerance: number;
  /** Number of layers L. */
  numLayers: number;
  /** Per-layer mean of the samples' eviction ratios: the config to save. */
  evictRatios: number[];
  /** Per-layer spread of the samples' eviction ratios (population std). */
  spread: { std: number[]; min: number[]; max: number[] };
  /** Per-sample results, in input order. */
  samples: CalibrationSampleResult[];
  /** SHA-256 of the calibration data (ids, questions, image bytes) when calibrated on a model. */
  dataHash?: string;
}

/**
 * Runs the prefix search on every sample and averages the per-layer eviction ratios.
 *
 * @example Per-layer ratios from two samples, kept at 50 %
 * ```ts
 * import { calibrate } from "@prefixkv/prefixkv";
 * const result = await calibrate([
 *   { id: "a", importance: [[8, 4, 2, 1, 1, 1], [1, 1, 1, 1, 1, 1]] },
 *   { id: "b", importance: [[4, 4, 2, 2, 1, 1], [2, 1, 1, 1, 1, 2]] },
 * ], { budget: 0.5 });
 * console.log(result.evictRatios, result.spread.std); // what the reference's config file holds
 * ```
 *
 * @param samples sync or async iterable of per-sample importances (all with the same layers)
 * @throws InputError when there are no samples or their layer counts differ
 */
export async function calibrate(
  samples: AsyncIterable<CalibrationSample> | Iterable<CalibrationSample>,
  options: CalibrateOptions,
): Promise<CalibrationResult> {
  const { onProgress, ...search } = options;
  const results: CalibrationSampleResult[] = [];
  let evictRatio = 0;
  for await (const sample of samples) {
    if (results.length > 0 && sample.importance.length !== results[0].evictRatios.length) {
      throw new InputError(
        `calibration sample "${sample.id}" has ${sample.importance.length} layers, the first ` +
          `had ${results[0].evictRatios.length}`,
      );
    }
    let found;
    try {
      found = prefixSearch(sample.importance, search);
    } catch (e) {
      if (e instanceof InputError) {
        throw new InputError(`calibration sample "${sample.id}": ${e.message}`);
      }
      throw e;
    }
    evictRatio = found.evictRatio;
    const result: CalibrationSampleResult = {
      id: sample.id,
      promptLength: found.promptLength,
      p: found.p,
      iterations: found.iterations,
      converged: found.converged,
      evictRatios: found.evictRatios,
    };
    results.push(result);
    onProgress?.(results.length, result);
  }
  if (results.length === 0) throw new InputError("calibration needs at least one sample");
  const numLayers = results[0].evictRatios.length;
  const column = (l: number) => results.map((r) => r.evictRatios[l]);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const evictRatios = Array.from({ length: numLayers }, (_, l) => mean(column(l)));
  const std = evictRatios.map((m, l) => Math.sqrt(mean(column(l).map((x) => (x - m) ** 2))));
  return {
    budget: options.budget,
    evictRatio,
    startSize: options.startSize ?? 1,
    tolerance: options.tolerance ?? 5,
    numLayers,
    evictRatios,
    spread: {
      std,
      min: evictRatios.map((_, l) => Math.min(...column(l))),
      max: evictRatios.map((_, l) => Math.max(...column(l))),
    },
    samples: results,
  };
}

/** Provenance written next to a saved config. */
export interface CalibrationProvenance {
  /** Model name as used in the file name, e.g. `llava-v1.5-7b`. */
  model: string;
  /** Calibration data set name or path. */
  dataset?: string;
  /** Git commit of the toolkit; looked up with `git rev-parse HEAD` when omitted. */
  gitCommit?: string | null;
  /** ISO date; now when omitted. */
  date?: string;
}

/** The sidecar's JSON object for a calibration result. */
export function calibrationMeta(
  result: CalibrationResult,
  provenance: CalibrationProvenance & { gitCommit: string | null; date: string },
): Record<string, unknown> {
  return {
    model: provenance.model,
    budget: result.budget,
    evictRatio: result.evictRatio,
    startSize: result.startSize,
    tolerance: result.tolerance,
    numLayers: result.numLayers,
    dataset: provenance.dataset ?? null,
    dataHash: result.dataHash ?? null,
    samples: result.samples.map((s) => ({
      id: s.id,
      promptLength: s.promptLength,
      p: s.p,
      iterations: s.iterations,
      converged: s.converged,
    })),
    spread: result.spread,
    tool: { name: denoConfig.name, version: denoConfig.version },
    gitCommit: provenance.gitCommit,
    date: provenance.date,
  };
}

/**
 * Saves `prefixkv_{model}_{ρ}.json` (reference format) and `prefixkv_{model}_{ρ}.meta.json`
 * (provenance) in `dir`, creating it if needed.
 *
 * @returns the paths written
 */
export async function saveCalibration(
  dir: string,
  result: CalibrationResult,
  provenance: CalibrationProvenance,
): Promise<{ configPath: string; metaPath: string }> {
  const name = referenceConfigName(provenance.model, result.budget);
  const configPath = join(dir, name);
  const metaPath = join(dir, metaFileName(name));
  const meta = calibrationMeta(result, {
    ...provenance,
    gitCommit: provenance.gitCommit !== undefined ? provenance.gitCommit : await gitCommit(),
    date: provenance.date ?? new Date().toISOString(),
  });
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(configPath, formatReferenceConfig(result.evictRatios));
  await Deno.writeTextFile(metaPath, JSON.stringify(meta, null, 2) + "\n");
  return { configPath, metaPath };
}
