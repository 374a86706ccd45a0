/**
 * The evaluation data of a run: a test split and a calibration split, checked disjoint, with
 * content hashes for the provenance.
 *
 * - Scenes (default): held-out generated scenes (the training script's test split, seed 3) for
 *   testing and a separate `calib` split for calibration. Each scene is asked for its
 *   description (PPL target: the true description; ROUGE-L against the full-cache output) and
 *   its short questions; the generator's geometry gives each object's image patches.
 * - LLaVA-Description or MM-Vet files: the entries in a seeded shuffle (seed 0, as the
 *   reference), the first `samples` for testing, the next `calibration` for calibration.
 *
 * @module
 */
import { preprocessImage } from "../../lib/checkpoint/image.ts";
import { loadLlavaDescription } from "../../lib/data/llava_description.ts";
import { loadMmVet } from "../../lib/data/mm_vet.ts";
import type { ConversationKind } from "../../lib/data/scenes/conversations.ts";
import { generateSplit } from "../../lib/data/scenes/dataset.ts";
import { objectPixelMasks, type Scene, sceneStyle } from "../../lib/data/scenes/generator.ts";
import { STYLE_SPECS, styleForImageSize } from "../../lib/data/scenes/styles.ts";
import type { VqaSample } from "../../lib/data/vqa_sample.ts";
import { InputError } from "../../lib/errors.ts";
import { mulberry32 } from "../../lib/random.ts";
import {
  SCENE_TEST_SEED,
  SCENE_TEST_SPLIT,
  sceneQuestions,
} from "../../lib/metrics/scene_accuracy.ts";
import type { Model } from "../../lib/runtime/model.ts";

/** Split name and seed of the calibration scenes (never used for training or testing). */
export const SCENE_CALIBRATION_SPLIT = "calib";
/** Base seed of the calibration scenes. */
export const SCENE_CALIBRATION_SEED = 5;
/** Seed of the shuffle that orders a data file's entries (the reference shuffles with seed 0). */
export const DATA_SHUFFLE_SEED = 0;

/** Data set kinds. */
export type DataKind = "scenes" | "llava-description" | "mm-vet";

/** Where the data comes from, as validated flags. */
export type DataSource =
  | { kind: "scenes" }
  | { kind: "llava-description" | "mm-vet"; file: string; images: string; skipInvalid: boolean };

/** One evaluation sample, ready to prompt. */
export interface EvalSample {
  /** Stable id (scene id or the entry's id). */
  id: string;
  /** The long-answer question (a description request for scenes). */
  question: string;
  /** The PPL teacher-forcing target. */
  answer: string;
  /** Preprocessed pixels or an image file. */
  image: Float32Array | string;
  /** Scenes only: the scene (for accuracy and object F1). */
  scene?: Scene;
  /** Scenes only: per object, the image-patch indices (row-major) it covers. */
  objectPatches?: number[][];
  /** Scenes only: the short questions. */
  shortQuestions?: { kind: ConversationKind; question: string; expected: string }[];
}

/** Test and calibration samples plus what identifies them. */
export interface EvalData {
  /** Kind of data. */
  kind: DataKind;
  /** Test samples, in evaluation order. */
  test: EvalSample[];
  /** Calibration samples (disjoint from the test samples). */
  calibration: EvalSample[];
  /** Provenance: splits, seeds, hashes, the disjointness check. */
  record: DataRecord;
}

/** What run.json records about the data. */
export interface DataRecord {
  /** Kind of data. */
  kind: DataKind;
  /** Test split description. */
  test: { source: string; count: number; hash: string };
  /** Calibration split description. */
  calibration: { source: string; count: number; hash: string };
  /** The check that no calibration sample is a test sample. */
  disjoint: { checked: "image content" | "image and question"; overlap: number; dropped: number };
  /** Entries skipped as invalid (data files with --skip-invalid). */
  skipped: { index: number; reason: string }[];
  /** sha256 of the data file, when there is one. */
  fileHash?: string;
}

async function sha256(parts: (Uint8Array | string)[]): Promise<string> {
  const enc = new TextEncoder();
  const chunks = parts.map((p) => (typeof p === "string" ? enc.encode(p) : p));
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The image patches each object covers: every pixel the object covers on its own
 * (`objectPixelMasks`, whatever the background under it) mapped to its `patch × patch` cell
 * (row-major, as the vision tower flattens them).
 */
export function objectPatchSets(scene: Scene, patch: number): number[][] {
  const size = STYLE_SPECS[sceneStyle(scene)].imageSize;
  const perRow = size / patch;
  return objectPixelMasks(scene).map((mask) => {
    const cells = new Set<number>();
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (mask[y * size + x]) cells.add(Math.floor(y / patch) * perRow + Math.floor(x / patch));
      }
    }
    return [...cells].sort((a, b) => a - b);
  });
}

function sceneSamples(model: Model, split: string, count: number, seed: number) {
  const processor = model.source.imageProcessor;
  const vision = model.spec.vision;
  if (!processor || !vision) {
    throw new InputError("the scene data needs a vision-language model; give --data for others");
  }
  // Scenes in the style the vision tower reads unresized (the bundled model: basic, 64 px).
  const data = generateSplit(split, count, seed, "word", styleForImageSize(vision.imageSize));
  return data.scenes.map((scene, i) => {
    const qs = sceneQuestions(data.records.filter((r) => r.image === `${scene.id}.png`));
    const describe = qs.find((q) => q.kind === "describe")!;
    const sample: EvalSample = {
      id: scene.id,
      question: describe.question,
      answer: describe.expected,
      image: preprocessImage(data.images[i], processor),
      scene,
      objectPatches: objectPatchSets(
        scene,
        (data.images[i].width / vision.imageSize) * vision.patchSize,
      ),
      shortQuestions: qs.filter((q) => q.kind !== "describe"),
    };
    return { sample, pixels: data.images[i].data };
  });
}

/** Test and calibration scenes; calibration scenes whose image equals a test image are dropped. */
async function loadScenes(model: Model, tests: number, calibrations: number): Promise<EvalData> {
  const test = sceneSamples(model, SCENE_TEST_SPLIT, tests, SCENE_TEST_SEED);
  const testHashes = new Set(await Promise.all(test.map((t) => sha256([t.pixels]))));
  // Generate a few spare calibration scenes so that dropping a collision keeps the count.
  const spare = Math.ceil(calibrations * 0.2) + 2;
  const pool = sceneSamples(
    model,
    SCENE_CALIBRATION_SPLIT,
    calibrations + spare,
    SCENE_CALIBRATION_SEED,
  );
  const calibration: typeof pool = [];
  let dropped = 0;
  for (const c of pool) {
    if (calibration.length === calibrations) break;
    if (testHashes.has(await sha256([c.pixels]))) dropped++;
    else calibration.push(c);
  }
  if (calibration.length < calibrations) {
    throw new Error(`only ${calibration.length} calibration scenes differ from the test scenes`);
  }
  const calHashes = await Promise.all(calibration.map((c) => sha256([c.pixels])));
  const overlap = calHashes.filter((h) => testHashes.has(h)).length;
  if (overlap !== 0) throw new Error(`calibration and test scenes overlap (${overlap})`);
  const hashOf = (xs: typeof pool) =>
    sha256(xs.flatMap((x) => [x.pixels, JSON.stringify(x.sample.scene), x.sample.answer]));
  return {
    kind: "scenes",
    test: test.map((t) => t.sample),
    calibration: calibration.map((c) => c.sample),
    record: {
      kind: "scenes",
      test: {
        source: `scenes ${SCENE_TEST_SPLIT} seed ${SCENE_TEST_SEED}`,
        count: tests,
        hash: await hashOf(test),
      },
      calibration: {
        source: `scenes ${SCENE_CALIBRATION_SPLIT} seed ${SCENE_CALIBRATION_SEED}`,
        count: calibration.length,
        hash: await hashOf(calibration),
      },
      disjoint: { checked: "image content", overlap, dropped },
      skipped: [],
    },
  };
}

/** Validates a data file (before the model loads); returns its entries. */
export function readDataSource(
  source: DataSource,
  onSkip?: (i: number, why: string) => void,
): VqaSample[] {
  if (source.kind === "scenes") return [];
  const load = source.kind === "mm-vet" ? loadMmVet : loadLlavaDescription;
  return load(source.file, { imageDir: source.images, skipInvalid: source.skipInvalid, onSkip })
    .samples;
}

/** Seeded Fisher–Yates shuffle (a copy). */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = xs.slice();
  const rand = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Loads the data of a run. `tests` test samples and `calibrations` calibration samples
 * (0 when no recipe calibrates).
 *
 * @throws InputError when a data file has too few entries for both splits
 */
export async function loadEvalData(
  model: Model,
  source: DataSource,
  tests: number,
  calibrations: number,
  entries?: VqaSample[],
): Promise<EvalData> {
  if (source.kind === "scenes") return loadScenes(model, tests, calibrations);
  const all = entries ?? readDataSource(source);
  if (all.length < tests + calibrations) {
    throw new InputError(
      `${source.file}: ${all.length} usable entries, but ${tests} test and ${calibrations} ` +
        `calibration samples were asked for (lower --samples or --calibration)`,
    );
  }
  const order = shuffled(all, DATA_SHUFFLE_SEED);
  const toSample = (v: VqaSample): EvalSample => ({
    id: v.id,
    question: v.question,
    answer: v.answer,
    image: v.image,
  });
  const test = order.slice(0, tests);
  const calibration = order.slice(tests, tests + calibrations);
  const key = (v: VqaSample) => `${v.image}\n${v.question}`;
  const testKeys = new Set(test.map(key));
  const overlap = calibration.filter((c) => testKeys.has(key(c))).length;
  if (overlap > 0) {
    throw new InputError(
      `${source.file}: ${overlap} calibration entries repeat a test entry's image and question; ` +
        `remove the duplicates`,
    );
  }
  const fileHash = await sha256([Deno.readFileSync(source.file)]);
  const hashOf = (xs: VqaSample[]) => sha256(xs.map((x) => `${x.id}\n${key(x)}\n${x.answer}\n`));
  return {
    kind: source.kind,
    test: test.map(toSample),
    calibration: calibration.map(toSample),
    record: {
      kind: source.kind,
      test: { source: source.file, count: test.length, hash: await hashOf(test) },
      calibration: {
        source: source.file,
        count: calibration.length,
        hash: await hashOf(calibration),
      },
      disjoint: { checked: "image and question", overlap, dropped: 0 },
      skipped: [],
      fileHash,
    },
  };
}
