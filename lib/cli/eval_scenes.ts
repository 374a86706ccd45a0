/**
 * `eval-scenes`: quality of a model on held-out generated scenes (objects fully right,
 * descriptions with no invented object, short questions right), optionally under a KV retention
 * recipe. The work is {@link evaluateScenes}; this file parses, calls and prints.
 *
 * @module
 */
import {
  evaluateScenes,
  SCENE_MAX_NEW_TOKENS,
  SCENE_TEST_SEED,
  SCENE_TEST_SPLIT,
  type SceneAccuracy,
} from "../metrics/scene_accuracy.ts";
import { LIMITS } from "../limits.ts";
import { checkOutputPath, writeTextFileAtomic } from "../output_path.ts";
import type { Command } from "./command.ts";
import {
  MODEL_HELP,
  MODEL_OPTIONS,
  modelFromFlags,
  modelSettings,
  numberFlag,
  parseFlags,
} from "./flags.ts";
import { recipeFromArgs } from "../recipes/from_args.ts";
import { RECIPE_OPTIONS, recipeArgsFromFlags, recipeHelp } from "./recipes.ts";

const HELP = `Usage: deno task prefixkv eval-scenes [--model DIR] [options]

Greedy answers to the held-out generated scenes (split "${SCENE_TEST_SPLIT}", seed ${SCENE_TEST_SEED}: the
training script's test split, made in memory): one description per scene plus its short
questions (count, colour, place, presence), scored with the scene parser. Prints the fraction of
objects described fully right, of descriptions with no invented object, and of short questions
answered right; progress goes to stderr.

Options:
  --count N                   number of scenes (default 200)
  --seed S                    base seed of the scenes (default ${SCENE_TEST_SEED})
  --split NAME                split name (default ${SCENE_TEST_SPLIT})
  --max-new-tokens N          most tokens per answer (default ${SCENE_MAX_NEW_TOKENS})
  --samples N                 scored answers kept in the JSON (default 10)
  --out FILE                  write the full result (with provenance) as JSON
  --json                      print the full result as JSON instead of the summary
  -h, --help                  this text

${MODEL_HELP}

${recipeHelp()}`;

/** Options of the command as parsed (strings until validated). */
export const OPTIONS = {
  ...MODEL_OPTIONS,
  count: { type: "string" },
  seed: { type: "string" },
  split: { type: "string" },
  "max-new-tokens": { type: "string" },
  samples: { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
  ...RECIPE_OPTIONS,
} as const;

/** An integer flag with a default. */
function integer(name: string, value: string | undefined, fallback: number, min: number): number {
  return numberFlag(name, value, { integer: true, min }) ?? fallback;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The human-readable summary of a result. */
export function formatSummary(r: SceneAccuracy): string {
  const c = r.counts;
  const kinds = Object.entries(r.byKind)
    .map(([k, s]) => `${k} ${s!.right}/${s!.total}`)
    .join(", ");
  return [
    `scenes: ${c.scenes} (${r.setup.split}, seed ${r.setup.seed}), recipe ${r.setup.recipe}`,
    `objects fully right:              ${
      pct(r.objectsFullyRight)
    } (${c.objectsRight}/${c.objects})`,
    `descriptions, no invented object: ${
      pct(r.descriptionsWithoutInventedObject)
    } (${c.descriptionsWithoutInventedObject}/${c.descriptions})`,
    `short questions right:            ${
      pct(r.shortQuestionsRight)
    } (${c.shortQuestionsRight}/${c.shortQuestions})`,
    `descriptions exact:               ${
      pct(r.descriptionsExact)
    } (${c.descriptionsExact}/${c.descriptions})`,
    `by kind: ${kinds}`,
    `time: ${r.timing.seconds.toFixed(1)} s, ${r.timing.scenesPerSecond.toFixed(2)} scenes/s`,
  ].join("\n");
}

/** The `eval-scenes` command. */
export const command: Command = {
  name: "eval-scenes",
  summary: "quality on held-out generated scenes (objects, invented objects, short questions)",
  help: HELP,
  async run(args: string[]): Promise<number> {
    const a = parseFlags(args, OPTIONS);
    const count = numberFlag("count", a.count, { integer: true, min: 1, max: LIMITS.sceneCount }) ??
      200;
    const seed = integer("seed", a.seed, SCENE_TEST_SEED, 0);
    const maxNewTokens = integer("max-new-tokens", a["max-new-tokens"], SCENE_MAX_NEW_TOKENS, 1);
    const sampleCount = integer("samples", a.samples, 10, 0);
    const modelDir = modelSettings(a).dir; // also checks the model flags
    // Bad recipe flags fail before the model loads.
    const { recipe, budget } = recipeFromArgs(recipeArgsFromFlags(a));
    // The result file is checked now, not found unwritable after the whole evaluation.
    if (a.out !== undefined) await checkOutputPath(a.out, { kind: "file", what: "--out" });

    const model = await modelFromFlags(a);
    let result: SceneAccuracy;
    try {
      const tty = Deno.stderr.isTerminal();
      result = await evaluateScenes(model, {
        split: a.split,
        count,
        seed,
        recipe,
        budget,
        maxNewTokens,
        sampleCount,
        provenanceArgs: { command: "eval-scenes", args, model: modelDir },
        onProgress: (p) => {
          // One rewritten line on a terminal; every tenth scene otherwise (logs stay short).
          if (!tty && p.done % 10 !== 0 && p.done !== p.total) return;
          const line = `eval-scenes: ${p.done}/${p.total} scenes, ${p.seconds.toFixed(1)} s, ` +
            `objects ${pct(p.objectsFullyRight)}, short ${pct(p.shortQuestionsRight)}`;
          if (tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}\x1b[K`));
          else console.error(line);
        },
      });
      if (tty) console.error("");
    } finally {
      await model.close();
    }
    if (a.out !== undefined) {
      try {
        await writeTextFileAtomic(a.out, JSON.stringify(result, null, 1) + "\n");
      } catch (err) {
        // The path was checked before the run; if writing still fails (disk full, removed
        // folder), the evaluation is not lost: the full result goes to stdout.
        console.log(JSON.stringify(result));
        throw err;
      }
    }
    console.log(a.json ? JSON.stringify(result) : formatSummary(result));
    return 0;
  },
};
