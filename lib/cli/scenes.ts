/**
 * `scenes`: writes one split of the procedural scene data set (PNGs + LLaVA-style JSON).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Command, UsageError } from "./command.ts";
import { writeSplit } from "../data/scenes/dataset.ts";

const HELP = `Usage: deno task scenes --out DIR --split NAME --count N --seed S

Writes N procedurally generated 64×64 scenes (1–4 shapes on a 3×3 grid) and their conversations.

Options:
  --out DIR     output folder (created if missing)
  --split NAME  split name, e.g. train, calib or test (folded into every scene's seed)
  --count N     number of scenes (default 100)
  --seed S      base seed, an integer (default 0)
  --answers A   short-answer style: word ("Yellow.", default) or sentence ("The square is yellow.")

Writes DIR/images/<id>.png, DIR/<split>.json (LLaVA detail_1k layout), DIR/<split>_scenes.json
(true objects) and DIR/<split>_images.bin (raw uint8 [N,64,64,3]).`;

function intArg(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new UsageError(`--${name} must be a non-negative integer, got "${value}"`);
  }
  return n;
}

/** The `scenes` command. */
export const command: Command = {
  name: "scenes",
  summary: "write a split of the procedural scene data set",
  help: HELP,
  async run(args: string[]): Promise<number> {
    // node:util's parser (strict) rejects unknown options; it needs no registry download.
    let a: { out?: string; split?: string; count?: string; seed?: string; answers?: string };
    try {
      a = parseArgs({
        args,
        options: {
          out: { type: "string" },
          split: { type: "string" },
          count: { type: "string" },
          seed: { type: "string" },
          answers: { type: "string" },
        },
      }).values;
    } catch (err) {
      throw new UsageError(`${(err as Error).message} (see --help)`);
    }
    if (!a.out) throw new UsageError("--out DIR is required (see --help)");
    if (!a.split) throw new UsageError("--split NAME is required, e.g. --split train");
    const count = intArg("count", a.count, 100), seed = intArg("seed", a.seed, 0);
    const answers = a.answers ?? "word";
    if (answers !== "word" && answers !== "sentence") {
      throw new UsageError(`--answers must be "word" or "sentence", got "${answers}"`);
    }
    const data = await writeSplit({ out: a.out, split: a.split, count, seed, answers });
    console.log(
      `wrote ${data.scenes.length} scenes and ${data.records.length} conversations to ${a.out}`,
    );
    return 0;
  },
};
