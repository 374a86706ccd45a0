/**
 * `scenes`: writes one split of the procedural scene data set (PNGs + LLaVA-style JSON).
 *
 * @module
 */
import type { Command } from "./command.ts";
import { choiceFlag, numberFlag, parseFlags, requireFlags } from "./flags.ts";
import { writeSplit } from "../data/scenes/dataset.ts";
import { SCENE_STYLES } from "../data/scenes/styles.ts";
import { checkFileNamePart } from "../file_names.ts";
import { LIMITS } from "../limits.ts";
import { checkOutputPath } from "../output_path.ts";

const HELP = `Usage: deno task scenes --out DIR --split NAME --count N --seed S

Writes N procedurally generated 64×64 scenes (1–4 shapes on a 3×3 grid) and their conversations.

Options:
  --out DIR     output folder (created if missing)
  --split NAME  split name, e.g. train, calib or test (folded into every scene's seed; letters,
                digits, ".", "_" and "-": it names the files)
  --count N     number of scenes (default 100, at most 1000000)
  --seed S      base seed, an integer (default 0)
  --answers A   short-answer style: word ("Yellow.", default) or sentence ("The square is yellow.")
  --style S     basic (default: 64×64, 1–4 objects on flat grey, the bundled model's scenes) or
                rich (224×224, 2–6 objects on a varied grey texture, for a model with 196–256
                image tokens)

Writes DIR/images/<id>.png, DIR/<split>.json (LLaVA detail_1k layout), DIR/<split>_scenes.json
(true objects) and DIR/<split>_images.bin (raw uint8 [N,S,S,3], S = 64 or 224), one scene at a
time.
Calibrate on the result with --data DIR/<split>.json --image-dir DIR/images.`;

const OPTIONS = {
  out: { type: "string" },
  split: { type: "string" },
  count: { type: "string" },
  seed: { type: "string" },
  answers: { type: "string" },
  style: { type: "string" },
} as const;

/** The `scenes` command. */
export const command: Command = {
  name: "scenes",
  summary: "write a split of the procedural scene data set",
  help: HELP,
  async run(args: string[]): Promise<number> {
    const a = parseFlags(args, OPTIONS);
    requireFlags(a, ["out", "split"]);
    const count = numberFlag("count", a.count, { integer: true, min: 0, max: LIMITS.sceneCount }) ??
      100;
    const seed = numberFlag("seed", a.seed, { integer: true, min: 0 }) ?? 0;
    const answers = choiceFlag("answers", a.answers, ["word", "sentence"] as const) ?? "word";
    const style = choiceFlag("style", a.style, SCENE_STYLES) ?? "basic";
    checkFileNamePart(a.split!, "--split");
    await checkOutputPath(a.out!, { kind: "folder", what: "--out" });
    const t0 = performance.now();
    const every = Math.max(1000, Math.ceil(count / 20));
    const summary = await writeSplit({
      out: a.out!,
      split: a.split!,
      count,
      seed,
      answers,
      style,
      onProgress: (done, total) => {
        if (done % every === 0 && done < total) {
          const s = (performance.now() - t0) / 1000;
          console.error(`scenes: ${done}/${total}, ${s.toFixed(1)} s`);
        }
      },
    });
    console.log(
      `wrote ${summary.scenes} scenes and ${summary.records} conversations to ${a.out} ` +
        `(images in ${summary.files.imageDir})`,
    );
    return 0;
  },
};
