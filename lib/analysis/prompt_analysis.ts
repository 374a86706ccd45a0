/**
 * Importance analysis of one prompt on a model: prefill with attention importance, then
 * `analyzeImportance` (per-layer priority curves, Lorenz curves, Gini coefficients, image/text
 * shares) and, at a budget, `keptByPrefixKV` (PrefixKV's p and per-layer kept entries).
 * {@link writePromptAnalysis} saves `importance.json` and `analysis.json`, both with provenance.
 *
 * @module
 */
import { join } from "node:path";
import {
  analyzeImportance,
  type ImportanceAnalysis,
  type LayerAnalysis,
} from "../importance/analysis.ts";
import type { Provenance } from "../provenance.ts";
import { chatPrompt, type ChatPromptInput } from "../runtime/chat_prompt.ts";
import { measureImportance } from "../runtime/measure_importance.ts";
import type { Model } from "../runtime/model.ts";
import { type KeptAnalysis, keptByPrefixKV, type KeptOptions, type KeptSearch } from "./kept.ts";

/** Options of {@link analyzePrompt}: the curves' sampling and, optionally, a budget to search. */
export interface PromptAnalysisOptions extends Omit<KeptOptions, "imageSpan" | "budget"> {
  /** Points of the sampled curves, evenly spaced in [0, 1] (default 101). */
  points?: number;
  /** When given, runs PrefixKV's search at this kept fraction and reports what it keeps. */
  budget?: number;
}

/** One layer of {@link PromptImportanceAnalysis}: statistics and, at a budget, kept entries. */
export interface PromptLayerAnalysis extends LayerAnalysis {
  /** With a budget: the entries this layer keeps. */
  kept?: KeptAnalysis;
}

/** The statistics of every layer and, at a budget, what PrefixKV keeps (`analysis.json`). */
export interface PromptImportanceAnalysis extends Omit<ImportanceAnalysis, "layers"> {
  /** One analysis per layer. */
  layers: PromptLayerAnalysis[];
  /** With a budget: the search summary. */
  search?: KeptSearch;
}

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
  /** The importance analysis of every layer (with a budget, what PrefixKV keeps). */
  analysis: PromptImportanceAnalysis;
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
  const { points, budget, ...search } = opts;
  const imageSpan = prompt.imageSpan;
  const analysis: PromptImportanceAnalysis = analyzeImportance(measured.importance, {
    points,
    imageSpan,
  });
  if (budget !== undefined) {
    const kept = keptByPrefixKV(measured.importance, { ...search, budget, imageSpan });
    analysis.layers = analysis.layers.map((layer, l) => ({ ...layer, kept: kept.layers[l] }));
    analysis.search = kept.search;
  }
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
