/**
 * `calibrate`: PrefixKV's offline calibration on a model and a calibration data file; writes a
 * config in the reference's format plus a provenance sidecar. The work is done by
 * `calibrateModel` (lib/calibration/calibrate_model.ts).
 *
 * @module
 */
import { basename, resolve } from "node:path";
import {
  calibrateModel,
  calibrationDataHash,
  calibrationPaths,
  writeCalibration,
} from "../calibration/calibrate_model.ts";
import { chooseSamples, readCalibrationData } from "../prefix/calibration_data.ts";
import { provenance } from "../provenance.ts";
import { parseBudget } from "../prefix/budget.ts";
import { checkOutputPath } from "../output_path.ts";
import type { Command } from "./command.ts";
import {
  MODEL_HELP,
  MODEL_OPTIONS,
  modelFromFlags,
  modelSettings,
  numberFlag,
  parseFlags,
  requireFlags,
  SEARCH_OPTIONS,
  searchSettings,
} from "./flags.ts";

const HELP =
  `Usage: deno task prefixkv calibrate [--model DIR] --data FILE --budget B --samples N --out PATH
                                   [options]

PrefixKV offline calibration: for each sample, prefill its question (the checkpoint's chat
format, with its image) with attention importance, run the global prefix search at budget B,
and average the per-layer eviction ratios. Writes the config (the reference's format: a JSON
list of per-layer eviction fractions), a .meta.json sidecar (settings, p and eviction ratios per
sample, spread per layer, provenance) and a .partial.jsonl resume file: rerunning the same
command skips the samples already done (the file records the model, the data with a hash of
every image, and the settings; one made for anything else is kept as .stale and the run starts
over; a damaged line is dropped and its sample redone). Outputs and images are checked before
any work. One progress line per sample goes to stderr.

Options:
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
  --json               print a JSON summary (paths, mean eviction ratio, per-layer ratios)

${MODEL_HELP}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  data: { type: "string" },
  "image-dir": { type: "string" },
  budget: { type: "string" },
  samples: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  ...SEARCH_OPTIONS,
  json: { type: "boolean" },
} as const;

/** The `calibrate` command. */
export const command: Command = {
  name: "calibrate",
  summary: "PrefixKV offline calibration: per-layer eviction ratios from sample prompts",
  help: HELP,
  async run(args: string[]): Promise<number> {
    const a = parseFlags(args, OPTIONS);
    requireFlags(a, ["data", "budget", "samples", "out"]);
    const budget = parseBudget(a.budget) as { fraction: number };
    const samplesWanted = numberFlag("samples", a.samples, { integer: true, min: 1 })!;
    const seed = numberFlag("seed", a.seed, { integer: true, min: 0 });
    const search = searchSettings(a);
    const modelName = basename(resolve(modelSettings(a).dir)); // also checks the model flags
    const data = await readCalibrationData(a.data!, { imageDir: a["image-dir"] });
    const samples = chooseSamples(data, samplesWanted, seed);
    const paths = calibrationPaths(a.out!, modelName, budget.fraction);
    // Before any work: every output can be written and every chosen sample's image read.
    for (const path of [paths.configPath, paths.metaPath, paths.partialPath]) {
      await checkOutputPath(path, { kind: "file", what: "--out" });
    }
    const dataHash = await calibrationDataHash(samples);

    const model = await modelFromFlags(a);
    try {
      const result = await calibrateModel(model, samples, {
        budget: budget.fraction,
        dataHash,
        ...search,
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
