/**
 * `analyze`: per-layer KV importance of one prompt and its analysis (curves, Lorenz, Gini,
 * image/text shares, PrefixKV's kept counts at a budget), written as JSON. The work is done by
 * `analyzePrompt` (lib/analysis/prompt_analysis.ts).
 *
 * @module
 */
import { analyzePrompt, writePromptAnalysis } from "../analysis/prompt_analysis.ts";
import { provenance } from "../provenance.ts";
import { parseBudget } from "../prefix/budget.ts";
import { LIMITS } from "../limits.ts";
import { checkOutputPath } from "../output_path.ts";
import type { Command } from "./command.ts";
import {
  MODEL_HELP,
  MODEL_OPTIONS,
  modelFromFlags,
  numberFlag,
  parseFlags,
  requireFlags,
  searchSettings,
} from "./flags.ts";

const HELP =
  `Usage: deno task prefixkv analyze [--model DIR] [--image FILE] --prompt TEXT --out DIR [options]

Prefills the prompt (the checkpoint's chat format) with attention importance and writes, into
DIR, importance.json (per-layer importance vectors) and analysis.json (per layer: sampled prefix
priority curve P(o), Lorenz curve, Gini coefficient, image/text share of the importance; with
--budget, PrefixKV's search: p and per-layer kept counts with their modality split). Both files
carry provenance (tool version, git commit, date, runtime versions, arguments).

Options:
  --image FILE         PNG or JPEG image (LLaVA models)
  --prompt TEXT        the question
  --raw                tokenize TEXT as is, no chat format
  --out DIR            output directory (created if needed)
  --budget B           also run PrefixKV's search at this kept fraction (0.2 or 20%)
  --start-size S       sink tokens always kept by the search (default 1)
  --tolerance T        search tolerance in tokens over all layers (default 5)
  --points P           samples of each curve in [0, 1] (default 101, at most 10001)
  --json               print a JSON summary (paths, Gini per layer, p)

${MODEL_HELP}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  image: { type: "string" },
  prompt: { type: "string" },
  raw: { type: "boolean" },
  out: { type: "string" },
  budget: { type: "string" },
  "start-size": { type: "string" },
  tolerance: { type: "string" },
  points: { type: "string" },
  json: { type: "boolean" },
} as const;

/** The `analyze` command. */
export const command: Command = {
  name: "analyze",
  summary: "per-layer KV importance, priority curves, Lorenz/Gini and PrefixKV counts as JSON",
  help: HELP,
  async run(args: string[]): Promise<number> {
    const a = parseFlags(args, OPTIONS);
    requireFlags(a, ["prompt", "out"]);
    const budget = a.budget === undefined
      ? undefined
      : (parseBudget(a.budget) as { fraction: number }).fraction;
    const { startSize, tolerance } = searchSettings(a);
    const points = numberFlag("points", a.points, {
      integer: true,
      min: 2,
      max: LIMITS.curvePoints,
    });
    await checkOutputPath(a.out!, { kind: "folder", what: "--out" });

    const model = await modelFromFlags(a);
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
