/**
 * Checkpoints as transformers 5 saves them: vision tower tensors without `vision_model.`,
 * `text_config.rope_parameters` instead of `rope_theta` / `rope_scaling` (written by
 * `writeTransformers5Layout` from the very weights of a tiny llava-hf checkpoint). Loaded
 * through `loadModel`, they must be the same model as the transformers 4 layout; a llama3-scaled
 * RoPE must match the plain-loop reference (and differ from unscaled RoPE, so the check can
 * fail); and a sequence past `max_position_embeddings` is refused.
 */
import { join } from "node:path";
import {
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLessOrEqual,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import type { ModelSpec } from "../../lib/checkpoint/spec.ts";
import { CheckpointError, InputError } from "../../lib/errors.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import { writeTinyLlama, writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";
import { writeTransformers5Layout } from "../e2e/_layouts.ts";
import { RefCache, referenceLlama } from "../reference/llama_reference.ts";
import { referenceLlava } from "../reference/clip_reference.ts";

const TEXT = "What is in the image ?\n<image>\nDescribe this picture .";
const TOL = 1e-6;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length, "lengths differ");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function pixels(size: number): Float32Array {
  return Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.37) * 1.8);
}

function withoutNames(spec: ModelSpec) {
  const { prefix: _p, lmHead: _l, ...text } = spec.text;
  const { prefix: _v, ...vision } = spec.vision!;
  const { linear1: _1, linear2: _2, ...projector } = spec.projector!;
  return { ...spec, text, vision, projector };
}

async function withDirs(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "t5_layout_" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function withModel(dir: string, fn: (m: Model) => Promise<void>): Promise<void> {
  const m = await loadModel(dir, { cacheDir: false });
  try {
    await fn(m);
  } finally {
    await m.close();
  }
}

async function prefillLogits(m: Model): Promise<{ logits: Float32Array; length: number }> {
  const prompt = await m.buildPrompt({ text: TEXT, image: pixels(m.spec.vision!.imageSize) });
  const out = await m.prefill(prompt.embeds);
  return { logits: out.logits, length: prompt.length };
}

Deno.test("transformers 5 layout: same model as the transformers 4 layout", () =>
  withDirs(async (root) => {
    const src = await writeTinyLlava(join(root, "t4"), {
      heads: 4,
      kvHeads: 2,
      layers: 2,
      seed: 3,
    });
    const saved = join(root, "t5"), modular = join(root, "t5_model");
    await writeTransformers5Layout(src, saved);
    await writeTransformers5Layout(src, modular, { modelPrefix: true });
    const config = JSON.parse(await Deno.readTextFile(join(saved, "config.json")));
    assertEquals(config.text_config.rope_theta, undefined);
    assertEquals(config.text_config.rope_parameters, { rope_type: "default", rope_theta: 10000 });
    await withModel(src.dir, async (ref) => {
      const want = await prefillLogits(ref);
      for (
        const [dir, text, vision, projector] of [
          [saved, "language_model.model.", "vision_tower.", "multi_modal_projector."],
          [modular, "model.language_model.", "model.vision_tower.", "model.multi_modal_projector."],
        ]
      ) {
        await withModel(dir, async (m) => {
          assertEquals(
            [m.spec.text.prefix, m.spec.vision?.prefix, m.spec.projector?.linear1],
            [text, vision, `${projector}linear_1`],
          );
          assertEquals(withoutNames(m.spec), withoutNames(ref.spec));
          const got = await prefillLogits(m);
          assertEquals(got.length, want.length);
          assertLessOrEqual(maxAbsDiff(got.logits, want.logits), TOL, dir);
        });
      }
    });
  }));

Deno.test("transformers 5 layout: llama3 rope_parameters are applied, as the reference computes", () =>
  withDirs(async (root) => {
    const ropeScaling = {
      type: "llama3" as const,
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 64,
    };
    const opts = { hidden: 32, heads: 2, kvHeads: 1, layers: 2, seed: 8, ropeTheta: 500000 };
    const src = await writeTinyLlava(join(root, "t4"), { ...opts, ropeScaling });
    const dir = join(root, "t5");
    await writeTransformers5Layout(src, dir);
    const plain = await writeTinyLlava(join(root, "plain"), opts); // same weights, no scaling
    const plainT5 = join(root, "plain_t5");
    await writeTransformers5Layout(plain, plainT5);
    await withModel(dir, async (m) => {
      assertEquals(m.spec.text.ropeScaling, ropeScaling);
      assertEquals(m.spec.text.ropeTheta, 500000);
      const px = pixels(m.spec.vision!.imageSize);
      const prompt = await m.buildPrompt({ text: TEXT, image: px });
      const got = await m.prefill(prompt.embeds);
      const ref = referenceLlava(m.spec, m.source.tensors);
      const span = prompt.imageSpan!;
      const ids = [
        ...prompt.ids.slice(0, span.start),
        m.spec.imageTokenId!,
        ...prompt.ids.slice(span.end),
      ];
      const embeds = ref.promptEmbeddings(ids, px).embeds;
      const positions = Array.from({ length: prompt.length }, (_, i) => i);
      const want = ref.llama.forward(embeds, positions, new RefCache(m.spec.text.numLayers));
      const scale = want.logits.reduce((a, x) => Math.max(a, Math.abs(x)), 1);
      assertLessOrEqual(maxAbsDiff(got.logits, want.logits), 2e-5 * scale);
      // The scaling matters: unscaled RoPE on the same weights gives other logits.
      await withModel(plainT5, async (p) => {
        const unscaled = await prefillLogits(p);
        assertGreater(maxAbsDiff(unscaled.logits, got.logits), 1e-3);
      });
    });
  }));

Deno.test("transformers 5 layout: what cannot be run is refused with the key and the fix", () =>
  withDirs(async (root) => {
    const src = await writeTinyLlava(join(root, "t4"), { layers: 1, maxPositions: 24 });
    const dir = join(root, "t5");
    await writeTransformers5Layout(src, dir);
    // A prompt past max_position_embeddings.
    await withModel(dir, async (m) => {
      const e = await assertRejects(() => prefillLogits(m));
      assertInstanceOf(e, InputError);
      assertStringIncludes(e.message, "max_position_embeddings = 24");
    });
    const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    const rewrite = (edit: (c: Record<string, unknown>) => void) => {
      const c = structuredClone(config);
      edit(c);
      Deno.writeTextFileSync(join(dir, "config.json"), JSON.stringify(c));
    };
    const refused = async (...parts: string[]) => {
      const e = await assertRejects(() => loadModel(dir, { cacheDir: false }));
      assertInstanceOf(e, CheckpointError);
      for (const p of parts) assertStringIncludes(e.message, p);
    };
    rewrite((c) =>
      (c.text_config as Record<string, unknown>).rope_parameters = { rope_type: "yarn", factor: 4 }
    );
    await refused("text_config.rope_parameters.rope_type", '"yarn"', '"llama3"');
    rewrite((c) => (c.text_config as Record<string, unknown>).attention_bias = true);
    await refused("text_config.attention_bias", "true", "false");
    rewrite((c) => (c.text_config as Record<string, unknown>).mlp_bias = true);
    await refused("text_config.mlp_bias", "true");
    rewrite((c) => c.vision_feature_layer = [-2, -1]);
    await refused("vision_feature_layer", "[-2,-1]", "a single integer");
    rewrite((c) => c.vision_feature_select_strategy = "cls");
    await refused("vision_feature_select_strategy", '"cls"', '"default", "full"');
  }));

Deno.test("transformers 5 LLaMA text model, sharded, with top-level rope_parameters", () =>
  withDirs(async (root) => {
    const ropeScaling = { type: "linear" as const, factor: 2 };
    const src = await writeTinyLlama(join(root, "t4"), {
      layers: 2,
      sharded: true,
      ropeScaling,
      seed: 4,
    });
    const config = JSON.parse(await Deno.readTextFile(join(src.dir, "config.json")));
    assertEquals(
      [...Deno.readDirSync(src.dir)].some((e) => e.name === "model.safetensors.index.json"),
      true,
    );
    const { rope_theta: _t, rope_scaling: _s, ...rest } = config;
    const t5 = join(root, "t5");
    await Deno.mkdir(t5);
    for (const e of Deno.readDirSync(src.dir)) {
      Deno.copyFileSync(join(src.dir, e.name), join(t5, e.name));
    }
    Deno.writeTextFileSync(
      join(t5, "config.json"),
      JSON.stringify({
        ...rest,
        rope_parameters: { rope_type: "linear", rope_theta: 10000, factor: 2 },
      }),
    );
    const ids = [1, 15, 16, 17, 18, 19, 20];
    const logits = async (dir: string) => {
      const m = await loadModel(dir, { cacheDir: false });
      try {
        assertEquals(m.spec.text.ropeScaling, ropeScaling);
        return (await m.prefill((await m.buildPrompt({ ids })).embeds)).logits;
      } finally {
        await m.close();
      }
    };
    const want = await logits(src.dir);
    assertLessOrEqual(maxAbsDiff(await logits(t5), want), TOL);
    // And the reference agrees with both (linear scaling in the frequencies).
    const ref = referenceLlama(src.spec.text, src.store);
    const out = ref.forward(ref.embed(ids), ids.map((_, i) => i), new RefCache(2));
    assertLessOrEqual(maxAbsDiff(want, out.logits), 1e-4);
  }));
