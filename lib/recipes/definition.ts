/**
 * What the registry stores per recipe: a name, a one-paragraph description, the paper
 * reference, the options it accepts and how to build its parts.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { RecipeParts } from "./recipe.ts";

/** Options a recipe may accept (each definition lists the ones it uses). */
export interface RecipeOptions {
  /** Leading positions always kept (attention sinks); default 1 as in the paper's runs. */
  startSize?: number;
  /** Fixed-distance decode offset from K_l (default −25); > 0 is an absolute cache index. */
  distance?: number;
  /** SnapKV observation window w (default 32; min(w, N/4) for short prompts). */
  window?: number;
  /** SnapKV pooling kernel width (default 5). */
  kernel?: number;
  /** SnapKV pooling kind (default "max"). */
  pooling?: "max" | "avg";
  /** PyramidKV slope β (default 20). */
  beta?: number;
  /** PrefixKV offline config: per-layer eviction fractions (the reference's file format). */
  conf?: ArrayLike<number>;
  /** Where `conf` came from, for messages. */
  confSource?: string;
  /** PrefixKV: search on each prompt (the default when no `conf` is given). */
  online?: boolean;
  /** PrefixKV online search tolerance in tokens over all layers (default 5). */
  tolerance?: number;
  /** PrefixKV online search iteration cap (default 100). */
  maxIterations?: number;
}

/** Names of the options. */
export type RecipeOptionName = keyof RecipeOptions;

/** A registered recipe. */
export interface RecipeDefinition {
  /** Registry name used by the CLI, experiments and notebooks, e.g. `"prefixkv"`. */
  readonly name: string;
  /** One line for lists. */
  readonly summary: string;
  /** One paragraph: what it keeps, how it decides, what decoding does, caveats. */
  readonly description: string;
  /** Paper (and code) the recipe follows. */
  readonly reference: string;
  /** False when the recipe ignores the budget (the full cache). */
  readonly compresses: boolean;
  /** Options it accepts; others are rejected. */
  readonly options: readonly RecipeOptionName[];
  /** Builds the parts from checked options. */
  build(options: RecipeOptions): RecipeParts;
}

/** Throws {@link InputError} for option values that no recipe could use. */
export function checkOptionValues(name: string, o: RecipeOptions): void {
  const bad = (what: string, v: unknown, want: string): never => {
    throw new InputError(`recipe ${name}: ${what} must be ${want}, got ${v}`);
  };
  if (o.startSize !== undefined && (!Number.isInteger(o.startSize) || o.startSize < 0)) {
    bad("startSize", o.startSize, "a non-negative integer");
  }
  if (o.distance !== undefined && (!Number.isInteger(o.distance) || o.distance === 0)) {
    bad("distance", o.distance, "a non-zero integer (≤ −1: offset from K_l; ≥ 1: index)");
  }
  if (o.tolerance !== undefined && !(o.tolerance > 0)) {
    bad("tolerance", o.tolerance, "a positive number of tokens");
  }
  if (
    o.maxIterations !== undefined && (!Number.isInteger(o.maxIterations) || o.maxIterations < 1)
  ) {
    bad("maxIterations", o.maxIterations, "a positive integer");
  }
}
