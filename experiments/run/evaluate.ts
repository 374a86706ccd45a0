/**
 * The work of one run, sample by sample: the full-cache reference (greedy outputs for ROUGE-L,
 * prefill importance for the Lorenz/Gini figures), calibration importances, and the evaluation
 * of one cell (recipe config × budget): greedy long answers, teacher-forced PPL, scene accuracy,
 * object F1, what the cache kept per layer, and efficiency.
 *
 * @module
 */
import { analyzeImportance } from "../../lib/importance/analysis.ts";
import { objectF1 } from "../../lib/metrics/description_score.ts";
import { type Efficiency, efficiencyOf } from "../../lib/metrics/efficiency.ts";
import { answerTokenIds, teacherForcedNll } from "../../lib/metrics/perplexity.ts";
import { rougeL } from "../../lib/metrics/rouge.ts";
import { type SceneAnswer, scoreSceneAnswers } from "../../lib/metrics/scene_accuracy.ts";
import type { CachePolicy, PrefillInfo, StepInfo } from "../../lib/runtime/cache_policy.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { generate, type GenerateResult, type PositionMode } from "../../lib/runtime/generate.ts";
import type { KvCache } from "../../lib/runtime/kv_cache.ts";
import { measureImportance } from "../../lib/runtime/measure_importance.ts";
import type { Model, Prompt } from "../../lib/runtime/model.ts";
import type { EvalSample } from "./samples.ts";

/** Decoding settings shared by every cell. */
export interface DecodeSettings {
  /** Most new tokens of a long answer. */
  maxNewTokens: number;
  /** Most new tokens of a short answer (scenes). */
  maxShortTokens: number;
  /** RoPE positions of decoded tokens. */
  positionMode: PositionMode;
}

/** Delegates to a policy and keeps the cache and what each layer held right after prefill. */
class RecordingPolicy implements CachePolicy {
  cache?: KvCache;
  keptPositions: Int32Array[] = [];
  bytesAfterPrefill: number[] = [];
  constructor(readonly inner: CachePolicy) {}
  get needs() {
    return this.inner.needs;
  }
  afterPrefill(cache: KvCache, info: PrefillInfo): void {
    this.inner.afterPrefill(cache, info);
    this.cache = cache;
    this.keptPositions = Array.from(
      { length: cache.numLayers },
      (_, l) => cache.positions(l).slice(),
    );
    // Bytes of the entries each layer holds (buffers may keep spare capacity; see efficiency).
    this.bytesAfterPrefill = cache.lengths().map((n) => n * (2 * cache.rowSize * 4 + 4));
  }
  afterStep(cache: KvCache, info: StepInfo): void {
    this.inner.afterStep(cache, info);
  }
}

/**
 * Prompts are built once per sample and question and reused by every cell, up to `maxBytes` of
 * embeddings (default 1 GiB); past that, prompts are rebuilt when asked (a 7B LLaVA prompt is
 * about 10 MB, so a large data set does not hold every one in memory).
 */
export class PromptCache {
  #prompts = new Map<string, Promise<Prompt>>();
  #bytes = 0;
  constructor(readonly model: Model, readonly maxBytes = 2 ** 30) {}
  get(sample: EvalSample, question = sample.question): Promise<Prompt> {
    const key = `${sample.id}\n${question}`;
    const cached = this.#prompts.get(key);
    if (cached) return cached;
    const p = chatPrompt(this.model, { question, image: sample.image });
    if (this.#bytes < this.maxBytes) {
      this.#prompts.set(key, p);
      p.then((prompt) => (this.#bytes += prompt.embeds.byteLength), () => {});
    }
    return p;
  }
}

/** Text scored by ROUGE-L: the decoded ids with special tokens, as the reference's strings. */
function rougeText(model: Model, g: GenerateResult): string {
  return model.source.tokenizer?.decode(g.ids, { skipSpecialTokens: false }) ?? g.text;
}

/** The full-cache reference of one test sample. */
export interface ReferenceSample {
  /** Sample id. */
  id: string;
  /** Full-cache greedy long answer (special tokens dropped). */
  text: string;
  /** The same with special tokens, as ROUGE-L scores it. */
  rougeText: string;
  /** Prompt length N. */
  promptLength: number;
  /** Image positions. */
  imageSpan?: { start: number; end: number };
  /** Per layer: Gini of the prefill importance. */
  gini: number[];
  /** Per layer: the Lorenz curve sampled at 21 points. */
  lorenz: number[][];
  /** Per layer: share of the importance on image entries. */
  imageShare: number[];
}

/** Greedy full-cache answer and importance analysis of one sample. */
export async function referenceSample(
  model: Model,
  prompts: PromptCache,
  sample: EvalSample,
  settings: DecodeSettings,
): Promise<ReferenceSample> {
  const prompt = await prompts.get(sample);
  const g = await generate(model, prompt, {
    maxNewTokens: settings.maxNewTokens,
    positionMode: settings.positionMode,
  });
  const { importance } = await measureImportance(model, prompt);
  const a = analyzeImportance(importance, { imageSpan: prompt.imageSpan, points: 21 });
  return {
    id: sample.id,
    text: g.text,
    rougeText: rougeText(model, g),
    promptLength: prompt.length,
    ...(prompt.imageSpan && { imageSpan: prompt.imageSpan }),
    gini: a.layers.map((l) => l.gini),
    lorenz: a.layers.map((l) => l.lorenz),
    imageShare: a.layers.map((l) => l.imageShare ?? 0),
  };
}

/** Per-layer importance of a calibration sample's prompt. */
export async function calibrationImportance(
  model: Model,
  prompts: PromptCache,
  sample: EvalSample,
): Promise<Float32Array[]> {
  return (await measureImportance(model, await prompts.get(sample))).importance;
}

/** What one cell measured on one sample. */
export interface SampleResult {
  /** Sample id. */
  id: string;
  /** Sum of the answer tokens' NLL. */
  nllSum: number;
  /** Answer tokens scored. */
  tokens: number;
  /** ROUGE-L of the long answer against the full-cache one. */
  rouge: { p: number; r: number; f: number };
  /** The long answer (special tokens dropped). */
  text: string;
  /** Scenes: description scores. */
  describe?: {
    objectsRight: number;
    objectsTotal: number;
    invented: number;
    exact: boolean;
    f1: number;
  };
  /** Scenes: short questions right and asked. */
  short?: { right: number; total: number };
  /** Per layer: entries kept after prefill over the prompt length. */
  keptRatio: number[];
  /** Per layer: image entries among the kept ones. */
  imageShareOfKept: number[];
  /** Per layer: kept image entries over all image entries. */
  imageKept: number[];
  /** Scenes, per layer: object patches kept, and object patches (for a micro-average). */
  objectPatches?: { kept: number[]; total: number };
  /** Efficiency of the long answer's generation. */
  efficiency: Efficiency;
  /** Per layer: bytes of the entries held right after the prefill compression. */
  kvBytesAfterPrefill: number[];
}

function keptDiagnostics(
  kept: Int32Array[],
  prompt: Prompt,
  sample: EvalSample,
): Pick<SampleResult, "keptRatio" | "imageShareOfKept" | "imageKept" | "objectPatches"> {
  const N = prompt.length;
  const span = prompt.imageSpan;
  const imageCount = span ? span.end - span.start : 0;
  const inImage = (p: number) => span !== undefined && p >= span.start && p < span.end;
  const objectPositions = span && sample.objectPatches
    ? [...new Set(sample.objectPatches.flat())].map((p) => span.start + p)
    : undefined;
  return {
    keptRatio: kept.map((k) => k.length / N),
    imageShareOfKept: kept.map((k) => (k.length ? k.filter(inImage).length / k.length : 0)),
    imageKept: kept.map((k) => (imageCount ? k.filter(inImage).length / imageCount : 0)),
    ...(objectPositions && {
      objectPatches: {
        kept: kept.map((k) => {
          const set = new Set(k);
          return objectPositions.filter((p) => set.has(p)).length;
        }),
        total: objectPositions.length,
      },
    }),
  };
}

/** Evaluates one sample under `policy` (see the module documentation). */
export async function evaluateSample(
  model: Model,
  prompts: PromptCache,
  sample: EvalSample,
  reference: ReferenceSample,
  policy: CachePolicy,
  settings: DecodeSettings,
): Promise<SampleResult> {
  const prompt = await prompts.get(sample);
  const rec = new RecordingPolicy(policy);
  const g = await generate(model, prompt, {
    maxNewTokens: settings.maxNewTokens,
    policy: rec,
    positionMode: settings.positionMode,
  });
  const efficiency = efficiencyOf({ ...g.timings, generatedTokens: g.ids.length }, rec.cache!);
  const diagnostics = keptDiagnostics(rec.keptPositions, prompt, sample);
  const tf = await teacherForcedNll(model, prompt, answerTokenIds(model, sample.answer), {
    policy,
    positionMode: settings.positionMode,
  });
  const result: SampleResult = {
    id: sample.id,
    nllSum: tf.nll.reduce((s, x) => s + x, 0),
    tokens: tf.nll.length,
    rouge: rougeL(rougeText(model, g), reference.rougeText),
    text: g.text,
    ...diagnostics,
    efficiency,
    kvBytesAfterPrefill: rec.bytesAfterPrefill,
  };
  if (sample.scene) {
    const answers: SceneAnswer[] = [{
      scene: sample.scene,
      kind: "describe",
      question: sample.question,
      expected: sample.answer,
      got: g.text,
    }];
    for (const q of sample.shortQuestions ?? []) {
      const out = await generate(model, await prompts.get(sample, q.question), {
        maxNewTokens: settings.maxShortTokens,
        policy,
        positionMode: settings.positionMode,
      });
      answers.push({ scene: sample.scene, ...q, got: out.text });
    }
    const c = scoreSceneAnswers(answers, 0).counts;
    const f = objectF1(sample.scene, g.text);
    result.describe = {
      objectsRight: c.objectsRight,
      objectsTotal: c.objects,
      invented: f.stated - f.right,
      exact: c.descriptionsExact === 1,
      f1: f.f1,
    };
    result.short = { right: c.shortQuestionsRight, total: c.shortQuestions };
  }
  return result;
}
