/**
 * Graph-cache bytes of the decoder with and without `linkCheckpoint` for a checkpoint, without
 * loading a session (a float32 7B graph cannot be loaded on a 24 GB machine, but it can be
 * written): the linked graph is written with its hard links into `--out`, the copying one only
 * counted (`initializerBytes`). A measurement, not a test.
 *
 *     deno run -A experiments/large_checkpoint/linked_bytes.ts --model /tmp/llava7b --out /tmp/linked [--weights f32] [--precision float32]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadCheckpoint } from "../../lib/checkpoint/checkpoint.ts";
import type { WeightFormat } from "../../lib/checkpoint/quantize.ts";
import { buildClipGraph } from "../../lib/graph/clip_graph.ts";
import { buildLlamaGraph } from "../../lib/graph/llama_graph.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    out: { type: "string" },
    weights: { type: "string", default: "f32" },
    precision: { type: "string", default: "float32" },
  },
});
if (!values.model || !values.out) throw new Error("give --model DIR --out DIR");
const ck = await loadCheckpoint(values.model);
const weights = values.weights as WeightFormat;
const precision = values.precision as "float32" | "float16";
const graphs = {
  decoder: (referenceCheckpoint: boolean) =>
    buildLlamaGraph(ck.spec.text, ck.tensors, {
      attention: "importance",
      logits: "last",
      weights,
      precision,
      referenceCheckpoint,
    }),
  vision: (referenceCheckpoint: boolean) =>
    buildClipGraph(ck.spec.vision!, ck.spec.projector!, ck.tensors, {
      precision,
      referenceCheckpoint,
    }),
};
const GiB = (b: number) => Number((b / 2 ** 30).toFixed(3));
for (const [name, build] of Object.entries(graphs)) {
  const dir = join(values.out, `${name}-${weights}-${precision}`);
  await Deno.mkdir(dir, { recursive: true });
  const t0 = performance.now();
  const saved = await build(true).save(join(dir, "model.onnx"), { linkFiles: true });
  console.log(JSON.stringify({
    graph: name,
    weights,
    precision,
    copyingGiB: GiB(build(false).initializerBytes),
    linkedOwnGiB: GiB(saved.dataBytes + saved.modelBytes),
    linkedIntoCheckpointGiB: GiB(saved.linkedBytes),
    linkedFiles: saved.linkedFiles.length,
    writeS: Math.round((performance.now() - t0) / 1000),
  }));
}
ck.tensors.close();
