/**
 * Writes one split of the scene data set: PNG images, the conversation file (detail_1k layout),
 * the ground-truth objects and a raw uint8 tensor of all images for fast loading in Python.
 *
 * @module
 */
import { encode } from "fast-png";
import { join } from "node:path";
import { hashString, mixSeed, Prng } from "../../random.ts";
import { type AnswerStyle, type ConversationRecord, conversationsFor } from "./conversations.ts";
import { generateScene, renderScene, type Scene } from "./generator.ts";
import type { RgbImage } from "./rasterizer.ts";
import { IMAGE_SIZE } from "./vocabulary.ts";

/** Options of {@link writeSplit}. */
export interface SplitOptions {
  /** Output folder (created if missing). */
  out: string;
  /** Split name, e.g. `train`, `calib`, `test`; also folded into every scene's seed. */
  split: string;
  /** Number of scenes. */
  count: number;
  /** Base seed. */
  seed: number;
  /** Short-answer style (default `word`). */
  answers?: AnswerStyle;
}

/** Everything generated for one split, in memory. */
export interface SplitData {
  /** Scenes in index order. */
  scenes: Scene[];
  /** Conversation records, grouped by scene in index order. */
  records: ConversationRecord[];
  /** Rendered images in index order. */
  images: RgbImage[];
}

/** Generates a split in memory (pure and deterministic). */
export function generateSplit(
  split: string,
  count: number,
  seed: number,
  answers: AnswerStyle = "word",
): SplitData {
  const scenes: Scene[] = [], records: ConversationRecord[] = [], images: RgbImage[] = [];
  for (let i = 0; i < count; i++) {
    const scene = generateScene(seed, split, i);
    scenes.push(scene);
    images.push(renderScene(scene));
    const rng = new Prng(mixSeed(seed, hashString(split), i, 1));
    records.push(...conversationsFor(scene, rng, answers));
  }
  return { scenes, records, images };
}

/** Encodes an RGB image as an 8-bit PNG (deterministic: fixed zlib settings). */
export function encodePng(image: RgbImage): Uint8Array {
  return encode({
    width: image.width,
    height: image.height,
    data: image.data,
    channels: 3,
    depth: 8,
  });
}

/**
 * Writes a split to disk:
 * - `images/<scene id>.png`
 * - `<split>.json`: conversation records (LLaVA detail_1k layout plus `kind`)
 * - `<split>_scenes.json`: the true objects of every scene
 * - `<split>_images.bin`: all images as raw uint8 `[count, 64, 64, 3]`
 */
export async function writeSplit(opts: SplitOptions): Promise<SplitData> {
  const data = generateSplit(opts.split, opts.count, opts.seed, opts.answers);
  await Deno.mkdir(join(opts.out, "images"), { recursive: true });
  const raw = new Uint8Array(opts.count * IMAGE_SIZE * IMAGE_SIZE * 3);
  for (let i = 0; i < data.scenes.length; i++) {
    const png = encodePng(data.images[i]);
    await Deno.writeFile(join(opts.out, "images", `${data.scenes[i].id}.png`), png);
    raw.set(data.images[i].data, i * IMAGE_SIZE * IMAGE_SIZE * 3);
  }
  await Deno.writeTextFile(
    join(opts.out, `${opts.split}.json`),
    JSON.stringify(data.records, null, 1) + "\n",
  );
  await Deno.writeTextFile(
    join(opts.out, `${opts.split}_scenes.json`),
    JSON.stringify(data.scenes, null, 1) + "\n",
  );
  await Deno.writeFile(join(opts.out, `${opts.split}_images.bin`), raw);
  return data;
}
