/**
 * `deno task prefixkv recipes`: lists the registered retention recipes with their descriptions,
 * parts and references. Also re-exports {@link policyFromArgs}, which `generate` calls to turn
 * `--method/--budget/...` into a cache policy.
 *
 * @module
 */
import { type Command, UsageError } from "./command.ts";
import { type FlagValues, parseFlagsWithPositionals } from "./flags.ts";
import { createRecipe, listRecipes, recipeDefinition } from "../recipes/registry.ts";
import type { RecipeDefinition } from "../recipes/definition.ts";

import type { PolicyArgs } from "../recipes/from_args.ts";

export { type PolicyArgs, policyFromArgs, recipeFromArgs } from "../recipes/from_args.ts";

/** `node:util` parseArgs options for the KV policy flags, to spread into a command's options. */
export const POLICY_OPTIONS = {
  method: { type: "string" },
  budget: { type: "string" },
  tokens: { type: "string" },
  conf: { type: "string" },
  online: { type: "boolean" },
  "start-size": { type: "string" },
  distance: { type: "string" },
  window: { type: "string" },
  kernel: { type: "string" },
  pooling: { type: "string" },
  beta: { type: "string" },
  tolerance: { type: "string" },
  "max-iterations": { type: "string" },
} as const;

/** Help lines for {@link POLICY_OPTIONS}. */
export const POLICY_HELP = `KV retention (see \`deno task prefixkv recipes\`):
  --method NAME               recipe: full (default), local, h2o, h2o-layerwise, elastic, uniform,
                              pyramid, snapkv, prefixkv, prefixkv-maxsum, prefixkv-merge
  --budget R                  fraction of prompt entries kept over all layers: 0.2 or 20%
  --tokens K                  instead of --budget: entries kept per layer on average
  --conf FILE                 prefixkv*: offline config (per-layer eviction fractions, the
                              reference's format); the budget defaults to 1 − its mean
  --online                    prefixkv*: search on every prompt (the default without --conf)
  --start-size S              sink tokens always kept (default 1)
  --distance D                fixed-distance decode offset (default -25)
  --window W, --kernel K, --pooling max|avg   snapkv (defaults 32, 5, max)
  --beta B                    pyramid slope (default 20)
  --tolerance T, --max-iterations I           prefixkv online search (defaults 5, 100)`;

/** Maps parsed {@link POLICY_OPTIONS} values to {@link PolicyArgs} (method defaults to full). */
export function policyArgsFromFlags(v: FlagValues<typeof POLICY_OPTIONS>): PolicyArgs {
  return {
    method: v.method ?? "full",
    budget: v.budget,
    tokens: v.tokens,
    conf: v.conf,
    online: v.online,
    startSize: v["start-size"],
    distance: v.distance,
    window: v.window,
    kernel: v.kernel,
    pooling: v.pooling,
    beta: v.beta,
    tolerance: v.tolerance,
    maxIterations: v["max-iterations"],
  };
}

const HELP = `Usage: deno task prefixkv recipes [NAME] [--json]

Lists the KV retention recipes that --method accepts, with what each keeps, how it decides,
what decoding does and the paper it follows.

  NAME     show only this recipe
  --json   print name, summary, description, reference, options and parts as JSON

Every recipe takes --budget (fraction of prompt entries kept over all layers: 0.2 or 20%) or
--tokens (entries kept per layer on average).`;

/** Wraps `text` at `width` columns with `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width - indent.length) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join("\n");
}

function entry(def: RecipeDefinition) {
  return {
    name: def.name,
    summary: def.summary,
    description: def.description,
    reference: def.reference,
    options: [...def.options],
    parts: createRecipe(def.name).describeParts(),
  };
}

/** The text `recipes` prints for `defs`. */
export function formatRecipes(defs: RecipeDefinition[]): string {
  return defs.map((def) => {
    const e = entry(def);
    return [
      `${e.name} — ${e.summary}`,
      wrap(e.description, 100, "    "),
      wrap(`parts: ${e.parts}`, 100, "    "),
      wrap(`options: ${e.options.length ? e.options.join(", ") : "none"}`, 100, "    "),
      wrap(`reference: ${e.reference}`, 100, "    "),
    ].join("\n");
  }).join("\n\n");
}

/** The `recipes` command. */
export const command: Command = {
  name: "recipes",
  summary: "list the KV retention recipes (--method names) with descriptions",
  help: HELP,
  run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlagsWithPositionals(args, {
      json: { type: "boolean" },
    });
    if (positionals.length > 1) throw new UsageError("give at most one recipe name (see --help)");
    const defs = positionals.length ? [recipeDefinition(positionals[0])] : listRecipes();
    console.log(values.json ? JSON.stringify(defs.map(entry), null, 2) : formatRecipes(defs));
    return Promise.resolve(0);
  },
};
