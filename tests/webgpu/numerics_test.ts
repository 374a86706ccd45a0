/**
 * `webgpu` against `cpu` in float32 on the test checkpoints and the bundled model: logits,
 * importance and attention within {@link TOLERANCE}; generated ids equal at a 100 % budget.
 */
import { assert, assertEquals } from "@std/assert";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import {
  makeTinyLlama,
  type TinyLlamaOptions,
  writeTinyLlava,
} from "../fixtures/tiny_checkpoint.ts";
import { QUESTION, TINY, tinyPixels } from "../e2e/_models.ts";
import { noAdapter } from "./_adapter.ts";
import {
  bundledExample,
  compareModels,
  describeDifferences,
  type Differences,
} from "./_compare.ts";

/**
 * Float32 tolerances of `webgpu` against `cpu` (absolute): both evaluate the same graph, but
 * WebGPU shaders sum in other orders (tiled MatMul, parallel reductions) and use their own
 * exp/cos/sin, so results differ in the last bits and the differences grow with depth.
 */
export const TOLERANCE = {
  logits: 1e-4,
  importance: 1e-4,
  attention: 1e-5,
  /** Relative to the largest feature (the bundled CLIP's features reach ±215). */
  imageFeatures: 1e-5,
};

function check(d: Differences, name: string): void {
  console.log(describeDifferences(name, d));
  assert(d.logits <= TOLERANCE.logits, `${name}: logits differ by ${d.logits}`);
  assert(d.stepLogits <= TOLERANCE.logits, `${name}: step logits differ by ${d.stepLogits}`);
  assert(d.importance <= TOLERANCE.importance, `${name}: importance differs by ${d.importance}`);
  assert(d.attention <= TOLERANCE.attention, `${name}: attention differs by ${d.attention}`);
  assert(d.stepAttention <= TOLERANCE.attention, `${name}: step attention ${d.stepAttention}`);
  assert(
    d.imageFeatures <= TOLERANCE.imageFeatures * d.imageScale,
    `${name}: image features differ by ${d.imageFeatures}`,
  );
  assertEquals(d.fullIds, d.referenceIds, `${name}: full-cache ids`);
  assertEquals(d.prefixkvIds, d.referenceIds, `${name}: PrefixKV at 100 % ids`);
}

async function pair(
  source: Parameters<typeof loadModel>[0],
): Promise<[Model, Model]> {
  const cpu = await loadModel(source, { cacheDir: false });
  return [cpu, await loadModel(source, { device: "webgpu", cacheDir: false })];
}

// One configuration (llvmpipe is slow): GQA, a tied head and scaled RoPE cover the most code.
const LLAMAS: [string, TinyLlamaOptions][] = [
  ["tiny LLaMA, GQA, tied head, linear RoPE ×2", {
    heads: 4,
    kvHeads: 2,
    tieWordEmbeddings: true,
    ropeScaling: { type: "linear", factor: 2 },
  }],
];

Deno.test({
  name: "webgpu float32: tiny LLaMA checkpoints match cpu",
  ignore: noAdapter,
  async fn() {
    for (const [name, opts] of LLAMAS) {
      const ck = makeTinyLlama(opts);
      const [cpu, gpu] = await pair({ spec: ck.spec, tensors: ck.store });
      try {
        const ids = [1, 12, 40, 7, 33, 5, 18, 61, 9, 22, 31, 4, 8, 15, 16, 23];
        const prompt = { embeds: cpu.embedTokens(ids), ids, length: ids.length };
        check(await compareModels(cpu, gpu, prompt), name);
      } finally {
        await Promise.all([cpu.close(), gpu.close()]);
      }
    }
  },
});

Deno.test({
  name: "webgpu float32: tiny LLaVA (CLIP tower, projector, GQA decoder) matches cpu",
  ignore: noAdapter,
  async fn() {
    const root = await Deno.makeTempDir();
    const { dir } = await writeTinyLlava(root, TINY);
    const [cpu, gpu] = await pair(dir);
    try {
      const image = tinyPixels();
      const prompt = await chatPrompt(cpu, { question: QUESTION, image });
      check(await compareModels(cpu, gpu, prompt, { image }), "tiny LLaVA");
    } finally {
      await Promise.all([cpu.close(), gpu.close()]);
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "webgpu float32: the bundled tiny LLaVA matches cpu",
  ignore: noAdapter,
  async fn() {
    const [cpu, gpu] = await pair(BUNDLED_MODEL_DIR);
    try {
      const { prompt, image } = await bundledExample(cpu);
      check(await compareModels(cpu, gpu, prompt, { image, tokens: 12 }), "bundled tiny LLaVA");
    } finally {
      await Promise.all([cpu.close(), gpu.close()]);
    }
  },
});
