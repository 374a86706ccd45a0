/**
 * The shape of one CLI command. Each command lives in its own file under `lib/cli/` and stays
 * thin: parse arguments, call library functions, print.
 *
 * @module
 */

/** One `deno task prefixkv <name>` command. */
export interface Command {
  /** The sub-command name, e.g. `"generate"`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full help text: usage line and every option. */
  help: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** An error whose message is shown to the user as is (no stack trace): bad input. */
export class UsageError extends Error {
  override name = "UsageError";
}
