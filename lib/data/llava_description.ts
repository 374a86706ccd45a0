/**
 * LLaVA-Description (`detail_1k.json`, the PrefixKV and Elastic Cache evaluation set): a JSON
 * list of `{ id, image, conversations: [{ from: "human", value: "<image>\n…" }, { from: "gpt",
 * value: … }] }` with COCO train2017 image names. The human turn is the question (its `<image>`
 * placeholder removed; the chat format puts the image back), the gpt turn the answer.
 *
 * @example
 * ```ts ignore
 * import { loadLlavaDescription } from "./llava_description.ts";
 * const { samples } = loadLlavaDescription("data/detail_1k.json", { imageDir: "coco/train2017" });
 * console.log(samples.length, samples[0].question);
 * ```
 *
 * @module
 */
import { z } from "zod";
import {
  convertEntries,
  EntryError,
  imagePath,
  readDataFile,
  type VqaLoadOptions,
  type VqaLoadResult,
  zodReason,
} from "./vqa_sample.ts";
import { InputError } from "../errors.ts";

const TURN = z.object({ from: z.string(), value: z.string() });
const ENTRY = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  image: z.string().min(1),
  conversations: z.array(TURN).min(2),
});

/** Parses LLaVA-Description entries (already parsed JSON); `source` names them in errors. */
export function parseLlavaDescription(
  data: unknown,
  source: string,
  opts: VqaLoadOptions,
): VqaLoadResult {
  if (!Array.isArray(data)) {
    throw new InputError(`${source}: expected a JSON list of {id, image, conversations} entries`);
  }
  return convertEntries(data.map((e, i) => [i, e]), source, opts, (entry, _key, index) => {
    const parsed = ENTRY.safeParse(entry);
    if (!parsed.success) throw new EntryError(zodReason(parsed.error));
    const { id, image, conversations } = parsed.data;
    const [human, gpt] = conversations;
    if (human.from !== "human" || gpt.from !== "gpt") {
      throw new EntryError(
        `conversations must start with a human then a gpt turn, got ${human.from}, ${gpt.from}`,
      );
    }
    if (!human.value.includes("<image>")) {
      throw new EntryError(`the human turn has no <image> placeholder`);
    }
    const question = human.value.replace("<image>", "").trim();
    if (question === "") throw new EntryError(`the question is empty`);
    if (gpt.value.trim() === "") throw new EntryError(`the answer is empty`);
    return {
      id: id === undefined ? `#${index}` : String(id),
      index,
      question,
      answer: gpt.value,
      image: imagePath(opts.imageDir, image),
    };
  });
}

/** Loads `detail_1k.json`-layout data with images under `opts.imageDir`. */
export function loadLlavaDescription(path: string, opts: VqaLoadOptions): VqaLoadResult {
  return parseLlavaDescription(readDataFile(path), path, opts);
}
