/**
 * Importance analysis of one prompt on a model: prefill with attention importance, then
 * `analyzeImportance` (per-layer priority curves, Lorenz curves, Gini coefficients, image/text
 * shares and, at a budget, PrefixKV's per-layer kept counts and p). {@link writePromptAnalysis}
 * saves `importance.json` and `analysis.json`, both with provenance.
 *
 * @module
 */
import { join } from "node:path";
import {
  analyzeImportance,
  type AnalyzeOptions,
  type ImportanceAnalysis,
} from "../importance/analysis.ts";
import type { Provenance } from "../provenance.ts";
import { chatPrompt, type ChatPromptInput } from "../runtime/chat_prompt.ts";
import { measureImportance } from "../runtime/measure_importance.ts";
import type { Model } from "../runtime/model.ts";

/** Options of {@link analyzePrompt}: the analysis options except the image span. */
export type PromptAnalysisOptions = Omit<AnalyzeOptions, "imageSpan">;

/** What {@link analyzePrompt} returns. */
export interface PromptAnalysis {
  /** Prompt ids after image expansion (the image's rows carry the image token id). */
  ids: number[];
  /** Prompt length N after image expansion. */
  promptLength: number;
  /** Half-open range `[start, end)` of the image-feature positions, or null. */
  imageSpan: { start: number; end: number } | null;
  /** Per layer, N importance scores (plain numbers, JSON-ready). */
  importance: number[][];
  /** The importance analysis of every layer. */
  analysis: ImportanceAnalysis;
  /** Prefill time in milliseconds. */
  prefillMs: number;
}

/** Measures and analyses the importance of `input` on `model`. */
export async function analyzePrompt(
  model: Model,
  input: ChatPromptInput,
  opts: PromptAnalysisOptions = {},
): Promise<PromptAnalysis> {
  const prompt = await chatPrompt(model, input);
  const measured = await measureImportance(model, prompt);
  const analysis = analyzeImportance(measured.importance, {
    ...opts,
    imageSpan: prompt.imageSpan,
  });
  return {
    ids: prompt.ids,
    promptLength: prompt.length,
    imageSpan: prompt.imageSpan ?? null,
    importance: measured.importance.map((v) => Array.from(v)),
    analysis,
    prefillMs: measured.prefillMs,
  };
}

/** Paths written by {@link writePromptAnalysis}. */
export interface PromptAnalysisFiles {
  /** Path of `importance.json`. */
  importancePath: string;
  /** Path of `analysis.json`. */
  analysisPath: string;
}

/**
 * Writes `importance.json` ({provenance, promptLength, imageSpan, ids, numLayers, importance})
 * and `analysis.json` ({provenance, ...analysis}) into `dir`, creating it if needed.
 */
export async function writePromptAnalysis(
  dir: string,
  result: PromptAnalysis,
  provenance: Provenance,
): Promise<PromptAnalysisFiles> {
  await Deno.mkdir(dir, { recursive: true });
  const importancePath = join(dir, "importance.json");
  const analysisPath = join(dir, "analysis.json");
  await Deno.writeTextFile(
    importancePath,
    JSON.stringify({
      provenance,
      promptLength: result.promptLength,
      imageSpan: result.imageSpan,
      ids: result.ids,
      numLayers: result.importance.length,
      importance: result.importance,
    }) + "\n",
  );
  await Deno.writeTextFile(
    analysisPath,
    JSON.stringify({ provenance, ...result.analysis }, null, 1) + "\n",
  );
  return { importancePath, analysisPath };
}
