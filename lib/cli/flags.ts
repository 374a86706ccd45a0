/**
 * Flag handling shared by the CLI commands: parsing with usage errors, required flags, numeric
 * and choice flags, and the model-loading flags (`--model`, `--device`, `--cache-dir`,
 * `--threads`). Every message names the flag and fits on one line.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { modelDirOrBundled } from "../bundled.ts";
import { WEIGHT_FORMATS, type WeightFormat } from "../checkpoint/quantize.ts";
import { defaultGraphCacheDir } from "../graph/graph_cache.ts";
import { KV_LOCATIONS, type KvLocation } from "../runtime/kv_cache.ts";
import { loadModel, type Model } from "../runtime/model.ts";
import { type Device, parseDevice } from "../runtime/session.ts";
import { type Limit, limitMessage, LIMITS } from "../limits.ts";
import { checkOutputPath } from "../output_path.ts";
import { prefixAllocationOptions } from "../recipes/allocation/prefixkv_allocation.ts";
import { optionProblem } from "../recipes/options.ts";
import { type Precision, PRECISIONS } from "../runtime/webgpu.ts";
import { UsageError } from "./command.ts";

/** One `node:util` parseArgs option: a string or a boolean flag. */
export interface FlagSpec {
  /** `"string"` takes a value; `"boolean"` is a switch. */
  readonly type: "string" | "boolean";
  /** One-letter alias. */
  readonly short?: string;
  /** Value when the flag is absent. */
  readonly default?: string | boolean;
}

/** A command's options, keyed by flag name without the dashes. */
export type FlagOptions = Readonly<Record<string, FlagSpec>>;

/** Parsed values of `O`: strings (validated later) and booleans; absent flags are undefined. */
export type FlagValues<O extends FlagOptions> = {
  [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string;
};

/** Parses `args` against `options`, also returning positional arguments. */
export function parseFlagsWithPositionals<O extends FlagOptions>(
  args: string[],
  options: O,
): { values: FlagValues<O>; positionals: string[] } {
  return parse(args, options, true);
}

/**
 * Parses `args` against `options` (strict: unknown flags and positional arguments are errors)
 * and returns the values; a parse error becomes a {@link UsageError}.
 */
export function parseFlags<O extends FlagOptions>(args: string[], options: O): FlagValues<O> {
  return parse(args, options, false).values;
}

function parse<O extends FlagOptions>(args: string[], options: O, allowPositionals: boolean) {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: values as FlagValues<O>, positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
}

/** Throws a {@link UsageError} listing every flag of `names` that `values` lacks. */
export function requireFlags<V extends object>(values: V, names: (keyof V & string)[]): void {
  const missing = names.filter((n) => values[n] === undefined);
  if (missing.length > 0) {
    throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(", ")} (see --help)`);
  }
}

/** What a numeric flag must be. */
export interface NumberRules {
  /** Only whole numbers. */
  integer?: boolean;
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** The value must be strictly greater than this. */
  above?: number;
  /** Largest allowed value, with the reason (see `lib/limits.ts`). */
  max?: Limit;
}

/**
 * The number in `--name`'s `value`, or undefined when the flag is absent. Rejects empty text,
 * non-finite values and values that break `rules`, naming the flag and the rule.
 */
export function numberFlag(
  name: string,
  value: string | undefined,
  rules: NumberRules = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const ok = value.trim() !== "" && Number.isFinite(n) &&
    (!rules.integer || Number.isInteger(n)) &&
    (rules.min === undefined || n >= rules.min) &&
    (rules.above === undefined || n > rules.above);
  if (!ok) {
    const bound = rules.min !== undefined
      ? ` ≥ ${rules.min}`
      : rules.above !== undefined
      ? ` > ${rules.above}`
      : "";
    throw new UsageError(
      `--${name} must be ${rules.integer ? "an integer" : "a number"}${bound}, got "${value}"`,
    );
  }
  if (rules.max && n > rules.max.max) {
    throw new UsageError(limitMessage(`--${name}`, value, rules.max));
  }
  return n;
}

/** `--name`'s value if it is one of `choices`, undefined when absent; otherwise a usage error. */
export function choiceFlag<C extends string>(
  name: string,
  value: string | undefined,
  choices: readonly C[],
): C | undefined {
  if (value === undefined || (choices as readonly string[]).includes(value)) {
    return value as C | undefined;
  }
  const list = `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
  throw new UsageError(`--${name} must be ${list}, got "${value}"`);
}

/** parseArgs options of the model-loading flags, to spread into a command's options. */
export const MODEL_OPTIONS = {
  model: { type: "string" },
  device: { type: "string" },
  precision: { type: "string" },
  "kv-location": { type: "string" },
  "cache-dir": { type: "string" },
  threads: { type: "string" },
  weights: { type: "string" },
  "link-checkpoint": { type: "boolean" },
} as const;

/** Help lines for {@link MODEL_OPTIONS}, a section of a command's help text. */
export const MODEL_HELP = `Model:
  --model DIR                 checkpoint directory (llava-hf, original LLaVA-1.5 or LLaMA
                              layout); default: the bundled tiny LLaVA
  --device DEV                cpu (default), webgpu (onnxruntime-web on a WebGPU adapter) or
                              cuda (needs onnxruntime's CUDA provider)
  --precision P               float32 (default) or float16 (webgpu with shader-f16 only)
  --kv-location L             where KV caches live: gpu (the webgpu default: never copied
                              to the CPU while decoding) or cpu (fed at every step)
  --cache-dir DIR             graph cache directory (default .cache/prefixkv/graphs)
  --threads N                 threads per onnxruntime session (default: one per core; at most
                              4 per core)
  --weights FMT               decoder weights: f32 (default), int8 or int4 (block-quantized,
                              smaller and faster on CPU; fidelity cost in the README)
  --link-checkpoint           graphs point into the checkpoint's safetensors (hard links in
                              the graph cache) for weights that need no conversion (cpu, cuda)`;

/** Validated model-loading flags: where the checkpoint is and how to load it. */
export interface ModelSettings {
  /** Checkpoint directory (the bundled tiny LLaVA without `--model`). */
  dir: string;
  /** Execution device (`cpu` without `--device`). */
  device: Device;
  /** Weights and activations; undefined means float32. */
  precision?: Precision;
  /** Where KV caches live (`--kv-location`); undefined means the device's default. */
  cacheLocation?: KvLocation;
  /** Graph cache directory; undefined means the default. */
  cacheDir?: string;
  /** Threads per onnxruntime session; undefined means onnxruntime's choice. */
  threads?: number;
  /** Decoder weight format (`--weights`); absent means f32. */
  weights?: WeightFormat;
  /** Graphs point into the checkpoint's files (`--link-checkpoint`); absent means copies. */
  linkCheckpoint?: boolean;
}

/** Validates the {@link MODEL_OPTIONS} values without loading anything. */
export function modelSettings(values: FlagValues<typeof MODEL_OPTIONS>): ModelSettings {
  return {
    dir: modelDirOrBundled(values.model),
    device: parseDevice(values.device ?? "cpu"),
    precision: choiceFlag("precision", values.precision, PRECISIONS),
    cacheLocation: choiceFlag("kv-location", values["kv-location"], KV_LOCATIONS),
    cacheDir: values["cache-dir"],
    threads: numberFlag("threads", values.threads, { integer: true, min: 1, max: LIMITS.threads }),
    ...(values.weights === undefined
      ? {}
      : { weights: choiceFlag("weights", values.weights, WEIGHT_FORMATS) }),
    ...(values["link-checkpoint"] ? { linkCheckpoint: true } : {}),
  };
}

/**
 * Checks that the graph cache folder (`--cache-dir`, or the default) can be written, before any
 * work starts; see {@link checkOutputPath}.
 */
export async function checkCacheDir(settings: ModelSettings): Promise<void> {
  await checkOutputPath(settings.cacheDir ?? defaultGraphCacheDir(), {
    kind: "folder",
    what: settings.cacheDir === undefined
      ? "graph cache folder (give --cache-dir DIR)"
      : "--cache-dir",
  });
}

/**
 * Loads the model the {@link MODEL_OPTIONS} values name (validated first; the graph cache
 * folder checked with {@link checkCacheDir}).
 */
export async function modelFromFlags(values: FlagValues<typeof MODEL_OPTIONS>): Promise<Model> {
  const settings = modelSettings(values);
  await checkCacheDir(settings);
  return loadModel(settings.dir, settings);
}

/** parseArgs options of PrefixKV's prefix-search settings. */
export const SEARCH_OPTIONS = {
  "start-size": { type: "string" },
  tolerance: { type: "string" },
  "max-iterations": { type: "string" },
} as const;

/** Validated prefix-search settings; undefined means the search's default. */
export interface SearchSettings {
  /** Sink tokens always kept (an integer ≥ 0). */
  startSize?: number;
  /** Stop within this many tokens of the target (> 0). */
  tolerance?: number;
  /** Bisection steps at most (an integer ≥ 1). */
  maxIterations?: number;
}

/** The schema of each search flag: the `prefixkv` recipe's own options (one set of rules). */
const SEARCH_SCHEMAS = {
  "start-size": prefixAllocationOptions.startSize,
  tolerance: prefixAllocationOptions.tolerance,
  "max-iterations": prefixAllocationOptions.maxIterations,
} as const;

/** Validates whichever {@link SEARCH_OPTIONS} values a command takes. */
export function searchSettings(values: FlagValues<typeof SEARCH_OPTIONS>): SearchSettings {
  const read = (flag: keyof typeof SEARCH_SCHEMAS): number | undefined => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const n = text.trim() === "" ? NaN : Number(text);
    const problem = optionProblem(SEARCH_SCHEMAS[flag], n);
    if (problem) throw new UsageError(`--${flag} must be ${problem}, got "${text}"`);
    return n;
  };
  return {
    startSize: read("start-size"),
    tolerance: read("tolerance"),
    maxIterations: read("max-iterations"),
  };
}
