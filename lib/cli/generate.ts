/**
 * `generate`: greedy decoding from a checkpoint, optionally with an image, under a KV retention
 * policy ({@link buildPolicy}; full cache by default).
 *
 * @module
 */
import { readReferenceConfig } from "../prefix/config.ts";
import { recipeFromArgs } from "../recipes/from_args.ts";
import { decisionSummary, retentionReport } from "../recipes/report.ts";
import type { CachePolicy } from "../runtime/cache_policy.ts";
import { chatPrompt, imagePixels } from "../runtime/chat_prompt.ts";
import { generate, type PositionMode } from "../runtime/generate.ts";
import type { Model, Prompt } from "../runtime/model.ts";
import { ObservedPolicy } from "../runtime/observed_policy.ts";
import { findWebGpuAdapter } from "../runtime/webgpu.ts";
import { type Command, UsageError } from "./command.ts";
import {
  choiceFlag,
  type FlagValues,
  MODEL_HELP,
  MODEL_OPTIONS,
  modelFromFlags,
  numberFlag,
  parseFlags,
} from "./flags.ts";
import { RECIPE_OPTIONS, recipeArgsFromFlags, recipeHelp } from "./recipes.ts";

const HELP =
  `Usage: deno task prefixkv generate [--model DIR] (--prompt TEXT | --input-ids IDS) [options]

Greedy decoding. The first new token comes from the prompt's prefill; an end-of-sequence token
stops generation.

Options:
  --prompt TEXT               the question; put into the checkpoint's chat format (its template,
                              llava_v1 for LLaVA, or as is) with the image placeholder when --image
                              is given, then tokenized (with BOS)
  --raw                       with --prompt: tokenize TEXT as is, no chat format (write <image>
                              where the image goes)
  --input-ids IDS             comma-separated token ids, fed exactly as given (no BOS, no chat
                              format); with --image, one of them must be the image token id
  --image FILE                PNG or JPEG image (LLaVA models)
  --max-new-tokens N          most tokens to generate (default 64; generation stops at </s>)
  --position-mode MODE        RoPE positions of decoded tokens: absolute (true index, default) or
                              paper (layer 0's cache length, as the PrefixKV code does)
  --json                      print one JSON object: ids (generated only), text, promptLength,
                              stoppedAtEos, timings {prefillMs, decodeMsPerToken, ...},
                              method, budget, fraction, allocation, cacheLengthsAfterPrefill,
                              entriesHeldAfterPrefill, bytesHeldAfterPrefill, cacheLengths,
                              entriesHeld, bytesHeld (at the end), positionMode, the
                              allocation's decision sections (prefixkv {mode, p, kept, ...} for
                              PrefixKV allocations), device, precision, cacheLocation,
                              adapter (webgpu), graphCachePath, graphLoads
  -h, --help                  this text

${MODEL_HELP}

${recipeHelp()}`;

/** Options of the command as parsed (strings until validated). */
export const OPTIONS = {
  ...MODEL_OPTIONS,
  prompt: { type: "string" },
  raw: { type: "boolean" },
  "input-ids": { type: "string" },
  image: { type: "string" },
  "max-new-tokens": { type: "string" },
  "position-mode": { type: "string" },
  json: { type: "boolean" },
  ...RECIPE_OPTIONS,
} as const;

/** Parsed option values (see {@link OPTIONS}). */
export type GenerateArgs = FlagValues<typeof OPTIONS>;

/**
 * The KV retention policy for a run: the single place where parsed arguments become a
 * {@link CachePolicy} (a registered recipe at its budget; `full` without policy options). An
 * offline `--conf` is checked against the model's layer count here, before any prefill.
 */
export async function buildPolicy(args: GenerateArgs, model: Model): Promise<CachePolicy> {
  const recipeArgs = recipeArgsFromFlags(args);
  if (typeof recipeArgs.conf === "string") {
    await readReferenceConfig(recipeArgs.conf, model.spec.text.numLayers);
  }
  const { recipe, budget } = recipeFromArgs(recipeArgs);
  return recipe.policy(budget);
}

/** Parses `--input-ids` ("1,2,3"). */
export function parseIds(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) {
    throw new UsageError(`--input-ids needs at least one id, e.g. --input-ids 1,2,3`);
  }
  return parts.map((p) => {
    if (!/^-?\d+$/.test(p)) throw new UsageError(`--input-ids: "${p}" is not an integer token id`);
    return Number(p);
  });
}

async function promptOf(model: Model, a: GenerateArgs): Promise<Prompt> {
  if (a["input-ids"] !== undefined) {
    const image = a.image === undefined ? undefined : await imagePixels(model, a.image);
    return model.buildPrompt({ ids: parseIds(a["input-ids"]), image });
  }
  return chatPrompt(model, { question: a.prompt!, image: a.image, raw: a.raw });
}

/** The `generate` command. */
export const command: Command = {
  name: "generate",
  summary: "greedy decoding from a checkpoint (optionally with an image and a KV policy)",
  help: HELP,
  async run(args: string[]): Promise<number> {
    const a = parseFlags(args, OPTIONS);
    if ((a.prompt === undefined) === (a["input-ids"] === undefined)) {
      throw new UsageError("give exactly one of --prompt TEXT and --input-ids IDS (see --help)");
    }
    const positionModes: PositionMode[] = ["absolute", "paper"];
    const positionMode = choiceFlag("position-mode", a["position-mode"], positionModes) ??
      "absolute";
    const maxNewTokens =
      numberFlag("max-new-tokens", a["max-new-tokens"], { integer: true, min: 1 }) ?? 64;

    const { recipe } = recipeFromArgs(recipeArgsFromFlags(a)); // bad flags fail before loading

    const model = await modelFromFlags(a);
    try {
      const policy = await buildPolicy(a, model);
      const prompt = await promptOf(model, a);
      const observed = new ObservedPolicy(policy);
      const result = await generate(model, prompt, {
        maxNewTokens,
        policy: observed,
        positionMode,
      });
      const prefill = observed.afterPrefillSnapshot;
      const retention = retentionReport(recipe.name, policy, prefill);
      const entriesHeld = result.cacheLengths.reduce((s, x) => s + x, 0);
      if (a.json) {
        const { method, budget, fraction, kept: _kept, allocation, ...sections } = retention;
        console.log(JSON.stringify({
          ...result,
          method,
          budget,
          fraction,
          allocation,
          cacheLengthsAfterPrefill: prefill?.lengths ?? null,
          entriesHeldAfterPrefill: prefill?.entriesHeld ?? null,
          bytesHeldAfterPrefill: prefill?.bytesHeld ?? null,
          entriesHeld,
          ...sections,
          device: model.device,
          precision: model.precision,
          cacheLocation: model.cacheLocation,
          adapter: model.device === "webgpu" ? await findWebGpuAdapter() : null,
          graphCachePath: model.graphCachePath,
          graphLoads: model.graphLoads,
        }));
      } else {
        console.log(result.text);
        const t = result.timings;
        const decided = decisionSummary(retention);
        console.error(
          `[${result.ids.length} tokens, prompt ${result.promptLength}; prefill ` +
            `${t.prefillMs.toFixed(1)} ms, decode ${t.decodeMsPerToken.toFixed(2)} ms/token; ` +
            `${retention.method}@${retention.budget}${decided ? ` ${decided}` : ""}; ` +
            `cache ${entriesHeld} entries, ${result.bytesHeld} bytes; positions ${positionMode}]`,
        );
      }
    } finally {
      await model.close();
    }
    return 0;
  },
};
