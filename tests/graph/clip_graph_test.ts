import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import "../../lib/ort_telemetry.ts"; // before onnxruntime-node
import * as ort from "onnxruntime-node";
import type { ClipVisionSpec } from "../../lib/checkpoint/spec.ts";
import {
  buildClipGraph,
  clipFeatureRows,
  selectedHiddenState,
} from "../../lib/graph/clip_graph.ts";
import { makeTinyLlava, type TinyLlavaOptions } from "../fixtures/tiny_checkpoint.ts";
import { referenceLlava } from "../reference/clip_reference.ts";
import { maxAbsDiff } from "./max_abs_diff.ts";

const CASES: [string, TinyLlavaOptions][] = [
  ["quick_gelu, layer -2, default (drop CLS)", {}],
  ["gelu, layer -1, full (keep CLS)", {
    visionAct: "gelu",
    featureLayer: -1,
    selectStrategy: "full",
  }],
  ["layer 0: embeddings after pre_layrnorm only", { featureLayer: 0 }],
  ["positive layer 2 of 4, 8×8 patches of 24-pixel images", {
    featureLayer: 2,
    visionLayers: 4,
    imageSize: 24,
    patchSize: 8,
    visionHeads: 4,
  }],
];

for (const [name, opts] of CASES) {
  Deno.test(`clip graph (${name}): tower + projector match the reference`, async () => {
    const ck = makeTinyLlava(opts);
    const vision = ck.spec.vision!;
    const ref = referenceLlava(ck.spec, ck.store);
    const S = vision.imageSize;
    const pixels = Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i * 0.37) * 1.7);
    const session = await ort.InferenceSession.create(
      buildClipGraph(vision, ck.spec.projector!, ck.store).toBytes(),
    );
    const out = await session.run({
      pixel_values: new ort.Tensor("float32", pixels, [1, 3, S, S]),
    });
    await session.release();
    const rows = clipFeatureRows(vision);
    assertEquals(rows, ck.spec.imageTokens);
    assertEquals(out.image_features.dims, [1, rows, ck.spec.text.hiddenSize]);
    assert(maxAbsDiff(out.image_features.data as Float32Array, ref.imageFeatures(pixels)) <= 1e-4);
  });
}

Deno.test("clip graph: only the layers up to the selected hidden state are built", () => {
  const ck = makeTinyLlava({ visionLayers: 3, featureLayer: -2 });
  const vision = ck.spec.vision!;
  assertEquals(selectedHiddenState(vision), 2);
  const names = (v: ClipVisionSpec) => {
    const g = buildClipGraph(v, ck.spec.projector!, ck.store);
    return g.toModelProto().graph!.initializer!.map((t) => t.name!);
  };
  const built = names(vision);
  assert(built.some((n) => n.startsWith("layer1.")));
  assert(!built.some((n) => n.startsWith("layer2.")), "layer 3 is not needed for featureLayer -2");
  assert(names({ ...vision, featureLayer: -1 }).some((n) => n.startsWith("layer2.")));
});

Deno.test("clip graph: a feature layer outside the tower is refused", () => {
  const vision = makeTinyLlava({ visionLayers: 3 }).spec.vision!;
  assertEquals(selectedHiddenState({ ...vision, featureLayer: -4 }), 0);
  assertMatch(
    assertThrows(
      () => selectedHiddenState({ ...vision, featureLayer: -5 }),
      Error,
    ).message,
    /selects no hidden state/,
  );
  assertMatch(
    assertThrows(
      () => selectedHiddenState({ ...vision, featureLayer: 4 }),
      Error,
    ).message,
    /selects no hidden state/,
  );
});
