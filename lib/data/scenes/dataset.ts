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
import type { SceneStyle } from "./styles.ts";
import type { RgbImage } from "./rasterizer.ts";
import { checkFileNamePart } from "../../file_names.ts";
import { checkLimit, LIMITS } from "../../limits.ts";

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
  /** Scene style (default `basic`, the bundled model's 64×64 scenes). */
  style?: SceneStyle;
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

/** One scene of a split with everything made from it. */
export interface SplitItem {
  /** The scene (true objects). */
  scene: Scene;
  /** Its rendered image. */
  image: RgbImage;
  /** Its conversation records. */
  records: ConversationRecord[];
}

/** The scenes of a split one at a time, in index order (pure and deterministic). */
export function* splitItems(
  split: string,
  count: number,
  seed: number,
  answers: AnswerStyle = "word",
  style: SceneStyle = "basic",
): Generator<SplitItem> {
  for (let i = 0; i < count; i++) {
    const scene = generateScene(seed, split, i, style);
    const rng = new Prng(mixSeed(seed, hashString(split), i, 1));
    yield { scene, image: renderScene(scene), records: conversationsFor(scene, rng, answers) };
  }
}

/** Generates a split in memory (pure and deterministic); {@link writeSplit} streams instead. */
export function generateSplit(
  split: string,
  count: number,
  seed: number,
  answers: AnswerStyle = "word",
  style: SceneStyle = "basic",
): SplitData {
  const scenes: Scene[] = [], records: ConversationRecord[] = [], images: RgbImage[] = [];
  for (const item of splitItems(split, count, seed, answers, style)) {
    scenes.push(item.scene);
    images.push(item.image);
    records.push(...item.records);
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

/** What {@link writeSplit} wrote. */
export interface SplitSummary {
  /** Scenes written. */
  scenes: number;
  /** Conversation records written. */
  records: number;
  /** The files, by role. */
  files: { conversations: string; scenes: string; images: string; imageDir: string };
}

/**
 * Writes a split to disk, one scene at a time (memory stays flat whatever the count):
 * - `images/<scene id>.png`
 * - `<split>.json`: conversation records (LLaVA detail_1k layout plus `kind`)
 * - `<split>_scenes.json`: the true objects of every scene
 * - `<split>_images.bin`: all images as raw uint8 `[count, size, size, 3]` (size 64 for the
 *   `basic` style, 224 for `rich`)
 *
 * The three split files are written under temporary names and renamed when complete, so an
 * interrupted run never leaves a file that looks finished.
 *
 * @throws InputError when the split name cannot be part of a file name or the count is over
 *   {@link LIMITS}`.sceneCount`
 */
export async function writeSplit(
  opts: SplitOptions & { onProgress?: (done: number, total: number) => void },
): Promise<SplitSummary> {
  checkFileNamePart(opts.split, "split");
  checkLimit("count", opts.count, LIMITS.sceneCount);
  await Deno.mkdir(join(opts.out, "images"), { recursive: true });
  const files = {
    conversations: join(opts.out, `${opts.split}.json`),
    scenes: join(opts.out, `${opts.split}_scenes.json`),
    images: join(opts.out, `${opts.split}_images.bin`),
    imageDir: join(opts.out, "images"),
  };
  const conversations = await JsonArrayWriter.open(`${files.conversations}.partial`);
  const scenes = await JsonArrayWriter.open(`${files.scenes}.partial`);
  const raw = await Deno.open(`${files.images}.partial`, {
    write: true,
    create: true,
    truncate: true,
  });
  let count = 0, records = 0;
  for (const item of splitItems(opts.split, opts.count, opts.seed, opts.answers, opts.style)) {
    await Deno.writeFile(join(files.imageDir, `${item.scene.id}.png`), encodePng(item.image));
    await writeAll(raw, item.image.data);
    await scenes.push(item.scene);
    for (const r of item.records) await conversations.push(r);
    records += item.records.length;
    opts.onProgress?.(++count, opts.count);
  }
  raw.close();
  await conversations.close();
  await scenes.close();
  for (const f of [files.conversations, files.scenes, files.images]) {
    await Deno.rename(`${f}.partial`, f);
  }
  return { scenes: count, records, files };
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
}

/**
 * Streams a JSON array to a file with exactly `JSON.stringify(items, null, 1) + "\n"`'s bytes,
 * without holding the items (text is buffered up to about 1 MiB between writes).
 */
class JsonArrayWriter {
  #count = 0;
  #pending: string[] = [];
  #pendingChars = 0;
  private constructor(readonly file: Deno.FsFile) {}

  static async open(path: string): Promise<JsonArrayWriter> {
    return new JsonArrayWriter(
      await Deno.open(path, { write: true, create: true, truncate: true }),
    );
  }

  async push(item: unknown): Promise<void> {
    const body = " " + JSON.stringify(item, null, 1).replaceAll("\n", "\n ");
    this.#pending.push((this.#count++ === 0 ? "[\n" : ",\n") + body);
    this.#pendingChars += body.length;
    if (this.#pendingChars > 1 << 20) await this.#flush();
  }

  async close(): Promise<void> {
    this.#pending.push(this.#count === 0 ? "[]\n" : "\n]\n");
    await this.#flush();
    this.file.close();
  }

  async #flush(): Promise<void> {
    await writeAll(this.file, new TextEncoder().encode(this.#pending.join("")));
    this.#pending = [];
    this.#pendingChars = 0;
  }
}
