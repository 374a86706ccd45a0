/**
 * `deno task experiments`: the paper's evaluation in one command (see `--help`), and
 * `deno task experiments merge --out OUT DIR…` to join shards.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { UsageError } from "../../lib/cli/command.ts";
import {
  checkCacheDir,
  choiceFlag,
  MODEL_HELP,
  MODEL_OPTIONS,
  modelSettings,
  numberFlag,
  parseFlagsWithPositionals,
} from "../../lib/cli/flags.ts";
import { errorReport, InputError } from "../../lib/errors.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { SCENE_MAX_NEW_TOKENS } from "../../lib/metrics/scene_accuracy.ts";
import { parseShard } from "./cells.ts";
import { mergeRuns } from "./merge.ts";
import { progressPrinter } from "./progress.ts";
import {
  checkUniqueLabels,
  DEFAULT_CALIBRATION,
  defaultRecipeNames,
  parseRecipeFile,
  presetConfig,
  type RecipeConfig,
} from "./recipes.ts";
import { runExperiments, type RunOptions } from "./runner.ts";
import { type DataSource, readDataSource } from "./samples.ts";
import { prepareOutDir, readJson } from "./store.ts";
import { join } from "node:path";
import type { RunResults } from "./report.ts";
import { writeResults } from "./write_results.ts";

/** Default budgets: 10 % … 90 % kept, as the paper. */
export const DEFAULT_BUDGETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
/** Default test samples. */
export const DEFAULT_SAMPLES = 24;
/** What `--quick` runs: a smoke run of every stage on a few samples. */
export const QUICK = {
  recipes: ["full", "local", "h2o", "prefixkv", "prefixkv-online", "prefixkv-calib1"],
  budgets: [0.2, 0.5],
  samples: 3,
  calibration: 5,
};

const HELP = `Usage: deno task experiments [options]
       deno task experiments merge --out OUT DIR...
       deno task experiments report DIR      (tables and figures again, from the cells)

Regenerates the paper's tables and figures: every recipe × budget (a "cell") over the test
samples: PPL (teacher forcing under the compressed cache), ROUGE-L against the full-cache
output, scene accuracy and object F1 (scenes), what each layer keeps (object-patch recall, image
share), efficiency (time, KV bytes per layer, peak RSS). Offline PrefixKV configs are calibrated
on a calibration split disjoint from the test split. Writes results/<run-id>/: results.md,
results.csv, results.json, figures/*.svg|png, configs/, run.json (provenance). Each cell is
stored when done: rerun the same command to resume.

Data (default: the bundled scenes, test split "test" seed 3, calibration split "calib" seed 5):
  --data FILE                 LLaVA-Description (detail_1k.json) or MM-Vet (mm-vet.json) file
  --data-format F             llava-description or mm-vet (default: from the file name)
  --images DIR                the data's image folder (required with --data)
  --skip-invalid              skip malformed entries (reported) instead of stopping
  --samples N                 test samples (default ${DEFAULT_SAMPLES})
  --calibration N             calibration samples for offline configs (default ${DEFAULT_CALIBRATION})

Recipes and budgets:
  --recipes LIST|FILE         comma-separated names, or a JSON list of configs
                              ({label?, method, importance?, decode?, calibrate?, ...options});
                              default: every recipe and diagnostic preset (see below)
  --budgets LIST              kept fractions, e.g. 0.1,0.5 or 10%,50% (default 10%…90%)
  --max-new-tokens N          most tokens of a long answer (scenes ${SCENE_MAX_NEW_TOKENS}, data files 1024)
  --position-mode M           absolute (default) or paper (layer 0's cache length, as HF 4.31)

Run:
  --out DIR                   results folder (default results/<run-id>)
  --shard i/n                 only every n-th cell starting at the i-th (1-based); join with merge
  --quick                     smoke run: ${QUICK.recipes.join(", ")} at ${
  QUICK.budgets.map((b) => `${b * 100}%`).join(", ")
} on ${QUICK.samples} samples
  --no-figures                skip the SVG/PNG figures
  -h, --help                  this text

${MODEL_HELP}

Presets: ${defaultRecipeNames().join(", ")}.
"prefixkv" is offline (calibrated on ${DEFAULT_CALIBRATION} samples), "prefixkv-online" searches every prompt;
"-mean"/"-window" change the importance, "-no-decode"/"-accumulated" the decode policy,
"-calibN" calibrate on N samples.`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  data: { type: "string" },
  "data-format": { type: "string" },
  images: { type: "string" },
  "skip-invalid": { type: "boolean" },
  samples: { type: "string" },
  calibration: { type: "string" },
  recipes: { type: "string" },
  budgets: { type: "string" },
  "max-new-tokens": { type: "string" },
  "position-mode": { type: "string" },
  out: { type: "string" },
  shard: { type: "string" },
  quick: { type: "boolean" },
  "no-figures": { type: "boolean" },
} as const;

/** Parses `--budgets`: fractions or percentages, each in (0, 1). */
export function parseBudgets(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) throw new UsageError(`--budgets: give at least one budget`);
  const budgets = parts.map((p) => {
    const pct = p.endsWith("%");
    const x = Number(pct ? p.slice(0, -1) : p) / (pct ? 100 : 1);
    if (!Number.isFinite(x) || x <= 0 || x >= 1) {
      throw new UsageError(
        `--budgets: "${p}" is not a kept fraction in (0, 1) (e.g. 0.2 or 20%); ` +
          `the full cache is the "full" recipe`,
      );
    }
    return Math.round(x * 1e6) / 1e6;
  });
  if (new Set(budgets).size !== budgets.length) throw new UsageError(`--budgets: a budget repeats`);
  return budgets;
}

/** Resolves `--recipes`: a JSON file when it names one, else comma-separated preset names. */
export function parseRecipes(text: string | undefined, calibration: number): RecipeConfig[] {
  if (text === undefined) {
    return defaultRecipeNames(calibration).map((n) => presetConfig(n, calibration));
  }
  if (text.endsWith(".json") || existsSync(text)) {
    let body: string;
    try {
      body = Deno.readTextFileSync(text);
    } catch (e) {
      throw new InputError(`--recipes ${text}: cannot read (${(e as Error).message})`);
    }
    return parseRecipeFile(body, text);
  }
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length === 0) throw new UsageError(`--recipes: give recipe names or a JSON file`);
  return checkUniqueLabels(names.map((n) => presetConfig(n, calibration)), "--recipes");
}

function dataSource(a: Record<string, unknown>): DataSource {
  const file = a.data as string | undefined;
  if (file === undefined) {
    if (a.images !== undefined) throw new UsageError(`--images needs --data`);
    return { kind: "scenes" };
  }
  if (a.images === undefined) throw new UsageError(`--data needs --images DIR (the image folder)`);
  if (!existsSync(file)) throw new InputError(`--data ${file}: no such file`);
  const format = choiceFlag("data-format", a["data-format"] as string | undefined, [
    "llava-description",
    "mm-vet",
  ]) ?? (/mm-?vet/i.test(file) ? "mm-vet" : "llava-description");
  return {
    kind: format,
    file,
    images: a.images as string,
    skipInvalid: a["skip-invalid"] === true,
  };
}

/** Parses and validates everything (no model loaded, nothing written). */
export function parseRunArgs(
  args: string[],
): Omit<RunOptions, "entries"> & { model: ReturnType<typeof modelSettings> } {
  const { values: a, positionals } = parseFlagsWithPositionals(args, OPTIONS);
  if (positionals.length) {
    throw new UsageError(`unexpected argument "${positionals[0]}" (see --help)`);
  }
  const quick = a.quick === true;
  const calibration = numberFlag("calibration", a.calibration, { integer: true, min: 1 }) ??
    (quick ? QUICK.calibration : DEFAULT_CALIBRATION);
  const recipes = a.recipes !== undefined || !quick
    ? parseRecipes(a.recipes, calibration)
    : QUICK.recipes.map((n) => presetConfig(n, calibration));
  const data = dataSource(a);
  const model = modelSettings(a);
  // One onnxruntime thread for the bundled model: it is too small to gain from two, and a
  // spinning thread pool is several times slower on a machine others share.
  if (a.threads === undefined && a.model === undefined) model.threads = 1;
  const positionMode = choiceFlag("position-mode", a["position-mode"], ["absolute", "paper"]) ??
    "absolute";
  const maxNewTokens =
    numberFlag("max-new-tokens", a["max-new-tokens"], { integer: true, min: 1 }) ??
      (data.kind === "scenes" ? SCENE_MAX_NEW_TOKENS : 1024);
  return {
    model,
    modelDir: model.dir,
    data,
    recipes,
    budgets: a.budgets !== undefined
      ? parseBudgets(a.budgets)
      : quick
      ? QUICK.budgets
      : DEFAULT_BUDGETS,
    samples: numberFlag("samples", a.samples, { integer: true, min: 1 }) ??
      (quick ? QUICK.samples : DEFAULT_SAMPLES),
    calibration,
    decode: { maxNewTokens, maxShortTokens: 8, positionMode },
    out: a.out,
    shard: a.shard !== undefined ? parseShard(a.shard) : undefined,
    args: { argv: args },
    figures: a["no-figures"] !== true,
  };
}

async function merge(args: string[]): Promise<number> {
  const { values, positionals } = parseFlagsWithPositionals(args, { out: { type: "string" } });
  if (!values.out) throw new UsageError(`merge: give --out OUT for the joined results`);
  const r = await mergeRuns(positionals, values.out);
  console.log(
    `merged ${positionals.length} folders, ${r.cells.length} cells → ${values.out}/results.md`,
  );
  return 0;
}

async function report(args: string[]): Promise<number> {
  const { positionals } = parseFlagsWithPositionals(args, {});
  if (positionals.length !== 1) throw new UsageError(`report: give one results folder`);
  const dir = positionals[0];
  const runFile = join(dir, "run.json");
  if (!existsSync(runFile)) {
    throw new InputError(`report: ${dir} has no run.json (not a results folder)`);
  }
  const run = readJson<RunResults["run"] & { cells: string[] }>(runFile);
  const r = await writeResults(dir, run, run.cells, true);
  console.log(`${r.cells.length} cells → ${join(dir, "results.md")}`);
  return 0;
}

/** Runs the command with `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  try {
    if (args[0] === "merge") return await merge(args.slice(1));
    if (args[0] === "report") return await report(args.slice(1));
    const opts = parseRunArgs(args);
    if (opts.out !== undefined) await prepareOutDir(opts.out); // before the model loads
    await checkCacheDir(opts.model);
    const entries = readDataSource(
      opts.data,
      (i, why) => console.error(`skipping entry ${i}: ${why}`),
    );
    const model = await loadModel(opts.model.dir, opts.model);
    const progress = progressPrinter();
    try {
      const r = await runExperiments(model, { ...opts, entries }, progress);
      progress.finish();
      const run = r.run as { out?: string; durationSeconds?: number };
      console.log(
        `${r.cells.length} cells in ${run.durationSeconds?.toFixed(1)} s → ${run.out}/results.md`,
      );
    } finally {
      await model.close();
    }
    return 0;
  } catch (err) {
    // One report format with the CLI (known problems and file-system causes in one line);
    // input problems exit 2, anything unforeseen 1.
    const name = (err as Error)?.name;
    console.error(`experiments: ${errorReport(err)}`);
    return ["UsageError", "CheckpointError", "InputError", "NumericError"].includes(name) ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
