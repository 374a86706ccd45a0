/**
 * The recipe registry: names → methods. The built-in methods are the files listed in
 * `methods/mod.ts`; the CLI, experiments and notebooks all look recipes up here, so a name means
 * the same thing everywhere.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { defineMethod, type RecipeMethod } from "./method.ts";
import { BUILTIN_METHODS } from "./methods/mod.ts";

const registry = new Map<string, RecipeMethod>(BUILTIN_METHODS.map((m) => [m.name, m]));

/** Adds a method; its name must be new and lower-case kebab (`[a-z0-9-]+`). */
export function registerRecipe(method: RecipeMethod): void {
  defineMethod(method);
  if (registry.has(method.name)) {
    throw new InputError(`a recipe named "${method.name}" is already registered`);
  }
  registry.set(method.name, method);
}

/** Removes a registered recipe (for tests and notebooks that register temporary ones). */
export function unregisterRecipe(name: string): boolean {
  return registry.delete(name);
}

/** Registered names, in registration order. */
export function recipeNames(): string[] {
  return [...registry.keys()];
}

/** Every registered method, in registration order. */
export function listRecipes(): RecipeMethod[] {
  return [...registry.values()];
}

/** The method registered as `name`; throws {@link InputError} listing the known names. */
export function recipeMethod(name: string): RecipeMethod {
  const method = registry.get(name);
  if (!method) {
    throw new InputError(
      `unknown recipe "${name}". Known recipes: ${recipeNames().join(", ")}` +
        ` (see \`deno task prefixkv recipes\`)`,
    );
  }
  return method;
}
