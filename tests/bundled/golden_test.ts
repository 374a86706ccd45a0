/**
 * The runtime on the bundled tiny LLaVA against PyTorch's golden fixtures
 * (`tests/fixtures/tiny_llava_golden/`, written by `experiments/tiny-llava/train.py
 * --golden-only` in float64): prefill logits at every position, ten greedy decode steps fed the
 * golden ids, and every layer's importance vector. A second test holds the runtime against the
 * plain-loop reference on the same checkpoint, so a failure of the first one can be told apart:
 * runtime bug (both fail) or fixtures from another training run (only the golden one fails).
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { loadImage, preprocessImage } from "../../lib/checkpoint/image.ts";
import { argmax } from "../../lib/runtime/generate.ts";
import { loadModel, type Model, type Prompt } from "../../lib/runtime/model.ts";
import { maxAbsDiff } from "../graph/max_abs_diff.ts";
import { referenceLlava } from "../reference/clip_reference.ts";

const GOLDEN_DIR = new URL("../fixtures/tiny_llava_golden/", import.meta.url).pathname;
const LOGIT_TOL = 1e-4;
const IMPORTANCE_TOL = 1e-5;
// float32 probabilities after 8 trained layers (measured: at most 1.6e-6 on this prompt; the
// head-averaged matrices: 4e-7).
const ATTENTION_TOL = 1e-5;

/** One golden prompt as written by train.py (see its `notes` field). */
interface GoldenCase {
  name: string;
  image: string | null;
  input_ids: number[];
  image_token_index: number;
  image_seq_length: number;
  merged_length: number;
  /** `[merged_length][vocab]`. */
  prefill_logits: number[][];
  greedy_ids: number[];
  /** `step_logits[k]`: logits after appending `greedy_ids[k]`. */
  step_logits: number[][];
  /** `[layer][merged_length]`. */
  importance: number[][];
}

async function goldenCases(): Promise<GoldenCase[]> {
  const manifest = JSON.parse(await Deno.readTextFile(join(GOLDEN_DIR, "manifest.json"))) as {
    name: string;
    file: string;
  }[];
  return Promise.all(
    manifest.map(async (m) =>
      JSON.parse(await Deno.readTextFile(join(GOLDEN_DIR, m.file))) as GoldenCase
    ),
  );
}

/** The golden prompt assembled by the runtime: ids exactly as given, image preprocessed. */
async function goldenPrompt(model: Model, g: GoldenCase): Promise<Prompt> {
  if (g.image === null) return model.buildPrompt({ ids: g.input_ids });
  const img = await loadImage(join(GOLDEN_DIR, g.image));
  return model.buildPrompt({
    ids: g.input_ids,
    image: preprocessImage(img, model.source.imageProcessor!),
  });
}

/** Gap between the largest and the second largest value (how safe an argmax is). */
function topMargin(v: readonly number[]): number {
  const sorted = [...v].sort((a, b) => b - a);
  return sorted[0] - sorted[1];
}

async function withBundled(fn: (model: Model) => Promise<void>): Promise<void> {
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
  try {
    await fn(model);
  } finally {
    await model.close();
  }
}

Deno.test("bundled model: runtime matches the PyTorch golden fixtures", () =>
  withBundled(async (model) => {
    const cases = await goldenCases();
    assert(cases.length >= 3, `expected at least three golden prompts, found ${cases.length}`);
    const V = model.vocabSize;
    for (const g of cases) {
      const at = (what: string) => `${g.name}: ${what}`;
      assertEquals(g.image_token_index, model.spec.imageTokenId, at("image token id"));
      assertEquals(
        g.input_ids.filter((id) => id === g.image_token_index).length,
        g.image === null ? 0 : 1,
        at("image tokens in input_ids"),
      );
      const prompt = await goldenPrompt(model, g);
      assertEquals(prompt.length, g.merged_length, at("merged prompt length"));
      const N = prompt.length;

      const pre = await model.prefill(prompt.embeds, { attention: "importance", logits: "all" });
      assertEquals(pre.logitRows, N, at("prefill logit rows"));
      assertEquals(g.prefill_logits.length, N, at("golden prefill rows"));
      const prefillDiff = maxAbsDiff(pre.logits, g.prefill_logits.flat());
      assert(
        prefillDiff <= LOGIT_TOL,
        at(`prefill logits differ by ${prefillDiff} (> ${LOGIT_TOL})`),
      );

      assertEquals(pre.importance!.length, g.importance.length, at("importance layers"));
      pre.importance!.forEach((imp, l) => {
        const d = maxAbsDiff(imp, g.importance[l]);
        assert(d <= IMPORTANCE_TOL, at(`layer ${l} importance differs by ${d}`));
      });

      // Decode: feed the golden ids so each step's logits are comparable even after a mismatch;
      // the runtime's own argmax must pick the golden id unless PyTorch's top two nearly tie.
      assertEquals(g.greedy_ids.length, 10, at("golden greedy steps"));
      assertEquals(g.step_logits.length, 10, at("golden step logits"));
      const lastRow = pre.logits.subarray((N - 1) * V);
      const ids = [argmax(lastRow)];
      const margins = [topMargin(g.prefill_logits[N - 1])];
      const cache = pre.cache;
      for (let k = 0; k < 10; k++) {
        const out = await model.step(g.greedy_ids[k], cache, N + k);
        const d = maxAbsDiff(out.logits, g.step_logits[k]);
        assert(d <= LOGIT_TOL, at(`decode step ${k} logits differ by ${d} (> ${LOGIT_TOL})`));
        if (k < 9) {
          ids.push(argmax(out.logits));
          margins.push(topMargin(g.step_logits[k]));
        }
      }
      ids.forEach((id, k) => {
        if (margins[k] > 2 * LOGIT_TOL) {
          assertEquals(id, g.greedy_ids[k], at(`greedy id ${k}`));
        }
      });
    }
  }));

Deno.test("bundled model: runtime matches the plain-loop reference on a golden prompt", () =>
  withBundled(async (model) => {
    const g = (await goldenCases()).find((c) => c.image !== null)!;
    const ref = referenceLlava(model.spec, model.source.tensors);
    const img = await loadImage(join(GOLDEN_DIR, g.image!));
    const pixels = preprocessImage(img, model.source.imageProcessor!);
    const prompt = await model.buildPrompt({ ids: g.input_ids, image: pixels });
    const want = ref.promptEmbeddings(g.input_ids, pixels);
    assertEquals(prompt.length, want.length);
    // float32 (ONNX) against float64 (reference) through the vision tower: relative to the
    // largest feature, as the trained tower's features reach tens.
    const de = maxAbsDiff(prompt.embeds, want.embeds);
    const scale = want.embeds.reduce((m, x) => Math.max(m, Math.abs(x)), 1);
    assert(de <= 1e-6 * scale, `prompt embeddings differ by ${de} (largest value ${scale})`);

    const N = prompt.length;
    const positions = Array.from({ length: N }, (_, i) => i);
    const refCache = ref.llama.newCache();
    const exp = ref.llama.forward(want.embeds, positions, refCache);
    const pre = await model.prefill(prompt.embeds, { attention: "headMatrices", logits: "all" });
    const d = maxAbsDiff(pre.logits, exp.logits);
    assert(d <= LOGIT_TOL, `prefill logits differ from the reference by ${d}`);
    const H = model.spec.text.numHeads;
    exp.attention.forEach((att, l) => {
      // Reference attention is [N, N] (row = query); importance sums it over the queries.
      const importance = new Float64Array(N);
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) importance[j] += att[i * N + j];
      const di = maxAbsDiff(pre.importance![l], importance);
      assert(di <= IMPORTANCE_TOL, `layer ${l} importance differs from the reference by ${di}`);
      // Every head's probabilities (GQA: 4 query heads over 2 KV heads), and their mean.
      const dh = maxAbsDiff(pre.headAttention![l], exp.headAttention[l]);
      assert(dh <= ATTENTION_TOL, `layer ${l} per-head attention differs by ${dh}`);
      const mean = new Float64Array(N * N);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < N * N; i++) mean[i] += pre.headAttention![l][h * N * N + i] / H;
      }
      const dm = maxAbsDiff(pre.attention![l], mean);
      assert(dm <= 1e-7, `layer ${l}: the head mean differs from the matrices output by ${dm}`);
    });

    // Three decode steps fed the reference's own greedy ids.
    const V = model.vocabSize;
    let next = argmax(exp.logits.subarray((N - 1) * V));
    assertEquals(argmax(pre.logits.subarray((N - 1) * V)), next, "first greedy id");
    for (let k = 0; k < 3; k++) {
      const out = await model.step(next, pre.cache, N + k);
      const step = ref.llama.forward(ref.llama.embed([next]), [N + k], refCache);
      const ds = maxAbsDiff(out.logits, step.logits);
      assert(ds <= LOGIT_TOL, `decode step ${k} logits differ from the reference by ${ds}`);
      next = argmax(step.logits);
      assertEquals(argmax(out.logits), next, `greedy id after step ${k}`);
    }
  }));
