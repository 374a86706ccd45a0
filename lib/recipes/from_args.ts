/**
 * Recipes from loosely typed arguments (CLI flags, experiment configs): the bridge the
 * `generate` command and the experiments runner call.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { parseReferenceConfig } from "../prefix/config.ts";
import { type Budget, budgetLabel, parseBudget } from "./budget.ts";
import type { ComposedPolicy } from "./composed_policy.ts";
import { configBudget } from "./allocation/offline_config.ts";
import type { RecipeOptions } from "./definition.ts";
import type { Recipe } from "./recipe.ts";
import { createRecipe, recipeDefinition } from "./registry.ts";

/** Arguments of {@link policyFromArgs}; numbers may come as strings (CLI flags). */
export interface PolicyArgs {
  /** Registered recipe name, e.g. `"prefixkv"`. */
  method: string;
  /** Kept fraction: 0.2, "0.2" or "20%". Optional for `full` and with an offline `conf`. */
  budget?: number | string;
  /** Alternative to `budget`: entries kept per layer on average. */
  tokens?: number | string;
  /** PrefixKV offline config: a file path (reference format) or the per-layer ratios. */
  conf?: string | ArrayLike<number>;
  /** PrefixKV: search on every prompt (default when no `conf`). */
  online?: boolean;
  /** Leading positions always kept (default 1). */
  startSize?: number | string;
  /** Fixed-distance decode offset from K_l (default −25); > 0 is an absolute index. */
  distance?: number | string;
  /** SnapKV observation window (default 32). */
  window?: number | string;
  /** SnapKV pooling kernel width (default 5). */
  kernel?: number | string;
  /** SnapKV pooling kind: `"max"` (default) or `"avg"`. */
  pooling?: string;
  /** PyramidKV slope β (default 20). */
  beta?: number | string;
  /** PrefixKV online search tolerance in tokens over all layers (default 5). */
  tolerance?: number | string;
  /** PrefixKV online search iteration cap (default 100). */
  maxIterations?: number | string;
}

/** A recipe with the budget it runs at. */
export interface ResolvedRecipe {
  /** The checked recipe. */
  recipe: Recipe;
  /** The budget its policies run at. */
  budget: Budget;
  /** e.g. `"prefixkv@20%"`. */
  label: string;
}

function num(name: string, v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = typeof v === "number" ? v : Number(v.trim());
  if (typeof v === "string" && (v.trim() === "" || Number.isNaN(x))) {
    throw new InputError(`--${name}: "${v}" is not a number`);
  }
  return x;
}

function readConf(conf: string | ArrayLike<number>): { ratios: number[]; source: string } {
  if (typeof conf !== "string") return { ratios: Array.from(conf), source: "PrefixKV config" };
  let text: string;
  try {
    text = Deno.readTextFileSync(conf);
  } catch (e) {
    throw new InputError(`${conf}: cannot read the PrefixKV config (${(e as Error).message})`);
  }
  return { ratios: parseReferenceConfig(text, conf), source: conf };
}

/** Resolves arguments to a checked recipe and budget; throws {@link InputError} on bad input. */
export function recipeFromArgs(args: PolicyArgs): ResolvedRecipe {
  if (!args.method) throw new InputError("--method: missing; see `deno task prefixkv recipes`");
  const def = recipeDefinition(args.method);
  const conf = args.conf === undefined ? undefined : readConf(args.conf);
  const pooling = args.pooling;
  if (pooling !== undefined && pooling !== "max" && pooling !== "avg") {
    throw new InputError(`--pooling must be "max" or "avg", got "${pooling}"`);
  }
  const options: RecipeOptions = {
    startSize: num("start-size", args.startSize),
    distance: num("distance", args.distance),
    window: num("window", args.window),
    kernel: num("kernel", args.kernel),
    pooling,
    beta: num("beta", args.beta),
    conf: conf?.ratios,
    confSource: conf?.source,
    online: args.online || undefined,
    tolerance: num("tolerance", args.tolerance),
    maxIterations: num("max-iterations", args.maxIterations),
  };
  let budget: Budget;
  if (args.budget === undefined && args.tokens === undefined && (conf || !def.compresses)) {
    budget = { fraction: conf ? configBudget(conf.ratios) : 1 };
  } else {
    budget = parseBudget(args.budget, args.tokens);
  }
  const recipe = createRecipe(def.name, options);
  return { recipe, budget, label: `${def.name}@${budgetLabel(budget)}` };
}

/** The cache policy for `args`, ready for the runtime's generate loop. */
export function policyFromArgs(args: PolicyArgs): ComposedPolicy {
  const { recipe, budget } = recipeFromArgs(args);
  return recipe.policy(budget) as ComposedPolicy;
}
