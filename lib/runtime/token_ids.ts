/**
 * Token ids that a checkpoint's tokenizer produced must lie in the model's vocabulary; when they
 * do not, the tokenizer and the config disagree, which is the checkpoint's fault, not the
 * prompt's. This check says so (ids given by the user are checked by `Model.embedTokens`).
 *
 * @example
 * ```ts
 * import { checkTokenizerIds } from "./token_ids.ts";
 * checkTokenizerIds([1, 5, 9], 32); // fine
 * try {
 *   checkTokenizerIds([1, 40], 32);
 * } catch (e) {
 *   console.log((e as Error).message); // the checkpoint's tokenizer produced token id 40 …
 * }
 * ```
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";

/** Throws a {@link CheckpointError} when a tokenizer-produced id is outside `[0, vocabSize)`. */
export function checkTokenizerIds(ids: readonly number[], vocabSize: number): void {
  const at = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
  if (at < 0) return;
  throw new CheckpointError(
    `the checkpoint's tokenizer (tokenizer.json) produced token id ${ids[at]} (at index ${at}), ` +
      `outside the model's vocabulary [0, ${vocabSize}) (config.json vocab_size): the tokenizer ` +
      `and the config do not belong together; use the tokenizer saved with these weights`,
  );
}
