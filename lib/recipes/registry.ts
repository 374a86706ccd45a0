/**
 * The recipe registry: names → definitions. The CLI, experiments and notebooks all look recipes
 * up here, so a name means the same thing everywhere.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { BUILTIN_RECIPES } from "./builtin.ts";
import { checkOptionValues, type RecipeDefinition, type RecipeOptions } from "./definition.ts";
import { composeRecipe, type Recipe } from "./recipe.ts";

const registry = new Map<string, RecipeDefinition>(BUILTIN_RECIPES.map((d) => [d.name, d]));

/** Adds a recipe; its name must be new and lower-case kebab (`[a-z0-9-]+`). */
export function registerRecipe(definition: RecipeDefinition): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(definition.name)) {
    throw new InputError(`recipe name "${definition.name}" must be lower-case kebab-case`);
  }
  if (registry.has(definition.name)) {
    throw new InputError(`a recipe named "${definition.name}" is already registered`);
  }
  registry.set(definition.name, definition);
}

/** Removes a registered recipe (for tests and notebooks that register temporary ones). */
export function unregisterRecipe(name: string): boolean {
  return registry.delete(name);
}

/** Registered names, in registration order. */
export function recipeNames(): string[] {
  return [...registry.keys()];
}

/** Every registered definition, in registration order. */
export function listRecipes(): RecipeDefinition[] {
  return [...registry.values()];
}

/** The definition of `name`; throws {@link InputError} listing the known names otherwise. */
export function recipeDefinition(name: string): RecipeDefinition {
  const def = registry.get(name);
  if (!def) {
    throw new InputError(
      `unknown recipe "${name}". Known recipes: ${recipeNames().join(", ")}` +
        ` (see \`deno task prefixkv recipes\`)`,
    );
  }
  return def;
}

/**
 * Builds the registered recipe `name` with `options`. Options the recipe does not use are
 * rejected (e.g. a PrefixKV config given to `local`) rather than silently ignored.
 */
export function createRecipe(name: string, options: RecipeOptions = {}): Recipe {
  const def = recipeDefinition(name);
  const given = (Object.keys(options) as (keyof RecipeOptions)[]).filter((k) =>
    options[k] !== undefined
  );
  const unused = given.filter((k) => !def.options.includes(k));
  if (unused.length > 0) {
    throw new InputError(
      `recipe ${name} does not take ${unused.join(", ")}; it takes ` +
        (def.options.length ? def.options.join(", ") : "no options"),
    );
  }
  checkOptionValues(name, options);
  return composeRecipe(def.build(options), name);
}
