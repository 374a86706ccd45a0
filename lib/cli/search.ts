/**
 * `prefixkv search`: PrefixKV's global prefix search on a file of per-layer importances, with
 * the reference's semantics (what its `--profile` mode would evict for that sample).
 *
 * @module
 */
import { type Command, UsageError } from "./command.ts";
import { numberFlag, parseFlags, requireFlags, SEARCH_OPTIONS, searchSettings } from "./flags.ts";
import { fileError, InputError, parseJsonInput } from "../errors.ts";
import { budgetOfEvictRatio } from "../prefix/budget.ts";
import { prefixSearch } from "../prefix/search.ts";

const help = `Usage: deno task prefixkv search --scores FILE (--budget B | --ratio R) [options]

Runs PrefixKV's bisection on p for one sample and prints a JSON object with the per-layer
evictions after rescale and floor (evict), kept counts (keep), p, iterations and convergence.

Options:
  --scores FILE      JSON array of L arrays of N non-negative importances (one per layer)
  --budget B         fraction of the KV KEPT, in (0, 1] (preferred)
  --ratio R          the reference's --ratio: fraction EVICTED, in [0, 1) (budget = 1 − R)
  --start-size S     leading positions always kept (default 1, as the reference's evaluation)
  --tolerance T      stop within T tokens of the target, over all layers (default 5)
  --max-iterations I bisection cap (default 100)
  --json             print the JSON on one line (default: indented)`;

const OPTIONS = {
  scores: { type: "string" },
  budget: { type: "string" },
  ratio: { type: "string" },
  ...SEARCH_OPTIONS,
  json: { type: "boolean" },
} as const;

/** The `search` command. */
export const command: Command = {
  name: "search",
  summary: "PrefixKV global prefix search on a JSON file of per-layer importances",
  help,
  async run(args: string[]): Promise<number> {
    const values = parseFlags(args, OPTIONS);
    requireFlags(values, ["scores"]);
    if ((values.budget === undefined) === (values.ratio === undefined)) {
      throw new UsageError(`give exactly one of --budget (fraction kept) or --ratio (evicted)`);
    }
    const budget = values.budget !== undefined
      ? numberFlag("budget", values.budget)!
      : budgetOfEvictRatio(numberFlag("ratio", values.ratio)!);
    const importance = await readScores(values.scores!);
    const result = prefixSearch(importance, { budget, ...searchSettings(values) });
    const out = {
      budget: result.budget,
      ratio: result.evictRatio,
      layers: result.numLayers,
      promptLength: result.promptLength,
      startSize: result.startSize,
      p: result.p,
      iterations: result.iterations,
      converged: result.converged,
      target: result.target,
      evictBeforeRescale: result.evictBeforeRescale,
      evict: result.evict,
      keep: result.keep,
      evictRatios: result.evictRatios,
    };
    console.log(values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
    return 0;
  },
};

async function readScores(path: string): Promise<number[][]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw fileError(path, "read the scores", e, "check --scores");
  }
  const data = parseJsonInput(text, path);
  if (!Array.isArray(data) || !data.every(Array.isArray)) {
    throw new InputError(`${path}: expected a JSON array of per-layer arrays of scores`);
  }
  return data as number[][];
}
