/**
 * Options shared by several methods (sinks, decode distance, PrefixKV's allocation) as zod
 * schemas, and the plain description of any method's options that help texts, docs and error
 * messages print: name, rule, default, description.
 *
 * @module
 */
import { z } from "zod";
import { DEFAULT_DISTANCE } from "../prefix/fixed_distance.ts";
import type { OptionSchema } from "./method.ts";

/** Leading positions always kept (attention sinks); 1 as in the paper's runs. */
export const startSizeOption = z.number().int().min(0).default(1)
  .describe("leading positions always kept (attention sinks)");

/** The fixed-distance decode eviction's offset (paper.md §1.7). */
export const distanceOption = z.number().int().refine((d) => d !== 0, "not 0")
  .default(DEFAULT_DISTANCE)
  .describe("decode eviction index: K_l + distance when ≤ −1 (the paper's −25), else absolute");

/** One option of a method, as help texts and docs show it. */
export interface RecipeOptionInfo {
  /** Option name as configs spell it, e.g. `"startSize"`. */
  name: string;
  /** What values it takes, e.g. `"an integer ≥ 0"`. */
  rule: string;
  /** The `.describe()` text. */
  description: string;
  /** Default value, or undefined when the option is off unless given. */
  default?: unknown;
  /** Its JSON schema (for tools that generate forms or flags). */
  schema: JsonSchema;
}

/** The subset of JSON Schema that zod emits for option schemas. */
export interface JsonSchema {
  /** `"integer"`, `"number"`, `"boolean"`, `"string"`, `"array"`… */
  type?: string;
  /** Allowed values of a choice. */
  enum?: unknown[];
  /** Alternatives (e.g. a file path or a list of ratios). */
  anyOf?: JsonSchema[];
  /** Element schema of a list. */
  items?: JsonSchema;
  /** Inclusive lower bound. */
  minimum?: number;
  /** Inclusive upper bound. */
  maximum?: number;
  /** Exclusive lower bound. */
  exclusiveMinimum?: number;
  /** Exclusive upper bound. */
  exclusiveMaximum?: number;
  /** Default value. */
  default?: unknown;
  /** The `.describe()` text. */
  description?: string;
}

const SAFE = Number.MAX_SAFE_INTEGER;

/** "an integer ≥ 0", "a number in (0, 1]", "one of max, avg", … for a JSON schema. */
export function ruleOf(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(ruleOf).join(" or ");
  if (s.enum) return `one of ${s.enum.join(", ")}`;
  switch (s.type) {
    case "boolean":
      return "true or false";
    case "string":
      return "a string";
    case "array":
      return `a list of ${ruleOf(s.items ?? {}).replace(/^an? (\w+)/, "$1s")}`;
    case "integer":
    case "number": {
      const what = s.type === "integer" ? "an integer" : "a number";
      const lo = s.exclusiveMinimum ??
        (s.minimum !== undefined && s.minimum > -SAFE ? s.minimum : undefined);
      const hi = s.exclusiveMaximum ??
        (s.maximum !== undefined && s.maximum < SAFE ? s.maximum : undefined);
      const loOpen = s.exclusiveMinimum !== undefined;
      const hiOpen = s.exclusiveMaximum !== undefined;
      if (lo !== undefined && hi !== undefined) {
        return `${what} in ${loOpen ? "(" : "["}${lo}, ${hi}${hiOpen ? ")" : "]"}`;
      }
      if (lo !== undefined) return `${what} ${loOpen ? ">" : "≥"} ${lo}`;
      if (hi !== undefined) return `${what} ${hiOpen ? "<" : "≤"} ${hi}`;
      return what;
    }
    default:
      return "a value";
  }
}

/**
 * Checks one value against one option's schema (a zod field such as
 * {@link startSizeOption}); returns the rule it breaks (`"an integer ≥ 0"`, plus a
 * refinement's message), or undefined when the value is fine.
 */
export function optionProblem(schema: unknown, value: unknown): string | undefined {
  const zod = schema as z.ZodType;
  const result = zod.safeParse(value);
  if (result.success) return undefined;
  const rule = ruleOf(z.toJSONSchema(zod, { io: "input", unrepresentable: "any" }) as JsonSchema);
  const custom = result.error.issues.find((i) => i.code === "custom");
  return custom ? `${rule} (${custom.message})` : rule;
}

/** The options of a method's schema (a zod object), in declaration order. */
export function describeOptions(schema: OptionSchema<unknown>): RecipeOptionInfo[] {
  const zod = schema as unknown as z.ZodObject;
  const json = z.toJSONSchema(zod, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, JsonSchema>;
  };
  return Object.keys(schema.shape).map((name) => {
    const s = json.properties?.[name] ?? {};
    return {
      name,
      rule: ruleOf(s),
      description: s.description ?? "",
      ...(s.default !== undefined && { default: s.default }),
      schema: s,
    };
  });
}

/** One line per option: `startSize — an integer ≥ 0, default 1: leading positions …`. */
export function formatOptionList(options: readonly RecipeOptionInfo[]): string {
  if (options.length === 0) return "no options";
  return options.map((o) =>
    `${o.name} (${o.rule}${
      o.default !== undefined ? `, default ${JSON.stringify(o.default)}` : ""
    }): ${o.description}`
  ).join("; ");
}
