/**
 * Quality of a vision-language model on held-out generated scenes: greedy answers to every
 * scene's description request and short questions (count, colour, place, presence), scored with
 * the scene parser. This is the quality bar of the bundled tiny LLaVA, and, with a retention
 * recipe and budget, "quality under compression" for the experiments.
 *
 * Scenes are generated in memory (no files) with the same split name and seed as the training
 * script's test split (`deno task scenes --split test --seed 3`), so the numbers are on scenes
 * the model never trained on. Images go through the checkpoint's own preprocessing and prompts
 * through its chat format ({@link chatPrompt}), exactly as a user's image and question would.
 *
 * Scoring is the pure {@link scoreSceneAnswers}, so it can be checked by hand without a model.
 *
 * @module
 */
import { preprocessImage } from "../checkpoint/image.ts";
import type { ConversationKind, ConversationRecord } from "../data/scenes/conversations.ts";
import { splitItems } from "../data/scenes/dataset.ts";
import type { Scene } from "../data/scenes/generator.ts";
import { answersMatch, type DescriptionScore, scoreDescription } from "../data/scenes/parser.ts";
import { InputError } from "../errors.ts";
import { type Provenance, provenance } from "../provenance.ts";
import { type Budget, budgetLabel } from "../prefix/budget.ts";
import { createRecipe } from "../recipes/registry.ts";
import type { RecipeConfig } from "../recipes/method.ts";
import type { Recipe } from "../recipes/recipe.ts";
import { chatPrompt } from "../runtime/chat_prompt.ts";
import { generate, type PositionMode } from "../runtime/generate.ts";
import type { Model } from "../runtime/model.ts";

/** Split name of the held-out scenes (the training script's test split). */
export const SCENE_TEST_SPLIT = "test";
/** Base seed of the held-out scenes (`deno task scenes --split test --seed 3` in training). */
export const SCENE_TEST_SEED = 3;
/** Enough new tokens for the longest description (4 objects: 45 words plus `</s>`). */
export const SCENE_MAX_NEW_TOKENS = 48;

/** Conversation kinds in the order every scene asks them. */
export const SCENE_KINDS: readonly ConversationKind[] = [
  "describe",
  "count",
  "color",
  "place",
  "presence",
];

/** One question asked about a scene and the model's answer. */
export interface SceneAnswer {
  /** The scene the question is about. */
  scene: Scene;
  /** Which kind of question. */
  kind: ConversationKind;
  /** The question, without the image placeholder. */
  question: string;
  /** The reference answer. */
  expected: string;
  /** The model's answer (decoded text). */
  got: string;
}

/** One scored answer, as kept in {@link SceneAccuracy.samples}. */
export interface ScoredAnswer {
  /** Scene id, e.g. `test-000007`. */
  sceneId: string;
  kind: ConversationKind;
  question: string;
  expected: string;
  got: string;
  /** Descriptions: exactly right; short questions: the answer matches. */
  right: boolean;
  /** Descriptions only: the parser's score. */
  description?: DescriptionScore;
}

/** Right answers out of asked ones for one kind. */
export interface KindScore {
  right: number;
  total: number;
  /** right / total (0 when nothing was asked). */
  accuracy: number;
}

/** Raw counts behind the ratios of {@link SceneScores}. */
export interface SceneCounts {
  scenes: number;
  descriptions: number;
  /** True objects over all described scenes. */
  objects: number;
  /** True objects stated with shape, colour, size and place right. */
  objectsRight: number;
  /** Descriptions that state no object absent from the scene. */
  descriptionsWithoutInventedObject: number;
  /** Descriptions that are exactly right (count, objects, nothing extra). */
  descriptionsExact: number;
  shortQuestions: number;
  shortQuestionsRight: number;
}

/** Scores of a set of answers (see {@link scoreSceneAnswers}). */
export interface SceneScores {
  /** Fraction of true objects described fully right (shape, colour, size, place). */
  objectsFullyRight: number;
  /** Fraction of descriptions with no invented (absent or wrongly described) object. */
  descriptionsWithoutInventedObject: number;
  /** Fraction of descriptions that are exactly right. */
  descriptionsExact: number;
  /** Fraction of short questions answered right. */
  shortQuestionsRight: number;
  /** Per kind; `describe` counts exact descriptions. */
  byKind: Partial<Record<ConversationKind, KindScore>>;
  counts: SceneCounts;
  /** The first answers in order (scene by scene, kinds in {@link SCENE_KINDS} order). */
  samples: ScoredAnswer[];
}

/** Everything {@link evaluateScenes} reports. */
export interface SceneAccuracy extends SceneScores {
  /** Split, seed and count of the scenes, the decoding settings and the retention recipe. */
  setup: {
    split: string;
    seed: number;
    count: number;
    maxNewTokens: number;
    positionMode: PositionMode;
    /** Recipe label, e.g. `full@100%` or `snapkv@20%`. */
    recipe: string;
    /** The recipe's canonical config (null for a composition no method describes). */
    recipeConfig: RecipeConfig | null;
    /** The budget it ran at. */
    budget: Budget;
  };
  /** Wall-clock seconds of the whole evaluation and scenes per second. */
  timing: { seconds: number; scenesPerSecond: number; generatedTokens: number };
  provenance: Provenance;
}

/** Progress of {@link evaluateScenes}, reported after every scene. */
export interface SceneProgress {
  /** Scenes finished. */
  done: number;
  /** Scenes to do. */
  total: number;
  /** Seconds since the start. */
  seconds: number;
  /** Running fraction of objects fully right (0 before any description). */
  objectsFullyRight: number;
  /** Running fraction of short questions right. */
  shortQuestionsRight: number;
}

/** Options of {@link evaluateScenes}. */
export interface SceneEvalOptions {
  /** Split name (default {@link SCENE_TEST_SPLIT}, the held-out scenes). */
  split?: string;
  /** Number of scenes (default 200). */
  count?: number;
  /** Base seed (default {@link SCENE_TEST_SEED}). */
  seed?: number;
  /** Retention recipe (default: `full`, no compression), e.g. `createRecipe("snapkv")`. */
  recipe?: Recipe;
  /** Budget the recipe runs at (default: the recipe's own, e.g. 100 % for `full`). */
  budget?: Budget;
  /** Most new tokens per answer (default {@link SCENE_MAX_NEW_TOKENS}). */
  maxNewTokens?: number;
  /** RoPE positions of decoded tokens (default `absolute`). */
  positionMode?: PositionMode;
  /** How many scored answers to keep in `samples` (default 10). */
  sampleCount?: number;
  /** Called after every scene. */
  onProgress?: (p: SceneProgress) => void;
  /** Arguments recorded in the provenance (default: the options themselves, minus callbacks). */
  provenanceArgs?: unknown;
}

/** The questions of a scene's conversation records, in {@link SCENE_KINDS} order. */
export function sceneQuestions(
  records: readonly ConversationRecord[],
): { kind: ConversationKind; question: string; expected: string }[] {
  return records.map((r) => ({
    kind: r.kind,
    // The records carry LLaVA's "<image>\n" prefix; the chat format puts the image back.
    question: r.conversations[0].value.replace(/^<image>\n/, ""),
    expected: r.conversations[1].value,
  }));
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Running counts of scored answers; {@link scoreSceneAnswers} and the evaluation share it. */
class Tally {
  readonly counts: SceneCounts = {
    scenes: 0,
    descriptions: 0,
    objects: 0,
    objectsRight: 0,
    descriptionsWithoutInventedObject: 0,
    descriptionsExact: 0,
    shortQuestions: 0,
    shortQuestionsRight: 0,
  };
  readonly byKind: Partial<Record<ConversationKind, KindScore>> = {};
  readonly samples: ScoredAnswer[] = [];
  #scenes = new Set<string>();

  constructor(readonly sampleCount: number) {}

  add(a: SceneAnswer): void {
    const c = this.counts;
    let right: boolean;
    let description: DescriptionScore | undefined;
    if (a.kind === "describe") {
      description = scoreDescription(a.scene, a.got);
      right = description.exact;
      c.descriptions++;
      c.objects += description.objectsTotal;
      c.objectsRight += description.objectsRight;
      if (description.invented === 0) c.descriptionsWithoutInventedObject++;
      if (description.exact) c.descriptionsExact++;
    } else {
      right = answersMatch(a.expected, a.got);
      c.shortQuestions++;
      if (right) c.shortQuestionsRight++;
    }
    this.#scenes.add(a.scene.id);
    c.scenes = this.#scenes.size;
    const k = this.byKind[a.kind] ??= { right: 0, total: 0, accuracy: 0 };
    k.total++;
    if (right) k.right++;
    k.accuracy = k.right / k.total;
    if (this.samples.length < this.sampleCount) {
      const { scene, kind, question, expected, got } = a;
      this.samples.push({
        sceneId: scene.id,
        kind,
        question,
        expected,
        got,
        right,
        ...(description && { description }),
      });
    }
  }

  get objectsFullyRight(): number {
    return ratio(this.counts.objectsRight, this.counts.objects);
  }

  get shortQuestionsRight(): number {
    return ratio(this.counts.shortQuestionsRight, this.counts.shortQuestions);
  }

  scores(): SceneScores {
    const c = this.counts;
    return {
      objectsFullyRight: this.objectsFullyRight,
      descriptionsWithoutInventedObject: ratio(c.descriptionsWithoutInventedObject, c.descriptions),
      descriptionsExact: ratio(c.descriptionsExact, c.descriptions),
      shortQuestionsRight: this.shortQuestionsRight,
      byKind: this.byKind,
      counts: c,
      samples: this.samples,
    };
  }
}

/**
 * Scores answers (pure): descriptions with `scoreDescription` (objects fully right, invented
 * objects, exact), short answers with `answersMatch`. Keeps the first `sampleCount` scored
 * answers as samples.
 */
export function scoreSceneAnswers(
  answers: readonly SceneAnswer[],
  sampleCount = 10,
): SceneScores {
  const tally = new Tally(sampleCount);
  for (const a of answers) tally.add(a);
  return tally.scores();
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new InputError(`${name} must be a positive integer, got ${v}`);
  }
  return v;
}

/**
 * Generates `count` scenes of `split` in memory, asks `model` every scene's questions with
 * greedy decoding (under the retention recipe, if any) and scores the answers.
 *
 * @throws InputError when the model takes no images or has no tokenizer, or on bad options
 */
export async function evaluateScenes(
  model: Model,
  opts: SceneEvalOptions = {},
): Promise<SceneAccuracy> {
  const split = opts.split ?? SCENE_TEST_SPLIT;
  const seed = opts.seed ?? SCENE_TEST_SEED;
  const count = positiveInteger("count", opts.count ?? 200);
  const maxNewTokens = positiveInteger("maxNewTokens", opts.maxNewTokens ?? SCENE_MAX_NEW_TOKENS);
  const positionMode = opts.positionMode ?? "absolute";
  if (!Number.isInteger(seed)) throw new InputError(`seed must be an integer, got ${seed}`);
  const processor = model.source.imageProcessor;
  if (!model.spec.vision || !processor) {
    throw new InputError(
      `scene evaluation needs a vision-language model with an image processor; this ` +
        `${model.spec.modelType} model takes no images`,
    );
  }
  if (!model.source.tokenizer) {
    throw new InputError(`scene evaluation needs the checkpoint's tokenizer; this model has none`);
  }
  const recipe = opts.recipe ?? createRecipe("full");
  const budget = opts.budget ?? recipe.defaultBudget;
  if (!budget) {
    throw new InputError(
      `scene evaluation: recipe ${recipe.name} needs a budget, e.g. { fraction: 0.2 }`,
    );
  }
  const policy = recipe.policy(budget);

  const tally = new Tally(opts.sampleCount ?? 10);
  let generatedTokens = 0;
  const t0 = performance.now();
  let i = 0;
  // One scene at a time: memory stays flat whatever the count.
  for (const { scene, image, records } of splitItems(split, count, seed)) {
    const pixels = preprocessImage(image, processor);
    for (const q of sceneQuestions(records)) {
      const prompt = await chatPrompt(model, { question: q.question, image: pixels });
      const out = await generate(model, prompt, { maxNewTokens, policy, positionMode });
      generatedTokens += out.ids.length;
      tally.add({ scene, ...q, got: out.text });
    }
    opts.onProgress?.({
      done: ++i,
      total: count,
      seconds: (performance.now() - t0) / 1000,
      objectsFullyRight: tally.objectsFullyRight,
      shortQuestionsRight: tally.shortQuestionsRight,
    });
  }
  const seconds = (performance.now() - t0) / 1000;

  const { onProgress: _cb, recipe: _recipe, ...plainOptions } = opts;
  return {
    ...tally.scores(),
    setup: {
      split,
      seed,
      count,
      maxNewTokens,
      positionMode,
      recipe: `${recipe.name}@${budgetLabel(budget)}`,
      recipeConfig: recipe.config ?? null,
      budget,
    },
    timing: { seconds, scenesPerSecond: ratio(count, seconds), generatedTokens },
    provenance: await provenance(
      opts.provenanceArgs ?? { ...plainOptions, recipe: recipe.config ?? recipe.describeParts() },
    ),
  };
}
