/**
 * The recipe flags every model command shares (`--method`, `--budget`, `--tokens` and each
 * registered method's options in kebab-case), made from the methods' schemas, and
 * `deno task prefixkv recipes`, which lists the methods with their descriptions, parts, options
 * and references.
 *
 * @module
 */
import { type Command, UsageError } from "./command.ts";
import { type FlagSpec, parseFlagsWithPositionals } from "./flags.ts";
import type { RecipeMethod } from "../recipes/method.ts";
import type { RecipeOptionInfo } from "../recipes/options.ts";
import type { RecipeArgs } from "../recipes/from_args.ts";
import { createRecipe, listRecipes, recipeMethod, recipeOptions } from "../recipes/registry.ts";

/** `startSize` → `start-size`. */
export function flagName(option: string): string {
  return option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** One recipe option flag: how its text is read, and the methods that take it. */
interface OptionFlag {
  kind: "boolean" | "number" | "text";
  /** The option as each group of methods declares it (same description, rule and default). */
  variants: { option: RecipeOptionInfo; methods: string[] }[];
}

function kindOf(o: RecipeOptionInfo): OptionFlag["kind"] {
  const t = o.schema.type;
  if (t === "boolean") return "boolean";
  if (t === "integer" || t === "number") return "number";
  return "text";
}

/** Every registered method's options as flags, by flag name (same name ⇒ same kind). */
function optionFlags(): Map<string, OptionFlag> {
  const flags = new Map<string, OptionFlag>();
  const same = (a: RecipeOptionInfo, b: RecipeOptionInfo) =>
    a.description === b.description && a.rule === b.rule && a.default === b.default;
  for (const method of listRecipes()) {
    for (const option of recipeOptions(method.name)) {
      const name = flagName(option.name);
      const flag = flags.get(name);
      if (!flag) {
        flags.set(name, { kind: kindOf(option), variants: [{ option, methods: [method.name] }] });
      } else if (flag.kind !== kindOf(option)) {
        throw new Error(`recipe option ${option.name} has different types in different methods`);
      } else {
        const variant = flag.variants.find((v) => same(v.option, option));
        if (variant) variant.methods.push(method.name);
        else flag.variants.push({ option, methods: [method.name] });
      }
    }
  }
  return flags;
}

/** `node:util` parseArgs options for the recipe flags, to spread into a command's options. */
export function recipeFlagOptions(): Record<string, FlagSpec> {
  const options: Record<string, FlagSpec> = {
    method: { type: "string" },
    budget: { type: "string" },
    tokens: { type: "string" },
  };
  for (const [name, flag] of optionFlags()) {
    options[name] = { type: flag.kind === "boolean" ? "boolean" : "string" };
  }
  return options;
}

/** The recipe flags of the built-in methods (see {@link recipeFlagOptions}). */
export const RECIPE_OPTIONS: Readonly<Record<string, FlagSpec>> = recipeFlagOptions();

/** Wraps `text` at `width` columns with `indent`. */
function wrap(text: string, width: number, indent: string, first = indent): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    const lead = lines.length ? indent : first;
    if (line && lead.length + line.length + 1 + word.length > width) {
      lines.push(lead + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push((lines.length ? indent : first) + line);
  return lines.join("\n");
}

function helpEntry(left: string, text: string): string {
  const pad = 30;
  const first = `  ${left}`.padEnd(pad);
  if (first.length > pad) return `  ${left}\n${wrap(text, 100, " ".repeat(pad))}`;
  return wrap(text, 100, " ".repeat(pad), first);
}

function defaultText(o: { default?: unknown }): string {
  return o.default !== undefined ? `, default ${JSON.stringify(o.default)}` : "";
}

/** Help lines for the recipe flags, a section of a command's help text. */
export function recipeHelp(): string {
  const names = listRecipes().map((m) => m.name);
  const lines = [
    "KV retention (see `deno task prefixkv recipes`):",
    helpEntry("--method NAME", `recipe: ${names.join(", ")}; without it the full cache`),
    helpEntry(
      "--budget R",
      "fraction of prompt entries kept over all layers: 0.2 or 20% (needs a compressing " +
        "--method)",
    ),
    helpEntry("--tokens K", "instead of --budget: entries kept per layer on average"),
  ];
  for (const [name, { kind, variants }] of optionFlags()) {
    const choices = variants[0].option.schema.enum;
    const value = kind === "boolean"
      ? ""
      : choices
      ? ` ${choices.join("|")}`
      : kind === "number"
      ? " N"
      : " VALUE";
    const texts = variants.map(({ option, methods }) => {
      const facts = [
        kind === "boolean" || choices ? "" : option.rule,
        option.default !== undefined && option.default !== false ? `default ${option.default}` : "",
        variants.length > 1 ? "" : methods.join(", "),
      ].filter((x) => x !== "");
      const text = `${option.description} (${facts.join("; ")})`;
      return variants.length > 1 ? `${methods.join(", ")}: ${text}` : text;
    });
    lines.push(helpEntry(`--${name}${value}`, texts.join(". ")));
  }
  return lines.join("\n");
}

/** Parsed values of the recipe flags (strings and booleans). */
export type RecipeFlagValues = Readonly<Record<string, string | boolean | undefined>>;

/**
 * Turns parsed recipe flags into {@link RecipeArgs}: numbers are read as numbers, and a flag
 * that `--method`'s recipe does not take is an error listing the flags it does take.
 */
export function recipeArgsFromFlags(values: RecipeFlagValues): RecipeArgs {
  const method = values.method as string | undefined;
  const args: RecipeArgs = {
    method,
    budget: values.budget as string | undefined,
    tokens: values.tokens as string | undefined,
  };
  const flags = optionFlags();
  const takes = method === undefined || !listRecipes().some((m) => m.name === method)
    ? undefined
    : new Set(recipeOptions(method).map((o) => flagName(o.name)));
  for (const [name, flag] of flags) {
    const v = values[name];
    if (v === undefined) continue;
    const flagOption = flag.variants[0].option;
    if (takes && !takes.has(name)) {
      const own = recipeOptions(method!);
      throw new UsageError(
        `recipe ${method} does not take ${flagOption.name} (--${name}); it takes ` +
          (own.length
            ? own.map((o) => `--${flagName(o.name)} (${o.rule}${defaultText(o)})`).join(", ")
            : "no options"),
      );
    }
    if (flag.kind === "number") {
      const n = Number(v);
      if (typeof v !== "string" || v.trim() === "" || Number.isNaN(n)) {
        throw new UsageError(`--${name}: "${v}" is not a number`);
      }
      args[flagOption.name] = n;
    } else args[flagOption.name] = v;
  }
  return args;
}

const HELP = `Usage: deno task prefixkv recipes [NAME] [--json]

Lists the KV retention recipes that --method accepts, with what each keeps, how it decides,
what decoding does, its options and the paper it follows.

  NAME     show only this recipe
  --json   print name, summary, description, reference, options, default config and parts

Every compressing recipe takes --budget (fraction of prompt entries kept over all layers: 0.2
or 20%) or --tokens (entries kept per layer on average).`;

function entry(method: RecipeMethod) {
  const recipe = createRecipe(method.name);
  return {
    name: method.name,
    summary: method.summary,
    description: method.description,
    reference: method.reference,
    compresses: method.compresses,
    options: recipeOptions(method.name).map(({ schema: _, ...o }) => o),
    config: recipe.config,
    parts: recipe.describeParts(),
  };
}

/** The text `recipes` prints for `methods`. */
export function formatRecipes(methods: RecipeMethod[]): string {
  return methods.map((method) => {
    const e = entry(method);
    const options = e.options.length
      ? e.options.map((o) =>
        wrap(`${o.name} (${o.rule}${defaultText(o)}): ${o.description}`, 100, "        ", "      ")
      )
      : ["      none"];
    return [
      `${e.name} — ${e.summary}`,
      wrap(e.description, 100, "    "),
      wrap(`parts: ${e.parts}`, 100, "    "),
      "    options:",
      ...options,
      wrap(`reference: ${e.reference}`, 100, "    "),
    ].join("\n");
  }).join("\n\n");
}

/** The `recipes` command. */
export const command: Command = {
  name: "recipes",
  summary: "list the KV retention recipes (--method names) with descriptions and options",
  help: HELP,
  run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlagsWithPositionals(args, {
      json: { type: "boolean" },
    });
    if (positionals.length > 1) throw new UsageError("give at most one recipe name (see --help)");
    const methods = positionals.length ? [recipeMethod(positionals[0])] : listRecipes();
    console.log(
      values.json ? JSON.stringify(methods.map(entry), null, 2) : formatRecipes(methods),
    );
    return Promise.resolve(0);
  },
};
