/**
 * Names and ids that become parts of file names (a split name, a run id) must stay inside the
 * folder the user named: one path segment of letters, digits, `.`, `_` and `-`, not starting
 * with a dot (so never `..`), at most 100 characters.
 *
 * @example
 * ```ts
 * import { checkFileNamePart } from "./file_names.ts";
 * checkFileNamePart("calib", "--split"); // "calib"
 * try {
 *   checkFileNamePart("../../x", "--split");
 * } catch (e) {
 *   console.log((e as Error).message); // --split "../../x" cannot be part of a file name: …
 * }
 * ```
 *
 * @module
 */
import { InputError } from "./errors.ts";

const SAFE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

/**
 * Returns `value` when it is a safe file-name part; otherwise throws an {@link InputError}
 * naming `what` (e.g. `"--split"`) and the allowed characters.
 */
export function checkFileNamePart(value: string, what: string): string {
  if (!SAFE.test(value)) {
    throw new InputError(
      `${what} ${JSON.stringify(value)} cannot be part of a file name: use 1–100 letters, ` +
        `digits, ".", "_" or "-", not starting with "." (no "/" or "..")`,
    );
  }
  return value;
}
