/**
 * The same tiny LLaVA weights saved in every layout the loader understands — llava-hf with old
 * and transformers ≥ 4.52 names, the original LLaVA-1.5 repository layout with a separate CLIP
 * directory (CLIPVisionConfig or full CLIPConfig, tower mounted or embedded), and the text part
 * alone as LLaMA — loaded through `loadModel` must give the same model: same spec, same image
 * features, same prefill logits and greedy continuation. Also the original layout's llava_v1
 * prompt, its `image_aspect_ratio: "pad"` preprocessing, and its loader errors.
 */
import { join } from "node:path";
import { encode as encodePng } from "fast-png";
import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLessOrEqual,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { formatPrompt } from "../../lib/checkpoint/chat.ts";
import { LLAVA_IMAGE_TOKEN_INDEX } from "../../lib/checkpoint/config.ts";
import type { ModelSpec } from "../../lib/checkpoint/spec.ts";
import { CheckpointError } from "../../lib/errors.ts";
import { chatPrompt, imagePixels } from "../../lib/runtime/chat_prompt.ts";
import { loadModel, type Model, type Prompt } from "../../lib/runtime/model.ts";
import { Rng, SPECIAL_TOKENS, writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";
import {
  type OriginalLayoutOptions,
  writeLlamaText,
  writeNewHfNaming,
  writeOriginalLayout,
} from "./_layouts.ts";
import { tinyPixels } from "./_models.ts";

/** GQA (4 query heads over 2 KV heads), 3 decoder layers; BOS added by the tokenizer. */
const OPTS = { heads: 4, kvHeads: 2, layers: 3, seed: 11, bosPostProcessor: true } as const;
const STEPS = 5;
const TOL = 1e-6;

/** Prompt text with the image in the middle; every word is in the tiny vocabulary. */
const TEXT = "What is in the image ?\n<image>\nDescribe this picture .";
/** Its ids, by hand (vocabulary order of tests/fixtures/tiny_checkpoint.ts), image id left open. */
function handIds(image: number): number[] {
  // <s> What is in the image ? | <image> | Describe this picture .
  return [1, 15, 16, 17, 18, 19, 47, image, 20, 21, 22, 45];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assertEquals(a.length, b.length, "lengths differ");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Prefill logits (all rows) and the logits of {@link STEPS} greedy steps. */
async function greedy(model: Model, prompt: Prompt) {
  const pre = await model.prefill(prompt.embeds);
  const V = model.vocabSize;
  const steps: Float32Array[] = [];
  const ids: number[] = [];
  let last = pre.logits.subarray((pre.logitRows - 1) * V);
  for (let s = 0; s < STEPS; s++) {
    const id = argmax(last);
    ids.push(id);
    const out = await model.step(id, pre.cache, prompt.length + s);
    last = out.logits;
    steps.push(last);
  }
  return { prefill: pre.logits, steps, ids };
}

/** The spec without tensor names, which legitimately differ between layouts. */
function namesStripped(spec: ModelSpec) {
  const { prefix: _p, lmHead: _l, ...text } = spec.text;
  const vision = spec.vision && (({ prefix: _v, ...v }) => v)(spec.vision);
  const projector = spec.projector &&
    (({ linear1: _1, linear2: _2, ...p }) => p)(spec.projector);
  return {
    family: spec.family,
    text,
    vision,
    projector,
    imageTokens: spec.imageTokens,
    bos: spec.bosTokenId,
    eos: spec.eosTokenIds,
    pad: spec.padTokenId,
  };
}

interface Layouts {
  root: string;
  hfOld: string;
  hfNew: string;
  llama: string;
  original: (name: string, opts?: OriginalLayoutOptions) => Promise<string>;
}

async function withLayouts(fn: (l: Layouts) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "e2e_layouts_" });
  try {
    const src = await writeTinyLlava(join(root, "hf_old"), OPTS);
    const hfNew = join(root, "hf_new");
    await writeNewHfNaming(src, hfNew);
    const llama = join(root, "llama");
    await writeLlamaText(src, llama);
    const original = async (name: string, opts: OriginalLayoutOptions = {}) => {
      const dir = join(root, name);
      await writeOriginalLayout(src, dir, opts);
      return dir;
    };
    await fn({ root, hfOld: src.dir, hfNew, llama, original });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function withModels(
  dirs: string[],
  fn: (models: Model[]) => Promise<void>,
): Promise<void> {
  const models: Model[] = [];
  try {
    for (const d of dirs) models.push(await loadModel(d, { cacheDir: false }));
    await fn(models);
  } finally {
    for (const m of models) await m.close();
  }
}

Deno.test("e2e layouts: llava-hf old/new names and the original LLaVA-1.5 layout run identically", () =>
  withLayouts(async (l) => {
    const variants: [string, string][] = [
      ["hf-old", l.hfOld],
      ["hf-new", l.hfNew],
      ["original (CLIPVisionConfig)", await l.original("orig_vision")],
      [
        "original (CLIPConfig, model_type llava)",
        await l.original("orig_clip", { clipConfig: "clip", modelType: "llava" }),
      ],
      ["original (tower embedded)", await l.original("orig_embedded", { embedTower: true })],
    ];
    await withModels(variants.map((v) => v[1]), async (models) => {
      const [ref] = models;
      // Names: each layout's own prefixes were picked.
      assertEquals(ref.spec.text.prefix, "language_model.model.");
      assertEquals(models[1].spec.text.prefix, "model.language_model.");
      assertEquals(models[1].spec.text.lmHead, "lm_head.weight");
      assertEquals(models[1].spec.vision?.prefix, "model.vision_tower.vision_model.");
      assertEquals(models[1].spec.projector?.linear1, "model.multi_modal_projector.linear_1");
      for (const m of models.slice(2, 4)) {
        assertEquals(m.spec.text.prefix, "model.");
        assertEquals(m.spec.vision?.prefix, "vision_tower.vision_model.");
        assertEquals(m.spec.projector?.linear2, "model.mm_projector.2");
        assertEquals(m.spec.imageTokenId, LLAVA_IMAGE_TOKEN_INDEX);
      }
      assertEquals(models[4].spec.vision?.prefix, "model.vision_tower.vision_tower.vision_model.");
      // Everything else in the spec is the same model.
      assertEquals(ref.spec.text.numLayers, 3);
      assertEquals(ref.spec.text.numKvHeads, 2);
      assertEquals(ref.spec.imageTokens, 16);
      for (let i = 1; i < models.length; i++) {
        assertEquals(namesStripped(models[i].spec), namesStripped(ref.spec), variants[i][0]);
      }

      const pixels = tinyPixels();
      const refFeatures = await ref.encodeImage(pixels);
      assertEquals(refFeatures.length, 16 * ref.hiddenSize);
      const refPrompt = await ref.buildPrompt({ text: TEXT, image: pixels });
      const refRun = await greedy(ref, refPrompt);
      for (let i = 0; i < models.length; i++) {
        const [name] = variants[i];
        const m = models[i];
        const features = await m.encodeImage(pixels);
        assertLessOrEqual(maxAbsDiff(features, refFeatures), TOL, `${name}: image features`);

        // The same prompt text: the image id is the layout's own (3, or −200 spliced in).
        const prompt = await m.buildPrompt({ text: TEXT, image: pixels });
        const imageId = i < 2 ? SPECIAL_TOKENS.image : LLAVA_IMAGE_TOKEN_INDEX;
        const at = prompt.imageSpan!.start;
        const unexpanded = [...prompt.ids.slice(0, at), imageId, ...prompt.ids.slice(at + 16)];
        assertEquals(unexpanded, handIds(imageId), `${name}: prompt ids`);
        assertEquals(prompt.imageSpan, refPrompt.imageSpan, name);
        assertLessOrEqual(maxAbsDiff(prompt.embeds, refPrompt.embeds), TOL, `${name}: embeds`);

        const run = await greedy(m, prompt);
        assertLessOrEqual(maxAbsDiff(run.prefill, refRun.prefill), TOL, `${name}: prefill`);
        for (let s = 0; s < STEPS; s++) {
          assertLessOrEqual(maxAbsDiff(run.steps[s], refRun.steps[s]), TOL, `${name}: step ${s}`);
        }
        assertEquals(run.ids, refRun.ids, `${name}: greedy ids`);
      }
      // The comparison can fail: another image gives other features and logits.
      const other = await ref.encodeImage(pixels.map((x) => -x));
      assertGreater(maxAbsDiff(other, refFeatures), 1e-3);
    });
  }));

Deno.test("e2e layouts: the text part saved as LlamaForCausalLM runs like the llava-hf decoder", () =>
  withLayouts(async (l) => {
    await withModels([l.hfOld, l.llama], async ([hf, llama]) => {
      assertEquals(llama.spec.family, "llama");
      assertEquals(llama.spec.vision, undefined);
      assertEquals(llama.spec.text.prefix, "model.");
      assertEquals(namesStripped(llama.spec).text, namesStripped(hf.spec).text);
      const text = "Describe this picture . What is in the image ?";
      const a = await hf.buildPrompt({ text });
      const b = await llama.buildPrompt({ text });
      assertEquals(a.ids, [1, 20, 21, 22, 45, 15, 16, 17, 18, 19, 47]);
      assertEquals(b.ids, a.ids);
      const ra = await greedy(hf, a);
      const rb = await greedy(llama, b);
      assertLessOrEqual(maxAbsDiff(rb.prefill, ra.prefill), TOL, "prefill");
      for (let s = 0; s < STEPS; s++) {
        assertLessOrEqual(maxAbsDiff(rb.steps[s], ra.steps[s]), TOL, `step ${s}`);
      }
      assertEquals(rb.ids, ra.ids);
    });
  }));

Deno.test("e2e layouts: the original layout's llava_v1 prompt, text and ids by hand", () =>
  withLayouts(async (l) => {
    await withModels([await l.original("orig")], async ([m]) => {
      const format = m.source.chatFormat!;
      assertEquals(format, { kind: "llava_v1" });
      const text = formatPrompt(format, "What is this ?", { image: true });
      assertEquals(
        text,
        "A chat between a curious human and an artificial intelligence assistant. The " +
          "assistant gives helpful, detailed, and polite answers to the human's questions. " +
          "USER: <image>\nWhat is this ? ASSISTANT:",
      );
      const prompt = await chatPrompt(m, { question: "What is this ?", image: tinyPixels() });
      const { start, end } = prompt.imageSpan!;
      assertEquals(end - start, 16);
      assertEquals(prompt.ids.slice(start, end), new Array(16).fill(LLAVA_IMAGE_TOKEN_INDEX));
      // Whitespace pre-tokenizer (\w+ | punctuation runs); words outside the vocabulary → <unk> 0.
      const system = [
        [5, 6, 7, 8, 0, 0, 10, 11, 0, 0, 12, 45], // A chat between a curious human and an artificial intelligence assistant .
        [0, 12, 0, 0, 46, 0, 46, 10, 0, 0, 0, 18, 0, 0, 0, 0, 45], // The assistant gives helpful , detailed , and polite answers to the human ' s questions .
      ].flat();
      const expected = [
        1, // <s> (the tokenizer's BOS; the BOS of the piece after <image> is dropped)
        ...system,
        13, // USER
        44, // :
        LLAVA_IMAGE_TOKEN_INDEX,
        15, // What
        16, // is
        21, // this
        47, // ?
        14, // ASSISTANT
        44, // :
      ];
      assertEquals([
        ...prompt.ids.slice(0, start),
        LLAVA_IMAGE_TOKEN_INDEX,
        ...prompt.ids.slice(end),
      ], expected);
      assertEquals(prompt.length, expected.length - 1 + 16);
    });
  }));

/** A seeded random `width × height` RGB image. */
function randomImage(width: number, height: number, seed: number) {
  const rng = new Rng(seed);
  const data = Uint8Array.from(
    { length: width * height * 3 },
    () => Math.floor(rng.uniform() * 256),
  );
  return { width, height, data };
}

/**
 * `img` padded to a square by hand: LLaVA's `expand2square` with `int(mean · 255)` of OpenAI
 * CLIP's mean, i.e. (int(0.4815·255), int(0.4578·255), int(0.4082·255)) = (122, 116, 104),
 * the image centred at ((side − w) // 2, (side − h) // 2).
 */
function padByHand(img: { width: number; height: number; data: Uint8Array }) {
  const side = Math.max(img.width, img.height);
  const data = new Uint8Array(side * side * 3);
  for (let i = 0; i < side * side; i++) data.set([122, 116, 104], i * 3);
  const ox = Math.floor((side - img.width) / 2), oy = Math.floor((side - img.height) / 2);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = (y * img.width + x) * 3, d = ((y + oy) * side + x + ox) * 3;
      data.set(img.data.subarray(s, s + 3), d);
    }
  }
  return { width: side, height: side, data };
}

function writePng(path: string, img: { width: number; height: number; data: Uint8Array }) {
  Deno.writeFileSync(path, encodePng({ ...img, channels: 3, depth: 8 }));
}

Deno.test("e2e layouts: image_aspect_ratio pad equals padding by hand with the mean colour", () =>
  withLayouts(async (l) => {
    const padDir = await l.original("orig_pad", { aspect: "pad" });
    const squareDir = await l.original("orig_square", { aspect: "square" });
    await withModels([padDir, squareDir], async ([pad, square]) => {
      assertEquals(pad.source.imageProcessor?.aspectMode, "pad");
      assertEquals(square.source.imageProcessor?.aspectMode, "none");
      for (const [w, h, seed] of [[23, 13, 1], [10, 21, 2]]) {
        const img = randomImage(w, h, seed);
        const raw = join(l.root, `raw_${w}x${h}.png`);
        const padded = join(l.root, `padded_${w}x${h}.png`);
        writePng(raw, img);
        writePng(padded, padByHand(img));
        const viaPad = await imagePixels(pad, raw);
        const byHand = await imagePixels(square, padded);
        assertEquals(viaPad, byHand, `${w}×${h}: pixels`);
        const fa = await pad.encodeImage(viaPad);
        const fb = await square.encodeImage(byHand);
        assertLessOrEqual(maxAbsDiff(fa, fb), TOL, `${w}×${h}: features`);
        // Through the whole prompt path too.
        const pa = await chatPrompt(pad, { question: "What is this ?", image: raw });
        const pb = await chatPrompt(square, { question: "What is this ?", image: padded });
        assertEquals(pa.ids, pb.ids);
        assertLessOrEqual(maxAbsDiff(pa.embeds, pb.embeds), TOL, `${w}×${h}: prompt embeds`);
        // Without padding the same image is resized and cropped instead: other features.
        const unpadded = await square.encodeImage(await imagePixels(square, raw));
        assertGreater(maxAbsDiff(unpadded, fa), 1e-3, `${w}×${h}: pad had no effect`);
      }
    });
  }));

async function rejectsWith(dir: string, ...parts: string[]): Promise<void> {
  const err = await assertRejects(() => loadModel(dir, { cacheDir: false }));
  assertInstanceOf(err, CheckpointError);
  for (const p of parts) assertStringIncludes(err.message, p);
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const path = join(dir, "config.json");
  const c = JSON.parse(Deno.readTextFileSync(path));
  edit(c);
  Deno.writeTextFileSync(path, JSON.stringify(c));
}

Deno.test("e2e layouts: original-layout errors through loadModel name the field and the fix", () =>
  withLayouts(async (l) => {
    // mm_vision_tower naming a directory that does not exist (e.g. a hub id).
    const missing = await l.original("orig_missing");
    editConfig(missing, (c) => (c.mm_vision_tower = "openai/clip-vit-large-patch14-336"));
    await rejectsWith(
      missing,
      "mm_vision_tower",
      "openai/clip-vit-large-patch14-336",
      "not a local CLIP directory",
      "point it at a local CLIP directory",
    );

    // A CLIP directory with PyTorch weights only.
    const bin = await l.original("orig_bin");
    Deno.removeSync(join(bin, "clip", "model.safetensors"));
    Deno.writeFileSync(join(bin, "clip", "pytorch_model.bin"), new Uint8Array(16));
    await rejectsWith(bin, join(bin, "clip"), ".bin", "safetensors", "convert");

    // The linear projector of LLaVA-1.0 style checkpoints.
    const linear = await l.original("orig_linear", { projectorType: "linear" });
    await rejectsWith(
      linear,
      "mm_projector_type",
      `"linear"`,
      "not supported",
      `supported: "mlp2x_gelu"`,
    );
    // And absent (LlavaConfig's default is linear): the same error.
    editConfig(linear, (c) => delete c.mm_projector_type);
    await rejectsWith(linear, "mm_projector_type", `"linear"`);

    // The unmodified directory loads (the errors above come from the edits alone).
    const good = await l.original("orig_good");
    const m = await loadModel(good, { cacheDir: false });
    assert(m.spec.vision);
    await m.close();
  }));
