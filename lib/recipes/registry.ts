/**
 * The recipe registry: names → methods, and recipes from names or plain data. The built-in
 * methods are the files listed in `methods/mod.ts`; the CLI, experiments and notebooks all look
 * recipes up here, so a name means the same thing everywhere.
 *
 * `recipeFromConfig({ method: "snapkv", window: 16 })` looks the method up, checks the options
 * against its zod schema (unknown options and out-of-range values are errors that list what the
 * method takes) and builds the recipe, which carries its canonical config back (`recipe.config`:
 * every option with its default) so experiments record exactly what ran.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { defineMethod, type RecipeConfig, type RecipeMethod } from "./method.ts";
import { BUILTIN_METHODS } from "./methods/mod.ts";
import { describeOptions, formatOptionList, type RecipeOptionInfo } from "./options.ts";
import { composeRecipe, type Recipe } from "./recipe.ts";

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

/**
 * The options of the registered method `name`, with rules, defaults and descriptions (for
 * `--help`, docs and notebooks).
 *
 * @example What SnapKV takes
 * ```ts
 * import { recipeOptions } from "./mod.ts";
 * for (const o of recipeOptions("snapkv")) console.log(o.name, o.rule, o.default, o.description);
 * ```
 */
export function recipeOptions(name: string): RecipeOptionInfo[] {
  return describeOptions(recipeMethod(name).options);
}

function shown(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Checks `options` against `method`'s schema; returns them with defaults filled in. */
function checkOptions(
  method: RecipeMethod,
  options: Record<string, unknown>,
): Record<string, unknown> {
  const info = describeOptions(method.options);
  const known = new Set(info.map((o) => o.name));
  const unknown = Object.keys(options).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new InputError(
      `recipe ${method.name} does not take ${unknown.join(", ")}; it takes ` +
        formatOptionList(info),
    );
  }
  const parsed = method.options.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = String(issue.path[0] ?? "");
  const o = info.find((x) => x.name === key);
  if (!o) throw new InputError(`recipe ${method.name}: ${issue.message}`);
  const extra = issue.code === "custom" ? ` (${issue.message})` : "";
  throw new InputError(
    `recipe ${method.name}: ${key} must be ${o.rule}${extra}, got ${shown(options[key])} ` +
      `(${key}: ${o.description})`,
  );
}

/**
 * Builds a recipe from plain data `{ method, ...options }` (JSON-able: what a sweep file or a
 * notebook passes). Throws {@link InputError} for an unknown method (listing the registered
 * ones), an option the method does not take (listing its options with their descriptions), or
 * a value out of range.
 *
 * @example A recipe from a sweep entry, and the config it records
 * ```ts
 * import { recipeFromConfig } from "./mod.ts";
 * const recipe = recipeFromConfig({ method: "snapkv", window: 16 });
 * console.log(recipe.config); // { method: "snapkv", window: 16, kernel: 5, pooling: "max", distance: -25 }
 * const policy = recipe.policy({ fraction: 0.2 });
 * ```
 */
export function recipeFromConfig(config: unknown): Recipe {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new InputError(
      `recipe config must be an object such as { "method": "snapkv", "window": 16 }, got ` +
        shown(config),
    );
  }
  const { method: name, ...options } = config as Record<string, unknown>;
  if (typeof name !== "string" || name === "") {
    throw new InputError(
      `recipe config needs "method" (a registered name, see \`deno task prefixkv recipes\`), ` +
        `got ${shown(name)}`,
    );
  }
  const method = recipeMethod(name);
  // Keys set to undefined count as absent (an optional field of a typed object).
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const resolved = checkOptions(method, given);
  const parts = method.build(resolved);
  const fraction = parts.allocation.calibratedFraction;
  return composeRecipe(parts, {
    name: method.name,
    config: Object.freeze({ method: method.name, ...resolved }) as RecipeConfig,
    defaultBudget: !method.compresses
      ? { fraction: 1 }
      : fraction !== undefined
      ? { fraction }
      : undefined,
  });
}

/**
 * Builds the registered recipe `name` with `options` (the same checks as
 * {@link recipeFromConfig}: options the recipe does not take are rejected, not ignored).
 *
 * @example PrefixKV at a 20 % budget, then SnapKV with a smaller window
 * ```ts
 * import { createRecipe } from "./mod.ts";
 * const prefixkv = createRecipe("prefixkv").policy({ fraction: 0.2 });
 * const snapkv = createRecipe("snapkv", { window: 16 }).policy({ tokens: 64 });
 * ```
 */
export function createRecipe(name: string, options: Record<string, unknown> = {}): Recipe {
  return recipeFromConfig({ ...options, method: name });
}
