/**
 * `analyze`: per-layer KV importance of one prompt and its analysis (curves, Lorenz, Gini,
 * image/text shares, PrefixKV's kept counts at a budget), written as JSON. The work is done by
 * `analyzePrompt` (lib/analysis/prompt_analysis.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { analyzePrompt, writePromptAnalysis } from "../analysis/prompt_analysis.ts";
import { provenance } from "../provenance.ts";
import { parseBudget } from "../recipes/budget.ts";
import { loadModel } from "../runtime/model.ts";
import { parseDevice } from "../runtime/session.ts";
import { type Command, UsageError } from "./command.ts";
import { modelDirOrBundled } from "../bundled.ts";

const HELP =
  `Usage: deno task prefixkv analyze [--model DIR] [--image FILE] --prompt TEXT --out DIR [options]

Prefills the prompt (the checkpoint's chat format) with attention importance and writes, into
DIR, importance.json (per-layer importance vectors) and analysis.json (per layer: sampled prefix
priority curve P(o), Lorenz curve, Gini coefficient, image/text share of the importance; with
--budget, PrefixKV's search: p and per-layer kept counts with their modality split). Both files
carry provenance (tool version, git commit, date, runtime versions, arguments).

Options:
  --model DIR          checkpoint directory (default: the bundled tiny LLaVA)
  --image FILE         PNG or JPEG image (LLaVA models)
  --prompt TEXT        the question
  --raw                tokenize TEXT as is, no chat format
  --out DIR            output directory (created if needed)
  --budget B           also run PrefixKV's search at this kept fraction (0.2 or 20%)
  --start-size S       sink tokens always kept by the search (default 1)
  --tolerance T        search tolerance in tokens over all layers (default 5)
  --points P           samples of each curve in [0, 1] (default 101)
  --device DEV         cpu (default) or cuda
  --cache-dir DIR      graph cache directory (default .cache/prefixkv/graphs)
  --threads N          threads per onnxruntime session
  --json               print a JSON summary (paths, Gini per layer, p)`;

const OPTIONS = {
  model: { type: "string" },
  image: { type: "string" },
  prompt: { type: "string" },
  raw: { type: "boolean" },
  out: { type: "string" },
  budget: { type: "string" },
  "start-size": { type: "string" },
  tolerance: { type: "string" },
  points: { type: "string" },
  device: { type: "string" },
  "cache-dir": { type: "string" },
  threads: { type: "string" },
  json: { type: "boolean" },
} as const;

function numberFlag(name: string, value: string | undefined, integer: boolean, min: number) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !(n >= min) || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got "${value}"`,
    );
  }
  return n;
}

/** The `analyze` command. */
export const command: Command = {
  name: "analyze",
  summary: "per-layer KV importance, priority curves, Lorenz/Gini and PrefixKV counts as JSON",
  help: HELP,
  async run(args: string[]): Promise<number> {
    let a;
    try {
      a = parseArgs({ args, options: OPTIONS }).values;
    } catch (err) {
      throw new UsageError(`${(err as Error).message} (see --help)`);
    }
    const missing = (["prompt", "out"] as const).filter((n) => a[n] === undefined);
    if (missing.length > 0) {
      throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(", ")} (see --help)`);
    }
    const budget = a.budget === undefined
      ? undefined
      : (parseBudget(a.budget) as { fraction: number }).fraction;
    const startSize = numberFlag("start-size", a["start-size"], true, 0);
    const tolerance = numberFlag("tolerance", a.tolerance, false, Number.MIN_VALUE);
    const points = numberFlag("points", a.points, true, 2);
    const threads = numberFlag("threads", a.threads, true, 1);
    const device = parseDevice(a.device ?? "cpu");

    const model = await loadModel(modelDirOrBundled(a.model), {
      device,
      cacheDir: a["cache-dir"],
      threads,
    });
    try {
      const result = await analyzePrompt(
        model,
        { question: a.prompt!, image: a.image, raw: a.raw },
        { budget, startSize, tolerance, points },
      );
      const files = await writePromptAnalysis(a.out!, result, await provenance(args));
      const gini = result.analysis.layers.map((l) => l.gini);
      const p = result.analysis.search?.p;
      if (a.json) {
        console.log(JSON.stringify({
          ...files,
          promptLength: result.promptLength,
          imageSpan: result.imageSpan,
          gini,
          p: p ?? null,
          keep: result.analysis.search?.keep ?? null,
        }));
      } else {
        console.log(
          `${files.importancePath}, ${files.analysisPath}: ${gini.length} layers, N = ` +
            `${result.promptLength}, Gini ${Math.min(...gini).toFixed(3)}–` +
            `${Math.max(...gini).toFixed(3)}${p === undefined ? "" : `, p = ${p.toFixed(4)}`}`,
        );
      }
    } finally {
      await model.close();
    }
    return 0;
  },
};
