/**
 * A recipe and the budget it runs at, from loose arguments: `{ method, budget | tokens,
 * ...options }` where options are plain data checked by the method's schema. The CLI's
 * `generate` and `eval-scenes` and the experiments call it, so a missing method, a budget that
 * the recipe would ignore or a missing budget fail the same way everywhere.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { type Budget, budgetLabel, parseBudget } from "../prefix/budget.ts";
import type { ComposedPolicy } from "./composed_policy.ts";
import type { Recipe } from "./recipe.ts";
import { listRecipes, recipeFromConfig, recipeMethod } from "./registry.ts";

/** Arguments of {@link recipeFromArgs}: a recipe config with an optional budget. */
export type RecipeArgs = {
  /** Registered recipe name, e.g. `"prefixkv"`; omitted means `full` (and then no budget). */
  method?: string;
  /** Kept fraction: 0.2, "0.2" or "20%". Optional for `full` and with an offline `conf`. */
  budget?: number | string;
  /** Alternative to `budget`: entries kept per layer on average. */
  tokens?: number | string;
} & Record<string, unknown>;

/** A recipe with the budget it runs at. */
export interface ResolvedRecipe {
  /** The checked recipe. */
  recipe: Recipe;
  /** The budget its policies run at. */
  budget: Budget;
  /** e.g. `"prefixkv@20%"`. */
  label: string;
}

function compressing(): string {
  return listRecipes().filter((m) => m.compresses).map((m) => m.name).join(", ");
}

/**
 * Resolves arguments to a checked recipe and budget; throws {@link InputError} on bad input.
 * A budget without a method, or a budget below 100 % for a recipe that keeps everything, is
 * an error rather than a run that silently keeps the full cache.
 *
 * @example
 * ```ts
 * import { recipeFromArgs } from "./mod.ts";
 * const { recipe, budget, label } = recipeFromArgs({ method: "snapkv", budget: "20%", window: 8 });
 * console.log(label); // snapkv@20%
 * ```
 */
export function recipeFromArgs(args: RecipeArgs): ResolvedRecipe {
  const { method, budget: fraction, tokens, ...options } = args;
  const budgetGiven = fraction !== undefined || tokens !== undefined;
  if (method === undefined) {
    const given = [
      ...(fraction !== undefined ? [`budget ${fraction}`] : []),
      ...(tokens !== undefined ? [`tokens ${tokens}`] : []),
      ...Object.keys(options).filter((k) => options[k] !== undefined),
    ];
    if (given.length > 0) {
      throw new InputError(
        `${given.join(", ")} given without a method: nothing would be compressed. Name the ` +
          `recipe, e.g. --method prefixkv (compressing recipes: ${compressing()}; see ` +
          `\`deno task prefixkv recipes\`)`,
      );
    }
  }
  if (method === "") throw new InputError("--method: empty; see `deno task prefixkv recipes`");
  const recipe = recipeFromConfig({ ...options, method: method ?? "full" });
  let budget: Budget;
  if (budgetGiven) {
    budget = parseBudget(fraction, tokens);
    if (!recipeMethod(recipe.name).compresses && !("fraction" in budget && budget.fraction === 1)) {
      throw new InputError(
        `recipe ${recipe.name} keeps the whole cache and takes no budget; drop ` +
          `${tokens !== undefined ? "--tokens" : "--budget"} or choose a compressing recipe ` +
          `(${compressing()})`,
      );
    }
  } else if (recipe.defaultBudget) {
    budget = recipe.defaultBudget;
  } else {
    budget = parseBudget(undefined, undefined); // throws: budget missing
  }
  return { recipe, budget, label: `${recipe.name}@${budgetLabel(budget)}` };
}

/** The cache policy for `args`, ready for the runtime's generate loop. */
export function policyFromArgs(args: RecipeArgs): ComposedPolicy {
  const { recipe, budget } = recipeFromArgs(args);
  return recipe.policy(budget) as ComposedPolicy;
}
