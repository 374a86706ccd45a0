/**
 * Half precision: the model conversion (checked on the graph itself, no GPU needed), and
 * `webgpu` float16 against `cpu` float32 within {@link FLOAT16_TOLERANCE} on adapters with
 * `shader-f16`, with the bundled model's greedy ids unchanged.
 */
import { assert, assertEquals } from "@std/assert";
import onnxProto from "onnx-proto";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { buildLlamaGraph } from "../../lib/graph/llama_graph.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { toFloat16Model } from "../../lib/runtime/float16_model.ts";
import { modelFilesBytes } from "../../lib/runtime/model_files.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import { makeTinyLlama, writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";
import { QUESTION, TINY, tinyPixels } from "../e2e/_models.ts";
import { noShaderF16 } from "./_adapter.ts";
import {
  bundledExample,
  compareModels,
  describeDifferences,
  type Differences,
} from "./_compare.ts";

const onnx = onnxProto.onnx;
const { FLOAT, FLOAT16 } = onnx.TensorProto.DataType;

/**
 * Float16 against float32, relative to the reference's largest magnitude (logits, importance,
 * image features) or absolute (attention probabilities, at most 1). float16 keeps 11
 * significant bits (relative step 4.9e-4); rounding compounds over layers.
 */
export const FLOAT16_TOLERANCE = { logits: 1e-2, importance: 1e-2, attention: 5e-3, image: 1e-2 };

Deno.test("float16 model: weights halve, I/O stays float32, RoPE angles and squares stay float32", () => {
  // Wide enough that weights, not graph structure, make up the model's bytes.
  const ck = makeTinyLlama({ heads: 4, kvHeads: 2, layers: 2, hidden: 64, intermediate: 128 });
  const files = { model: buildLlamaGraph(ck.spec.text, ck.store).toBytes(), external: [] };
  const half = toFloat16Model(files);
  const proto = onnx.ModelProto.decode(half.model);
  const graph = proto.graph!;
  const source = onnx.ModelProto.decode(files.model).graph!;
  // Inputs and outputs keep their names and float32 types.
  const io = (g: typeof graph) =>
    [...g.input!, ...g.output!].map((v) => [v.name, v.type!.tensorType!.elemType]);
  assertEquals(io(graph), io(source));
  // Every weight matrix is float16 now; only RoPE's inverse frequencies (a float32 island fed
  // by integer positions) and the RMSNorm epsilon stay float32.
  const floatInits = graph.initializer!.filter((t) => t.dataType === FLOAT);
  assert(floatInits.every((t) => (t.dims ?? []).length <= 1), "a float32 matrix is left");
  assert(graph.initializer!.some((t) => t.dataType === FLOAT16 && (t.dims ?? []).length === 2));
  assert(modelFilesBytes(half) < 0.6 * modelFilesBytes(files), "weights did not halve");
  // Squares (RMSNorm's x²) read a Cast to float32.
  const producer = new Map(graph.node!.flatMap((n) => n.output!.map((o) => [o, n])));
  const squares = graph.node!.filter((n) => n.opType === "Mul" && n.input![0] === n.input![1]);
  assert(squares.length === 2 * 2 + 1, `${squares.length} squares`);
  for (const sq of squares) {
    const cast = producer.get(sq.input![0])!;
    assertEquals([cast.opType, Number(cast.attribute![0].i)], ["Cast", FLOAT]);
  }
  // The Cos/Sin of RoPE run on float32 angles.
  for (const n of graph.node!.filter((n) => n.opType === "Cos" || n.opType === "Sin")) {
    const from = producer.get(n.input![0])!;
    assert(from.opType !== "Cast" || Number(from.attribute![0].i) !== FLOAT16, "angles in float16");
  }
});

function check(d: Differences, name: string, idsEqual: boolean): void {
  console.log(describeDifferences(name, d));
  const t = FLOAT16_TOLERANCE;
  assert(d.logits <= t.logits * d.logitScale, `${name}: logits differ by ${d.logits}`);
  assert(d.stepLogits <= t.logits * d.logitScale, `${name}: step logits ${d.stepLogits}`);
  assert(d.importance <= t.importance * d.importanceScale, `${name}: importance ${d.importance}`);
  assert(d.attention <= t.attention, `${name}: attention differs by ${d.attention}`);
  assert(d.stepAttention <= t.attention, `${name}: step attention ${d.stepAttention}`);
  assert(d.imageFeatures <= t.image * d.imageScale, `${name}: image features ${d.imageFeatures}`);
  if (idsEqual) {
    assertEquals(d.fullIds, d.referenceIds, `${name}: full-cache ids`);
    assertEquals(d.prefixkvIds, d.referenceIds, `${name}: PrefixKV at 100 % ids`);
  }
}

async function pair(source: string): Promise<[Model, Model]> {
  const cpu = await loadModel(source, { cacheDir: false });
  return [
    cpu,
    await loadModel(source, { device: "webgpu", precision: "float16", cacheDir: false }),
  ];
}

Deno.test({
  name: "webgpu float16: tiny LLaVA within the float16 tolerance of cpu float32",
  ignore: noShaderF16,
  async fn() {
    const root = await Deno.makeTempDir();
    const { dir } = await writeTinyLlava(root, TINY);
    const [cpu, gpu] = await pair(dir);
    try {
      const image = tinyPixels();
      const prompt = await chatPrompt(cpu, { question: QUESTION, image });
      // Random weights leave near-ties between logits, so only the trained model's ids count.
      check(await compareModels(cpu, gpu, prompt, { image, tokens: 2 }), "tiny LLaVA f16", false);
    } finally {
      await Promise.all([cpu.close(), gpu.close()]);
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "webgpu float16: the bundled tiny LLaVA within tolerance, same greedy ids",
  ignore: noShaderF16,
  async fn() {
    const [cpu, gpu] = await pair(BUNDLED_MODEL_DIR);
    try {
      const { prompt, image } = await bundledExample(cpu);
      check(await compareModels(cpu, gpu, prompt, { image, tokens: 12 }), "bundled f16", true);
    } finally {
      await Promise.all([cpu.close(), gpu.close()]);
    }
  },
});
