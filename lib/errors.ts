/**
 * Error types for bad input. Their messages name the file or field and the fix, and the CLI
 * prints them without a stack trace.
 *
 * @module
 */

/** A checkpoint file or config field is missing, malformed or unsupported. */
export class CheckpointError extends Error {
  /** Always `"CheckpointError"`; printed before the message. */
  override name = "CheckpointError";
}

/** A user-supplied input (image, prompt, token ids, budget, scores, …) is unusable. */
export class InputError extends Error {
  /** Always `"InputError"`; printed before the message. */
  override name = "InputError";
}

/** Parses user-supplied JSON text; a syntax error becomes an {@link InputError} naming `source`. */
export function parseJsonInput(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${source}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * The cause of a failed file operation in words: "not found", "permission denied", "it is a
 * folder, not a file", "a part of the path is a file, not a folder", "the file system is
 * read-only", or the system's message.
 *
 * @example
 * ```ts
 * try {
 *   Deno.readTextFileSync("/no/such/file");
 * } catch (e) {
 *   console.log(fileProblem(e)); // "not found"
 * }
 * ```
 */
export function fileProblem(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  switch (code) {
    case "ENOENT":
      return "not found";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a folder, not a file";
    case "ENOTDIR":
      return "a part of the path is a file, not a folder";
    case "EROFS":
      return "the file system is read-only";
    case "ENOSPC":
      return "no space left on the device";
  }
  if ((err as Error)?.name === "NotCapable") return "Deno's permissions do not allow it";
  return String((err as Error)?.message ?? err);
}

/**
 * An {@link InputError} for a failed file operation: names the path, what was being done and
 * the real cause ({@link fileProblem}), then the fix.
 *
 * @example
 * ```ts
 * try {
 *   Deno.readTextFileSync("/no/such/data.json");
 * } catch (e) {
 *   const err = fileError("/no/such/data.json", "read the calibration data", e, "check --data");
 *   console.log(err.message);
 *   // "/no/such/data.json: cannot read the calibration data: not found; check --data"
 * }
 * ```
 */
export function fileError(path: string, doing: string, err: unknown, fix?: string): InputError {
  return new InputError(`${path}: cannot ${doing}: ${fileProblem(err)}${fix ? `; ${fix}` : ""}`);
}

/** True for the errors Deno's file APIs throw (they carry an errno `code` such as `ENOENT`). */
export function isFileSystemError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return (typeof code === "string" && /^E[A-Z]+$/.test(code)) ||
    (err as Error)?.name === "NotCapable";
}

/**
 * A model produced NaN or ±Inf (logits, attention importance, keys or values): its weights or
 * inputs hold non-finite values, or a computation overflowed. The message says where.
 */
export class NumericError extends Error {
  /** Always `"NumericError"`; printed before the message. */
  override name = "NumericError";
}

/**
 * Whether `path` is a file, telling absence from a real problem: false when nothing is there;
 * a {@link CheckpointError} naming `what`, the path and the cause ({@link fileProblem}) when it
 * cannot be checked (permission denied, …) or is a folder. "Not found" is only ever said of
 * files that are not there.
 *
 * @example
 * ```ts
 * console.log(fileIsPresent("/no/such/config.json", "model config")); // false
 * ```
 */
export function fileIsPresent(path: string, what: string): boolean {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw new CheckpointError(`${path}: cannot read the ${what}: ${fileProblem(err)}`);
  }
  if (!info.isFile) throw new CheckpointError(`${path}: the ${what} is a folder, not a file`);
  return true;
}

/**
 * The one-line report of a failed command. Known input problems print their message; a file
 * system error that no command anticipated prints the system's message (it names the path) and
 * the cause, never a stack; anything else keeps its stack for bug reports.
 */
export function errorReport(err: unknown): string {
  const e = err as Error;
  const known = ["UsageError", "CheckpointError", "InputError", "NumericError"];
  if (known.includes(e?.name)) {
    return e.message;
  }
  if (isFileSystemError(err)) return `${e.message} (${fileProblem(err)})`;
  return e?.stack ?? String(err);
}
