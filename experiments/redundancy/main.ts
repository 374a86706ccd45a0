/**
 * `deno run -A experiments/redundancy/main.ts`: measures issue 11's targets for a scene model.
 * It runs the experiments runner (full cache and every registered recipe at 50 % and 20 % kept,
 * by default on 200 held-out scenes; resumable like any run), then asks every scene's questions
 * under the full cache and under the redundancy oracle ({@link FixedImagePatchesPolicy}), and
 * writes `redundancy.json` and `redundancy.md` beside the run's results.
 *
 * @module
 */
import { join } from "node:path";
import { preprocessImage } from "../../lib/checkpoint/image.ts";
import { type ConversationKind, splitItems, styleForImageSize } from "../../lib/data/scenes/mod.ts";
import { InputError } from "../../lib/errors.ts";
import {
  SCENE_TEST_SEED,
  SCENE_TEST_SPLIT,
  type SceneAnswer,
  sceneQuestions,
  type SceneScores,
  scoreSceneAnswers,
} from "../../lib/metrics/scene_accuracy.ts";
import { provenance } from "../../lib/provenance.ts";
import { recipeNames } from "../../lib/recipes/registry.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { keepAll } from "../../lib/runtime/cache_policy.ts";
import { generate } from "../../lib/runtime/generate.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import { parseRunArgs } from "../run/main.ts";
import { progressPrinter } from "../run/progress.ts";
import { runExperiments } from "../run/runner.ts";
import { writeJsonAtomic } from "../run/store.ts";
import { FixedImagePatchesPolicy, objectPatchIndices, oraclePatches } from "./oracle.ts";
import {
  checkTargets,
  formatValue,
  giniSpan,
  nllByBudget,
  type SceneScoreSet,
  SCORE_NAMES,
  type TargetCheck,
} from "./targets.ts";

/** Most new tokens of a rich-scene description (six objects: 65 tokens and the end). */
export const RICH_MAX_NEW_TOKENS = 96;

const HELP =
  `Usage: deno run -A experiments/redundancy/main.ts [runner options] [--margin M] [--background-share S]

Measures issue 11's targets on a scene model (default: the bundled tiny LLaVA):
  - full cache: objects fully right, descriptions exact, short questions right;
  - the redundancy oracle: every text position, the object patches with M patches of margin
    (default 1) and a share S (default 0.25) of the other patches spread evenly, evicted once
    after prefill; its scores against the full cache's;
  - mean NLL added (teacher-forced ground-truth descriptions) per registered recipe at each budget,
    the best recipe and the spread;
  - per-layer Gini span, prompt length, image-token share.

Runner options (see deno task experiments --help) pass through; the defaults here differ:
--samples 200, --budgets 0.5,0.2, --recipes every registered recipe, and for a model that reads
the 224-pixel rich scenes --max-new-tokens 96. The run is resumable; the
report goes to <run folder>/redundancy.json and redundancy.md.`;

/** Full-cache and oracle scores of the first `count` test scenes, and the prompts' shape. */
export interface OracleRun {
  /** Full-cache scores. */
  full: SceneScores;
  /** Oracle scores. */
  oracle: SceneScores;
  /** Mean fraction of the description prompt the oracle keeps. */
  oracleKept: number;
  /** Mean description prompt length. */
  promptLength: number;
  /** Mean share of image tokens in the description prompt. */
  imageTokenShare: number;
}

/** Asks every question of `count` test scenes under the full cache and under the oracle. */
export async function runOracle(
  model: Model,
  opts: {
    count: number;
    margin: number;
    backgroundShare: number;
    maxNewTokens: number;
    maxShortTokens: number;
    onScene?: (done: number) => void;
  },
): Promise<OracleRun> {
  const vision = model.spec.vision, processor = model.source.imageProcessor;
  if (!vision || !processor) throw new InputError("the oracle needs a vision-language model");
  const grid = vision.imageSize / vision.patchSize;
  const style = styleForImageSize(vision.imageSize);
  const full: SceneAnswer[] = [], oracle: SceneAnswer[] = [];
  let kept = 0, length = 0, image = 0, done = 0;
  for (const item of splitItems(SCENE_TEST_SPLIT, opts.count, SCENE_TEST_SEED, "word", style)) {
    const pixels = preprocessImage(item.image, processor);
    const patches = oraclePatches(objectPatchIndices(item.scene, grid), {
      grid,
      margin: opts.margin,
      backgroundShare: opts.backgroundShare,
    }).kept;
    for (const q of sceneQuestions(item.records)) {
      const prompt = await chatPrompt(model, { question: q.question, image: pixels });
      const kind: ConversationKind = q.kind;
      const maxNewTokens = kind === "describe" ? opts.maxNewTokens : opts.maxShortTokens;
      const a = await generate(model, prompt, { maxNewTokens, policy: keepAll });
      const policy = new FixedImagePatchesPolicy(patches);
      const b = await generate(model, prompt, { maxNewTokens, policy });
      full.push({ scene: item.scene, ...q, got: a.text });
      oracle.push({ scene: item.scene, ...q, got: b.text });
      if (kind === "describe") {
        const span = prompt.imageSpan!;
        kept += policy.kept.length / prompt.length;
        length += prompt.length;
        image += (span.end - span.start) / prompt.length;
      }
    }
    opts.onScene?.(++done);
  }
  return {
    full: scoreSceneAnswers(full),
    oracle: scoreSceneAnswers(oracle),
    oracleKept: kept / done,
    promptLength: length / done,
    imageTokenShare: image / done,
  };
}

function takeFlag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new InputError(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

function numberArg(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v)) throw new InputError(`${name}: expected a number, got "${text}"`);
  return v;
}

const scoresOf = (s: SceneScores): SceneScoreSet =>
  Object.fromEntries(SCORE_NAMES.map((k) => [k, s[k]])) as unknown as SceneScoreSet;

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** The Markdown report. */
export function reportMarkdown(r: {
  samples: number;
  full: SceneScoreSet;
  oracle: SceneScoreSet;
  oracleKept: number;
  nll: ReturnType<typeof nllByBudget>;
  fullPpl: number;
  gini: number[];
  checks: TargetCheck[];
}): string {
  const lines = [
    `# Issue 11 targets (${r.samples} held-out scenes)`,
    "",
    "| target | measured | bar | met |",
    "|---|---:|---:|---|",
    ...r.checks.map((c) =>
      `| ${c.name} | ${formatValue(c)} | ${c.bar} | ${c.met ? "yes" : "**no**"} |`
    ),
    "",
    `Oracle kept ${pct(r.oracleKept)} of the description prompt.`,
    "",
    "| score | full | oracle |",
    "|---|---:|---:|",
    ...SCORE_NAMES.map((k) => `| ${k} | ${pct(r.full[k])} | ${pct(r.oracle[k])} |`),
    "",
    `Teacher-forced PPL of the ground-truth descriptions, full cache ${r.fullPpl.toFixed(3)}:`,
    "",
    "| budget | recipe | PPL | NLL added (nats) |",
    "|---|---|---:|---:|",
    ...r.nll.flatMap((b) =>
      b.recipes.map((x) =>
        `| ${pct(b.budget)} | ${x.label} | ${x.ppl.toFixed(3)} | ${x.nllAdded.toFixed(3)} |`
      )
    ),
    "",
    ...r.nll.map((b) => `Spread at ${pct(b.budget)}: ${b.spread.toFixed(3)} nats (worst − best).`),
    "",
    `Per-layer Gini: ${r.gini.map((g) => g.toFixed(3)).join(", ")} (span ${
      giniSpan(r.gini).toFixed(3)
    }).`,
    "",
  ];
  return lines.join("\n");
}

/** Runs the command; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  try {
    const args = [...argv];
    const margin = numberArg("--margin", takeFlag(args, "--margin"), 1);
    const share = numberArg("--background-share", takeFlag(args, "--background-share"), 0.25);
    if (!args.includes("--samples")) args.push("--samples", "200");
    if (!args.includes("--budgets")) args.push("--budgets", "0.5,0.2");
    if (!args.includes("--recipes")) args.push("--recipes", recipeNames().join(","));
    const opts = parseRunArgs(args);
    if (opts.model.threads === undefined && !argv.includes("--model")) opts.model.threads = 1;
    const model = await loadModel(opts.model.dir, opts.model);
    try {
      // Rich scenes have up to six objects: a description is up to 66 tokens, past the
      // runner's 48 for the basic scenes.
      const vision = model.spec.vision;
      if (
        vision && styleForImageSize(vision.imageSize) === "rich" &&
        !args.includes("--max-new-tokens")
      ) {
        opts.decode = { ...opts.decode, maxNewTokens: RICH_MAX_NEW_TOKENS };
      }
      const progress = progressPrinter();
      const results = await runExperiments(model, { ...opts, args: { argv } }, progress);
      progress.finish();
      const out = String(results.run.out);
      const t0 = performance.now();
      const oracle = await runOracle(model, {
        count: opts.samples,
        margin,
        backgroundShare: share,
        maxNewTokens: opts.decode.maxNewTokens,
        maxShortTokens: opts.decode.maxShortTokens,
        onScene: (d) => {
          if (d % 10 === 0 || d === opts.samples) {
            const s = (performance.now() - t0) / 1000;
            console.error(`oracle: ${d}/${opts.samples} scenes, ${s.toFixed(0)} s`);
          }
        },
      });
      const fullCell = results.cells.find((c) => c.method === "full");
      if (!fullCell) throw new InputError("--recipes must include full (the PPL reference)");
      const nll = nllByBudget(results.cells, fullCell.ppl);
      const full = scoresOf(oracle.full), orc = scoresOf(oracle.oracle);
      const checks = checkTargets({
        full,
        oracle: orc,
        nll,
        reference: results.reference,
        imageTokenShare: oracle.imageTokenShare,
        promptLength: oracle.promptLength,
      });
      const report = {
        samples: opts.samples,
        margin,
        backgroundShare: share,
        full,
        oracle: orc,
        oracleKept: oracle.oracleKept,
        promptLength: oracle.promptLength,
        imageTokenShare: oracle.imageTokenShare,
        fullPpl: fullCell.ppl,
        nll,
        gini: results.reference.gini,
        giniSpan: giniSpan(results.reference.gini),
        checks,
        provenance: await provenance({ argv }),
      };
      await writeJsonAtomic(join(out, "redundancy.json"), report);
      const md = reportMarkdown({ ...report, samples: opts.samples });
      await Deno.writeTextFile(join(out, "redundancy.md"), md);
      console.log(md);
      console.log(`→ ${out}/redundancy.md`);
    } finally {
      await model.close();
    }
    return 0;
  } catch (err) {
    const e = err as Error;
    const known = ["UsageError", "CheckpointError", "InputError"].includes(e?.name);
    console.error(`redundancy: ${known ? e.message : (e?.stack ?? String(err))}`);
    return known ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
