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
