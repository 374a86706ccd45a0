/**
 * The notebooks' study helpers: the decode roofline (hand-counted bytes), the kept-positions
 * recorder on a real cache, curve spreads (hand cases) and scene prompts on the bundled model.
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { curveSpread } from "../../lib/analysis/curve_spread.ts";
import { keptMask, KeptRecorder } from "../../lib/analysis/kept_positions.ts";
import { decodeStepBytes, measureCopyBandwidth, rooflineMs } from "../../lib/analysis/roofline.ts";
import { scenePrompt } from "../../lib/analysis/scene_prompts.ts";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import type { CachePolicy } from "../../lib/runtime/cache_policy.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import { loadModel } from "../../lib/runtime/model.ts";

Deno.test("decodeStepBytes: weights and KV counted by hand for a one-layer decoder", () => {
  const spec = {
    vocabSize: 10,
    hiddenSize: 4,
    intermediateSize: 6,
    numLayers: 1,
    numHeads: 2,
    numKvHeads: 1,
    headDim: 2,
  };
  // q 4×4, k and v 4×2 each, o 4×4, gate/up/down 3·4·6, two norms 2·4; final norm 4; head 10·4.
  const params = 16 + 8 + 8 + 16 + 72 + 8 + 4 + 40;
  const bytes = decodeStepBytes(spec, 3);
  assertEquals(bytes.weights, 4 * params);
  assertEquals(bytes.kv, 4 * 2 * 2 * 3); // key and value of 2 floats, 3 entries
  assertEquals(bytes.total, bytes.weights + bytes.kv);
  assertEquals(decodeStepBytes(spec, 3, 2).total, bytes.total / 2);
});

Deno.test("rooflineMs and measureCopyBandwidth: bytes over bandwidth; a positive bandwidth", () => {
  assertEquals(rooflineMs(20e9, 20e9), 1000);
  assertThrows(() => rooflineMs(1, 0), Error, "bandwidth must be positive");
  const bw = measureCopyBandwidth({ bytes: 1 << 20, repeats: 2 });
  assert(bw > 1e8 && Number.isFinite(bw), `bandwidth ${bw}`);
});

Deno.test("KeptRecorder: the positions the inner policy left after prefill, per layer", () => {
  const cache = new KvCache({ numLayers: 2, numKvHeads: 1, headDim: 1 });
  for (let l = 0; l < 2; l++) {
    cache.append(l, new Float32Array(5), new Float32Array(5), [0, 1, 2, 3, 4]);
  }
  let steps = 0;
  const inner: CachePolicy = {
    needs: { prefill: "importance", step: false },
    afterPrefill(c) {
      c.keep(0, [0, 3]);
      c.keep(1, [1, 2, 4]);
    },
    afterStep() {
      steps++;
    },
  };
  const recorder = new KeptRecorder(inner);
  assertEquals(recorder.needs, inner.needs);
  recorder.afterPrefill(cache, { promptLength: 5 });
  recorder.afterStep(cache, { step: 1 } as Parameters<CachePolicy["afterStep"]>[1]);
  assertEquals(recorder.keptAfterPrefill, [[0, 3], [1, 2, 4]]);
  assertEquals(recorder.promptLength, 5);
  assertEquals(steps, 1);
  assertEquals(keptMask(recorder.keptAfterPrefill[1], 5), [0, 1, 1, 0, 1]);
  assertThrows(() => keptMask([5], 5), Error, "position 5 is outside the prompt [0, 5)");
});

Deno.test("curveSpread: mean, largest deviation and mean standard deviation", () => {
  const s = curveSpread([[0, 0.5, 1], [0, 0.7, 1], [0, 0.6, 1]]);
  s.mean.forEach((m, i) => assertAlmostEquals(m, [0, 0.6, 1][i], 1e-12));
  assertAlmostEquals(s.maxAbs, 0.1, 1e-12);
  assertAlmostEquals(s.meanStd, Math.sqrt(0.02 / 3) / 3, 1e-12);
  assertEquals(curveSpread([[1, 2]]).maxAbs, 0);
  assertThrows(() => curveSpread([]), Error, "at least one curve");
  assertThrows(() => curveSpread([[1], [1, 2]]), Error, "same points");
});

Deno.test("scenePrompt: the picture written, the prompt built, the patch grid of the tower", async () => {
  const dir = await Deno.makeTempDir();
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
  try {
    const s = await scenePrompt(model, { seed: 7, index: 3, dir: `${dir}/scenes` });
    assertEquals(s.scene.id, "test-000003");
    assertEquals(s.grid, 8);
    assertEquals(s.prompt.imageSpan, { start: 12, end: 76 });
    assertEquals([s.picture.width, s.picture.height], [64, 64]);
    assert((await Deno.stat(s.imagePath)).size > 0);
  } finally {
    await model.close();
    await Deno.remove(dir, { recursive: true });
  }
});
