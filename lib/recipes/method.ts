/**
 * What a retention method is: one file under `methods/` that names it, says what it does and
 * where it comes from, declares its options as a zod object (defaults, ranges, `.describe()`
 * texts) and builds its parts from the checked options. Validation, the CLI's flags and help,
 * sweep configs and notebook calls all read that one schema.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { RecipeParts } from "./recipe.ts";

/**
 * A recipe as plain data: the method's registry name and its options, e.g.
 * `{ method: "snapkv", window: 16 }` (what a sweep file or a notebook cell passes).
 */
export type RecipeConfig = { method: string } & Record<string, unknown>;

/** One problem a schema found in a config (zod's issue, as far as messages need it). */
export interface OptionIssue {
  /** Where: `["window"]` for the option `window`. */
  readonly path: readonly PropertyKey[];
  /** Kind of problem (`"custom"` for a refinement such as "odd"). */
  readonly code: string;
  /** What is wrong. */
  readonly message: string;
}

/**
 * A method's options: a zod object schema (`z.object({ window: z.number()… })`), seen through
 * the part of its interface the registry uses, with `T` the checked options (defaults filled).
 */
export interface OptionSchema<T> {
  /** One schema per option, each with a `.describe()` text. */
  readonly shape: Readonly<Record<string, unknown>>;
  /** Checks a config's options; fills defaults. */
  safeParse(input: unknown):
    | { readonly success: true; readonly data: T }
    | { readonly success: false; readonly error: { readonly issues: readonly OptionIssue[] } };
}

/** A registered retention method; `T` is its checked options. */
export interface RecipeMethod<T = Record<string, unknown>> {
  /** Registry name used by the CLI, experiments and notebooks, e.g. `"prefixkv"`. */
  readonly name: string;
  /** One line for lists. */
  readonly summary: string;
  /** One paragraph: what it keeps, how it decides, what decoding does, caveats. */
  readonly description: string;
  /** Paper (and code) the method follows, with the sections implemented. */
  readonly reference: string;
  /** False when the method ignores the budget (the full cache). */
  readonly compresses: boolean;
  /** Its options: every key with a default (or optional), a range and a `.describe()` text. */
  readonly options: OptionSchema<T>;
  /** Builds the parts from options that passed {@link RecipeMethod.options}. */
  build(options: T): RecipeParts;
}

/**
 * Declares a method (a typed identity: `build` receives the schema's output type) after
 * checking that its name is lower-case kebab-case and that every option is described.
 *
 * @example A method is a name, texts, an option schema and its parts
 * ```ts
 * import { z } from "zod";
 * import { defineMethod, evictOldest, noScores, sinkAndRecent, uniformAllocation } from "./mod.ts";
 * const sinks = defineMethod({
 *   name: "sinks",
 *   summary: "attention sinks and the most recent entries",
 *   description: "Keeps the first `sinks` tokens and the newest rest, as StreamingLLM does.",
 *   reference: "Xiao et al., StreamingLLM, arXiv 2309.17453",
 *   compresses: true,
 *   options: z.object({
 *     sinks: z.number().int().min(0).default(4).describe("leading tokens always kept"),
 *   }),
 *   build: (o) => ({
 *     scorer: noScores(),
 *     allocation: uniformAllocation(),
 *     selection: sinkAndRecent(o.sinks),
 *     decode: evictOldest(o.sinks),
 *   }),
 * });
 * ```
 */
export function defineMethod<T>(method: RecipeMethod<T>): RecipeMethod<T> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(method.name)) {
    throw new InputError(`recipe name "${method.name}" must be lower-case kebab-case`);
  }
  for (const [key, schema] of Object.entries(method.options.shape)) {
    if (key === "method") throw new InputError(`recipe ${method.name}: "method" is reserved`);
    if (!(schema as { description?: string }).description) {
      throw new InputError(
        `recipe ${method.name}: option ${key} has no description; add .describe("…")`,
      );
    }
  }
  return Object.freeze(method);
}
