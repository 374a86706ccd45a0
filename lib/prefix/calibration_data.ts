/**
 * Calibration prompts from a data file: LLaVA-Description / LLaVA-Instruct style JSON (a list
 * of `{id, image, conversations: [{from: "human", value: "<image>\n…"}, {from: "gpt", …}]}`),
 * or a text-only list for LLaMA models (`{"prompt": …}` items, plain strings, or conversations
 * without `<image>`). Only the first human turn is used: calibration prefills the question, as
 * the reference's profile mode does.
 *
 * @module
 */
import { mulberry32 } from "../random.ts";
import { existsSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { fileError, InputError, parseJsonInput } from "../errors.ts";

/** One calibration prompt. */
export interface CalibrationPrompt {
  /** The item's `id` (or `#index` when it has none). */
  id: string;
  /** The question without the `<image>` placeholder. */
  question: string;
  /** Absolute path of the image file, when the item has one. */
  image?: string;
}

/** Options of {@link parseCalibrationData}. */
export interface CalibrationDataOptions {
  /** Directory image paths are relative to (default: the data file's directory). */
  imageDir?: string;
}

const IMAGE = "<image>";

/**
 * Parses calibration data. `source` is the file path (names errors and, by default, resolves
 * relative image paths).
 *
 * @throws InputError naming the item and field for malformed data
 */
export function parseCalibrationData(
  text: string,
  source: string,
  opts: CalibrationDataOptions = {},
): CalibrationPrompt[] {
  const data = parseJsonInput(text, source);
  if (!Array.isArray(data) || data.length === 0) {
    throw new InputError(
      `${source}: expected a non-empty JSON list of samples ({image, conversations} or {prompt})`,
    );
  }
  const imageDir = opts.imageDir ?? dirname(resolve(source));
  return data.map((item, i) => parseItem(item, i, source, imageDir));
}

function parseItem(item: unknown, i: number, source: string, imageDir: string): CalibrationPrompt {
  const where = `${source}: sample ${i}`;
  if (typeof item === "string") return { id: `#${i}`, question: checkQuestion(item, where) };
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    throw new InputError(`${where} must be an object or a string`);
  }
  const o = item as Record<string, unknown>;
  const id = typeof o.id === "string" || typeof o.id === "number" ? String(o.id) : `#${i}`;
  let value: string;
  if (typeof o.prompt === "string") value = o.prompt;
  else if (Array.isArray(o.conversations)) {
    const human = o.conversations.find((c) =>
      c && typeof c === "object" && (c as Record<string, unknown>).from === "human"
    ) as Record<string, unknown> | undefined;
    if (!human || typeof human.value !== "string") {
      throw new InputError(`${where} (${id}): conversations have no human turn with a value`);
    }
    value = human.value;
  } else {
    throw new InputError(`${where} (${id}): needs "conversations" or "prompt"`);
  }
  const hasPlaceholder = value.includes(IMAGE);
  if (o.image !== undefined && typeof o.image !== "string") {
    throw new InputError(`${where} (${id}): "image" must be a file name`);
  }
  if (hasPlaceholder && o.image === undefined) {
    throw new InputError(`${where} (${id}): the question has ${IMAGE} but the sample no "image"`);
  }
  const question = checkQuestion(value.replace(IMAGE, ""), `${where} (${id})`);
  if (o.image === undefined) return { id, question };
  const image = isAbsolute(o.image as string) ? o.image as string : resolve(imageDir, o.image);
  return { id, question, image };
}

/**
 * A hint for an image that is not where the data says: when a file of that name sits in an
 * `images/` folder next to that place (the layout `scenes` writes: DIR/<split>.json with
 * DIR/images/<id>.png), says to pass that folder as `--image-dir` (`imageDir`); else undefined.
 */
export function missingImageHint(image: string): string | undefined {
  const candidate = join(dirname(image), "images", basename(image));
  if (!existsSync(candidate)) return undefined;
  return `it is in ${dirname(candidate)}/ (where \`scenes\` writes images): pass ` +
    `--image-dir ${dirname(candidate)} (imageDir in the library)`;
}

function checkQuestion(text: string, where: string): string {
  const q = text.trim();
  if (q === "") throw new InputError(`${where}: the question is empty`);
  return q;
}

/** Reads and parses a calibration data file; see {@link parseCalibrationData}. */
export async function readCalibrationData(
  path: string,
  opts: CalibrationDataOptions = {},
): Promise<CalibrationPrompt[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw fileError(path, "read the calibration data", e, "check --data");
  }
  return parseCalibrationData(text, path, opts);
}

/**
 * The samples to calibrate on: the first `n`, or (with a seed) `n` drawn without replacement by
 * a seeded shuffle, in drawn order.
 *
 * @throws InputError when `n` is not a positive integer or exceeds the data
 */
export function chooseSamples<T>(items: readonly T[], n: number, seed?: number): T[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new InputError(`the number of samples must be a positive integer; got ${n}`);
  }
  if (n > items.length) {
    throw new InputError(`asked for ${n} samples but the data has only ${items.length}`);
  }
  if (seed === undefined) return items.slice(0, n);
  const order = items.map((_, i) => i);
  const rand = mulberry32(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, n).map((i) => items[i]);
}
