/**
 * The common shape of an evaluation sample from an image–question–answer data set, and the
 * checks every loader shares: zod-validated entries, each bad entry reported with its index
 * (and skipped only when asked), image files that must exist.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import type { z } from "zod";
import { fileProblem, InputError, parseJsonInput } from "../errors.ts";

/** One evaluation sample: a question about an image and its reference answer. */
export interface VqaSample {
  /** The entry's id (or `#index`). */
  id: string;
  /** Position of the entry in the data file. */
  index: number;
  /** The question, without the `<image>` placeholder. */
  question: string;
  /** The reference answer (the teacher-forcing target of PPL). */
  answer: string;
  /** Absolute path of the image file. */
  image: string;
}

/** Options of the data set loaders. */
export interface VqaLoadOptions {
  /** Folder the entries' image names are relative to (required: data sets keep images apart). */
  imageDir: string;
  /** Skip bad entries (reported through `onSkip`) instead of failing on the first. */
  skipInvalid?: boolean;
  /** Called for every skipped entry with the reason. */
  onSkip?: (index: number, reason: string) => void;
}

/** What a loader returns: the good samples and the entries it skipped. */
export interface VqaLoadResult {
  /** Valid samples in file order. */
  samples: VqaSample[];
  /** Skipped entries (only with `skipInvalid`). */
  skipped: { index: number; reason: string }[];
}

/** An entry that failed validation: the field and what is wrong. */
export class EntryError extends Error {
  /** Always `"EntryError"`. */
  override name = "EntryError";
}

/** Reads and parses a JSON data file, naming it in errors. */
export function readDataFile(path: string): unknown {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new InputError(`${path}: cannot read the data file: ${fileProblem(e)}`);
  }
  return parseJsonInput(text, path);
}

/** The first zod issue as `field: message`. */
export function zodReason(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.length ? issue.path.join(".") : "entry"}: ${issue.message}`;
}

/** Resolves an image name against the image folder and checks that the file exists. */
export function imagePath(imageDir: string, name: string): string {
  const path = isAbsolute(name) ? name : resolve(imageDir, name);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (err) {
    const problem = fileProblem(err);
    const what = problem === "not found" ? " not found" : `: ${problem}`;
    throw new EntryError(`image ${name}${what} (looked for ${path})`);
  }
  if (!info.isFile) throw new EntryError(`image ${name} is a folder, not a file (${path})`);
  return path;
}

/**
 * Converts every entry with `convert`; a failing entry is an {@link InputError} naming the file,
 * the index and the reason (with the flag that skips), or is skipped when `skipInvalid`.
 */
export function convertEntries(
  entries: readonly [string | number, unknown][],
  source: string,
  opts: VqaLoadOptions,
  convert: (entry: unknown, key: string | number, index: number) => VqaSample,
): VqaLoadResult {
  let dirInfo: Deno.FileInfo;
  try {
    dirInfo = Deno.statSync(opts.imageDir);
  } catch (err) {
    throw new InputError(`image folder ${opts.imageDir}: ${fileProblem(err)} (--images)`);
  }
  if (!dirInfo.isDirectory) {
    throw new InputError(`image folder ${opts.imageDir} is a file, not a folder (--images)`);
  }
  const samples: VqaSample[] = [];
  const skipped: { index: number; reason: string }[] = [];
  entries.forEach(([key, entry], index) => {
    try {
      samples.push(convert(entry, key, index));
    } catch (e) {
      if (!(e instanceof EntryError)) throw e;
      if (!opts.skipInvalid) {
        throw new InputError(
          `${source}: entry ${index}${typeof key === "string" ? ` ("${key}")` : ""}: ${e.message}` +
            ` (fix it, or pass --skip-invalid to skip bad entries)`,
        );
      }
      skipped.push({ index, reason: e.message });
      opts.onSkip?.(index, e.message);
    }
  });
  if (samples.length === 0) throw new InputError(`${source}: no usable entry`);
  return { samples, skipped };
}
