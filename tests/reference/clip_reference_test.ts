import { assertClose } from "./_assert_close.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import type { ClipVisionSpec } from "../../lib/checkpoint/spec.ts";
import { MemoryTensorStore } from "../../lib/checkpoint/tensor_store.ts";
import { makeTinyLlava, Rng, SPECIAL_TOKENS } from "../fixtures/tiny_checkpoint.ts";
import {
  erf,
  gelu,
  layerNorm,
  quickGelu,
  ReferenceClip,
  referenceLlava,
  ReferenceProjector,
} from "./clip_reference.ts";

Deno.test("erf, gelu, quickGelu: known values", () => {
  const table: [number, number][] = [
    [0, 0],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [-1.5, -0.9661051464753108],
    [2, 0.9953222650189527],
    [2.4, 0.999311486103355],
    [2.6, 0.9997639655834707],
    [3, 0.9999779095030014],
    [4, 0.9999999845827421],
    [5.5, 0.9999999999999927],
    [-7, -1],
  ];
  for (const [x, y] of table) assertClose([erf(x)], [y], 1e-14, `erf(${x})`);
  assertClose([gelu(1)], [0.8413447460685429], 1e-14); // Φ(1)
  assertClose([gelu(2.5)], [2.4844758366855597], 1e-14);
  assertClose([quickGelu(1)], [0.8457957659328212], 1e-15); // σ(1.702)
  assertEquals(quickGelu(0), 0);
});

Deno.test("layerNorm: mean/biased-variance normalisation with weight and bias, by hand", () => {
  const y = layerNorm(
    Float64Array.of(1, 2, 3, 4),
    4,
    Float32Array.of(1, 1, 1, 2),
    Float32Array.of(0, 0, 1, 0),
    0,
  );
  const s = 1 / Math.sqrt(1.25); // mean 2.5, variance 1.25
  assertClose(y, [-1.5 * s, -0.5 * s, 0.5 * s + 1, 3 * s], 1e-15);
});

/** A tower with hidden 1, image 4, patch 2 (4 patches), no layers, identity-like weights. */
function patchOnlyTower(): { spec: ClipVisionSpec; store: MemoryTensorStore } {
  const spec: ClipVisionSpec = {
    hiddenSize: 1,
    intermediateSize: 1,
    numLayers: 0,
    numHeads: 1,
    imageSize: 4,
    patchSize: 2,
    numChannels: 3,
    layerNormEps: 1e-5,
    hiddenAct: "quick_gelu",
    featureLayer: 0,
    selectStrategy: "default",
    prefix: "v.",
  };
  // The kernel reads channel 1 only, weighting the patch's pixels 1, 2 / 3, 4.
  const kernel = new Float32Array(3 * 2 * 2);
  kernel.set([1, 2, 3, 4], 4);
  const store = new MemoryTensorStore()
    .set("v.embeddings.patch_embedding.weight", [1, 3, 2, 2], kernel)
    .set("v.embeddings.class_embedding", [1], Float32Array.of(7))
    .set("v.embeddings.position_embedding.weight", [5, 1], Float32Array.of(0, 100, 200, 300, 400))
    .set("v.pre_layrnorm.weight", [1], Float32Array.of(1))
    .set("v.pre_layrnorm.bias", [1], Float32Array.of(0));
  return { spec, store };
}

Deno.test("ReferenceClip.embeddings: stride-P convolution, row-major patches, CLS first", () => {
  const { spec, store } = patchOnlyTower();
  const clip = new ReferenceClip(spec, store);
  // Channel 1 of a 4×4 image holds 0..15 row-major; channels 0 and 2 are noise the kernel ignores.
  const pixels = new Float32Array(48).map((_, i) => (i >= 16 && i < 32 ? i - 16 : 1000 + i));
  const e = clip.embeddings(pixels);
  // Patch (0,0) covers 0 1 / 4 5 → 0·1 + 1·2 + 4·3 + 5·4 = 34; each step right adds 2·10,
  // each step down adds 8·10.
  assertClose(e, [7, 34 + 100, 54 + 200, 114 + 300, 134 + 400], 1e-12);
  assertMatch(
    assertThrows(() => clip.embeddings(new Float32Array(47)), Error).message,
    /expected 3×4×4/,
  );
});

Deno.test("ReferenceClip: hidden-state list, feature layer and select strategy", () => {
  const { spec, store } = makeTinyLlava({ seed: 11, visionLayers: 3 });
  const vision = spec.vision!;
  const clip = new ReferenceClip(vision, store);
  const pixels = new Rng(1).normals(3 * 16 * 16, 1);
  const states = clip.hiddenStates(pixels);
  assertEquals(states.length, 4); // pre_layrnorm output + 3 layers
  const D = vision.hiddenSize;
  for (const s of states) assertEquals(s.length, 17 * D);
  // Layers change the state (so picking the right one matters).
  assert(Math.abs(states[2][D] - states[3][D]) > 1e-3);

  const f = clip.features(pixels); // featureLayer -2, default: states[2] without CLS
  assertClose(f, states[2].subarray(D), 0);
  const full = new ReferenceClip({ ...vision, featureLayer: 0, selectStrategy: "full" }, store);
  assertClose(full.features(pixels), states[0], 0);
  const bad = new ReferenceClip({ ...vision, featureLayer: -5 }, store);
  assertMatch(assertThrows(() => bad.features(pixels), Error).message, /outside 4 states/);
});

Deno.test("ReferenceClip: attention is unmasked, so patches are permutation-equivariant", () => {
  // With position embeddings zeroed, swapping two patches of the image swaps their rows in
  // every hidden state and leaves the CLS row alone. A causal mask would break this.
  const { spec, store } = makeTinyLlava({ seed: 12, visionAct: "gelu" });
  const vision = spec.vision!;
  const name = `${vision.prefix}embeddings.position_embedding.weight`;
  store.set(name, store.info(name)!.shape, new Float32Array(store.getF32(name).length));
  const clip = new ReferenceClip(vision, store);
  const S = vision.imageSize;
  const P = vision.patchSize;
  const pixels = new Rng(2).normals(3 * S * S, 1);
  const swapped = pixels.slice();
  // Swap patch (0, 0) with patch (1, 2): grid rows 0/1, columns 0/2.
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < P; y++) {
      for (let x = 0; x < P; x++) {
        const a = (c * S + y) * S + x;
        const b = (c * S + P + y) * S + 2 * P + x;
        [swapped[a], swapped[b]] = [pixels[b], pixels[a]];
      }
    }
  }
  const D = vision.hiddenSize;
  const grid = S / P;
  const a = clip.hiddenStates(pixels).at(-1)!;
  const b = clip.hiddenStates(swapped).at(-1)!;
  const rowOf = (s: Float64Array, r: number) => s.subarray(r * D, (r + 1) * D);
  const p00 = 1;
  const p12 = 1 + grid + 2;
  assertClose(rowOf(b, 0), rowOf(a, 0), 1e-12, "CLS");
  assertClose(rowOf(b, p00), rowOf(a, p12), 1e-12);
  assertClose(rowOf(b, p12), rowOf(a, p00), 1e-12);
  assertClose(rowOf(b, 2), rowOf(a, 2), 1e-12);
});

Deno.test("ReferenceProjector: linear_2(gelu(linear_1(x))), by hand", () => {
  const store = new MemoryTensorStore()
    .set("p1.weight", [1, 1], Float32Array.of(2))
    .set("p1.bias", [1], Float32Array.of(0.5))
    .set("p2.weight", [1, 1], Float32Array.of(3))
    .set("p2.bias", [1], Float32Array.of(-1));
  const proj = new ReferenceProjector(
    { type: "mlp2x_gelu", act: "gelu", inDim: 1, outDim: 1, linear1: "p1", linear2: "p2" },
    store,
  );
  // 3 · gelu(2 · 1 + 0.5) - 1
  assertClose(proj.project(Float64Array.of(1, 0)), [6.453427510056679, 3 * gelu(0.5) - 1], 1e-13);
});

Deno.test("referenceLlava: the image token becomes the projected features", () => {
  const { spec, store } = makeTinyLlava({ seed: 13 });
  const llava = referenceLlava(spec, store);
  const pixels = new Rng(3).normals(3 * 16 * 16, 1);
  const ids = [SPECIAL_TOKENS.bos, 10, 11, SPECIAL_TOKENS.image, 12, 13];
  const p = llava.promptEmbeddings(ids, pixels);
  const D = spec.text.hiddenSize;
  assertEquals([p.imageStart, p.imageLength, p.length], [
    3,
    spec.imageTokens!,
    5 + spec.imageTokens!,
  ]);
  assertEquals(p.imageLength, 16);
  const image = llava.imageFeatures(pixels);
  assertClose(p.embeds.subarray(0, 3 * D), llava.llama.embed([1, 10, 11]), 0);
  assertClose(p.embeds.subarray(3 * D, 3 * D + image.length), image, 0);
  assertClose(p.embeds.subarray(3 * D + image.length), llava.llama.embed([12, 13]), 0);
  // The features are of the same order as token embeddings (not vanishing, not exploding).
  const rms = Math.sqrt(image.reduce((s, x) => s + x * x, 0) / image.length);
  assert(rms > 0.05 && rms < 5, `image feature rms ${rms}`);

  const out = llava.llama.forward(
    p.embeds,
    Array.from({ length: p.length }, (_, i) => i),
    llava.llama.newCache(),
  );
  assertEquals(out.logits.length, p.length * spec.text.vocabSize);
  assertMatch(
    assertThrows(() => llava.promptEmbeddings([1, 10], pixels), Error).message,
    /exactly one image token/,
  );
  assertMatch(
    assertThrows(() => llava.promptEmbeddings([3, 3], pixels), Error).message,
    /exactly one image token/,
  );
});

Deno.test("ReferenceClip: one encoder layer in closed form", () => {
  // Hidden 2, one head, image = one 2×2 patch, identity q/k/v/out/fc1/fc2, eps 0. Every
  // LayerNorm then maps [a, b] to ±[1, -1], and the whole layer follows by hand.
  const spec: ClipVisionSpec = {
    hiddenSize: 2,
    intermediateSize: 2,
    numLayers: 1,
    numHeads: 1,
    imageSize: 2,
    patchSize: 2,
    numChannels: 3,
    layerNormEps: 0,
    hiddenAct: "quick_gelu",
    featureLayer: -1,
    selectStrategy: "full",
    prefix: "",
  };
  const eye = Float32Array.of(1, 0, 0, 1);
  const kernel = new Float32Array(2 * 3 * 2 * 2);
  kernel[0] = 1; // dim 0 ← channel 0, pixel (0, 0)
  kernel[12 + 4] = 1; // dim 1 ← channel 1, pixel (0, 0)
  const store = new MemoryTensorStore()
    .set("embeddings.patch_embedding.weight", [2, 3, 2, 2], kernel)
    .set("embeddings.class_embedding", [2], Float32Array.of(2, 0))
    .set("embeddings.position_embedding.weight", [2, 2], new Float32Array(4));
  for (
    const n of ["pre_layrnorm", "encoder.layers.0.layer_norm1", "encoder.layers.0.layer_norm2"]
  ) {
    store.set(`${n}.weight`, [2], Float32Array.of(1, 1)).set(`${n}.bias`, [2], new Float32Array(2));
  }
  for (
    const n of [
      "self_attn.q_proj",
      "self_attn.k_proj",
      "self_attn.v_proj",
      "self_attn.out_proj",
      "mlp.fc1",
    ]
  ) {
    store.set(`encoder.layers.0.${n}.weight`, [2, 2], eye);
    store.set(`encoder.layers.0.${n}.bias`, [2], new Float32Array(2));
  }
  store.set("encoder.layers.0.mlp.fc2.weight", [2, 2], eye);
  store.set("encoder.layers.0.mlp.fc2.bias", [2], Float32Array.of(0, 0.5));

  const pixels = new Float32Array(12);
  pixels[4] = 3; // channel 1, pixel (0, 0): the patch embeds as [0, 3]
  const states = new ReferenceClip(spec, store).hiddenStates(pixels);
  // pre_layrnorm: CLS [2, 0] → [1, -1]; patch [0, 3] → [-1, 1].
  assertClose(states[0], [1, -1, -1, 1], 1e-15);
  // Scores are ±2/√2; each token keeps p = σ(2√2) of itself: attention adds (2p - 1)·x.
  const p = 1 / (1 + Math.exp(-2 * Math.SQRT2));
  // Then the MLP adds [qg(1), qg(-1) + 0.5] to CLS and [qg(-1), qg(1) + 0.5] to the patch.
  const qg1 = 0.8457957659328212;
  const qgm1 = -0.1542042340671788;
  assertClose(
    states[1],
    [2 * p + qg1, -2 * p + qgm1 + 0.5, -2 * p + qgm1, 2 * p + qg1 + 0.5],
    1e-14,
  );
});
