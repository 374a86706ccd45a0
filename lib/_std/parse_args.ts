/**
 * Stand-in for `jsr:@std/cli/parse-args` (JSR is unreachable from this project's machines; only
 * the npm registry is). `@std/cli`'s `parseArgs` follows minimist's semantics, so this wraps
 * `npm:minimist` with the same option names (`string`, `boolean`, `default`, `alias`,
 * `stopEarly`, `"--"`, `unknown`).
 *
 * @module
 */
import minimist from "minimist";

/** Options of {@link parseArgs}. */
export interface ParseOptions {
  string?: string | string[];
  boolean?: boolean | string | string[];
  default?: Record<string, unknown>;
  alias?: Record<string, string | string[]>;
  stopEarly?: boolean;
  "--"?: boolean;
  unknown?: (arg: string) => unknown;
}

/** Parsed arguments: positionals in `_`, options by name. */
export type Args = { _: Array<string | number>; [key: string]: unknown };

/** Parses command-line arguments (minimist semantics, as `@std/cli`'s `parseArgs`). */
export function parseArgs(args: string[], options: ParseOptions = {}): Args {
  return minimist(args, options as minimist.Opts) as Args;
}
