/**
 * `calibrate`: PrefixKV's offline calibration on a model and a calibration data file; writes a
 * config in the reference's format plus a provenance sidecar. The work is done by
 * `calibrateModel` (lib/prefix/calibrate_model.ts).
 *
 * @module
 */
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { calibrateModel, calibrationPaths, writeCalibration } from "../prefix/calibrate_model.ts";
import { chooseSamples, readCalibrationData } from "../prefix/calibration_data.ts";
import { provenance } from "../provenance.ts";
import { parseBudget } from "../recipes/budget.ts";
import { loadModel } from "../runtime/model.ts";
import { parseDevice } from "../runtime/session.ts";
import { type Command, UsageError } from "./command.ts";
import { modelDirOrBundled } from "../bundled.ts";

const HELP =
  `Usage: deno task prefixkv calibrate [--model DIR] --data FILE --budget B --samples N --out PATH
                                   [options]

PrefixKV offline calibration: for each sample, prefill its question (the checkpoint's chat
format, with its image) with attention importance, run the global prefix search at budget B,
and average the per-layer eviction ratios. Writes the config (the reference's format: a JSON
list of per-layer eviction fractions), a .meta.json sidecar (settings, p and eviction ratios per
sample, spread per layer, provenance) and a .partial.jsonl resume file: rerunning the same
command skips the samples already done. One progress line per sample goes to stderr.

Options:
  --model DIR          checkpoint directory (default: the bundled tiny LLaVA)
  --data FILE          JSON list: LLaVA-Description style {id, image, conversations: [{from:
                       "human", value: "<image>\\n…"}, …]}, or text-only {"prompt": …} items,
                       strings, or conversations without <image> (LLaMA models)
  --image-dir DIR      directory of the images (default: the data file's directory)
  --budget B           fraction of the KV kept over all layers: 0.5 or 50%
  --samples N          number of samples: the first N, or N drawn at random with --seed
  --seed S             draw the samples with this seed
  --out PATH           the config file (ending in .json) or a directory for
                       prefixkv_{model}_{1 − B}.json (the reference's name)
  --start-size S       sink tokens always kept (default 1)
  --tolerance T        search tolerance in tokens over all layers (default 5)
  --max-iterations I   bisection steps at most (default 100)
  --device DEV         cpu (default) or cuda
  --cache-dir DIR      graph cache directory (default .cache/prefixkv/graphs)
  --threads N          threads per onnxruntime session
  --json               print a JSON summary (paths, mean eviction ratio, per-layer ratios)`;

const OPTIONS = {
  model: { type: "string" },
  data: { type: "string" },
  "image-dir": { type: "string" },
  budget: { type: "string" },
  samples: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  "start-size": { type: "string" },
  tolerance: { type: "string" },
  "max-iterations": { type: "string" },
  device: { type: "string" },
  "cache-dir": { type: "string" },
  threads: { type: "string" },
  json: { type: "boolean" },
} as const;

function intFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  }
  return n;
}

function required(a: Record<string, unknown>, names: string[]): void {
  const missing = names.filter((n) => a[n] === undefined);
  if (missing.length > 0) {
    throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(", ")} (see --help)`);
  }
}

/** The `calibrate` command. */
export const command: Command = {
  name: "calibrate",
  summary: "PrefixKV offline calibration: per-layer eviction ratios from sample prompts",
  help: HELP,
  async run(args: string[]): Promise<number> {
    let a;
    try {
      a = parseArgs({ args, options: OPTIONS }).values;
    } catch (err) {
      throw new UsageError(`${(err as Error).message} (see --help)`);
    }
    required(a, ["data", "budget", "samples", "out"]);
    const budget = parseBudget(a.budget) as { fraction: number };
    const samplesWanted = intFlag("samples", a.samples, 1)!;
    const seed = intFlag("seed", a.seed, 0);
    const startSize = intFlag("start-size", a["start-size"], 0);
    const maxIterations = intFlag("max-iterations", a["max-iterations"], 1);
    const threads = intFlag("threads", a.threads, 1);
    const tolerance = a.tolerance === undefined ? undefined : Number(a.tolerance);
    if (tolerance !== undefined && !(tolerance > 0)) {
      throw new UsageError(`--tolerance must be a positive number of tokens, got "${a.tolerance}"`);
    }
    const device = parseDevice(a.device ?? "cpu");
    const data = await readCalibrationData(a.data!, { imageDir: a["image-dir"] });
    const samples = chooseSamples(data, samplesWanted, seed);
    const modelName = basename(resolve(modelDirOrBundled(a.model)));
    const paths = calibrationPaths(a.out!, modelName, budget.fraction);

    const model = await loadModel(modelDirOrBundled(a.model), {
      device,
      cacheDir: a["cache-dir"],
      threads,
    });
    try {
      const result = await calibrateModel(model, samples, {
        budget: budget.fraction,
        startSize,
        tolerance,
        maxIterations,
        resumeFile: paths.partialPath,
        onDiscard: (reason) => console.error(`calibrate: ${reason}`),
        onProgress: (p) => {
          const r = p.result;
          console.error(
            `calibrate [${p.done}/${p.total}] ${r.id}: N=${r.promptLength} p=${r.p.toFixed(4)}` +
              `${r.converged ? "" : " (not converged)"} ` +
              `${p.resumed ? "resumed" : `prefill ${p.prefillMs.toFixed(0)} ms`}, ` +
              `elapsed ${(p.elapsedMs / 1000).toFixed(1)} s`,
          );
        },
      });
      await writeCalibration(paths, result, {
        model: modelName,
        dataset: a.data!,
        provenance: await provenance(args),
      });
      const meanEvict = result.evictRatios.reduce((s, x) => s + x, 0) / result.numLayers;
      if (a.json) {
        console.log(JSON.stringify({
          ...paths,
          budget: budget.fraction,
          meanEvictRatio: meanEvict,
          evictRatios: result.evictRatios,
          samples: result.samples.map((s) => ({ id: s.id, p: s.p })),
        }));
      } else {
        console.log(
          `${paths.configPath}: ${result.numLayers} layers, mean eviction ratio ` +
            `${meanEvict.toFixed(4)} (target ${(1 - budget.fraction).toFixed(4)}), ` +
            `${result.samples.length} samples; sidecar ${paths.metaPath}`,
        );
      }
    } finally {
      await model.close();
    }
    return 0;
  },
};
