/**
 * MM-Vet in the two layouts in use: Elastic Cache's pre-processed `mm-vet.json` (a JSON list of
 * `{ image, question, answer, … }`, the one the PrefixKV code reads) and the original release (an
 * object keyed by sample id, `{ "v1_0": { imagename, question, answer, capability } }`).
 * `answer` is the teacher-forcing target.
 *
 * @example
 * ```ts ignore
 * import { loadMmVet } from "./mm_vet.ts";
 * const { samples } = loadMmVet("mm-vet/mm-vet.json", { imageDir: "mm-vet/images" });
 * console.log(samples.length);
 * ```
 *
 * @module
 */
import { z } from "zod";
import { InputError } from "../errors.ts";
import {
  convertEntries,
  EntryError,
  imagePath,
  readDataFile,
  type VqaLoadOptions,
  type VqaLoadResult,
  zodReason,
} from "./vqa_sample.ts";

const ENTRY = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  image: z.string().min(1).optional(),
  imagename: z.string().min(1).optional(),
  question: z.string().trim().min(1),
  answer: z.string().trim().min(1),
});

/** Parses MM-Vet data (already parsed JSON, either layout); `source` names it in errors. */
export function parseMmVet(data: unknown, source: string, opts: VqaLoadOptions): VqaLoadResult {
  let entries: [string | number, unknown][];
  if (Array.isArray(data)) entries = data.map((e, i) => [i, e]);
  else if (data !== null && typeof data === "object") entries = Object.entries(data);
  else {
    throw new InputError(
      `${source}: expected a JSON list of {image, question, answer} or an object of ` +
        `{imagename, question, answer} keyed by id`,
    );
  }
  return convertEntries(entries, source, opts, (entry, key, index) => {
    const parsed = ENTRY.safeParse(entry);
    if (!parsed.success) throw new EntryError(zodReason(parsed.error));
    const { id, image, imagename, question, answer } = parsed.data;
    const name = image ?? imagename;
    if (name === undefined) throw new EntryError(`image: missing (image or imagename)`);
    return {
      id: id !== undefined ? String(id) : typeof key === "string" ? key : `#${index}`,
      index,
      question: question.replace("<image>", "").trim(),
      answer,
      image: imagePath(opts.imageDir, name),
    };
  });
}

/** Loads `mm-vet.json` with images under `opts.imageDir`. */
export function loadMmVet(path: string, opts: VqaLoadOptions): VqaLoadResult {
  return parseMmVet(readDataFile(path), path, opts);
}
