/**
 * Converts a float32 ONNX model to half precision for GPUs with `shader-f16`: weights and
 * activations become float16 (half the memory), while the graph's inputs and outputs stay
 * float32, so callers see no difference. The node rewrite, and which values stay float32 (RoPE
 * angles, squares), is `halfPrecisionNodes` (`lib/graph/half_precision.ts`); this module converts
 * the initializers of a model already serialised. A model marked as half precision (built so by
 * the graph builders, or converted here before) is returned unchanged.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "../graph/onnx_builder.ts";
 * import { toFloat16Model } from "./float16_model.ts";
 *
 * const g = new GraphBuilder("scale");
 * const x = g.input("x", "float32", ["N"]);
 * g.op("Mul", [x, g.constF32(0.5, [])], {}, { outputs: ["y"] });
 * g.output("y", "float32", ["N"]);
 * const half = toFloat16Model({ model: g.toBytes(), external: [] });
 * console.log(half.model.byteLength > 0);
 * ```
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { halfPrecisionNodes, PRECISION_METADATA_KEY, toFloat16 } from "../graph/half_precision.ts";
import type { ExternalDataFile, ModelFiles } from "./model_files.ts";

const onnx: typeof onnxProto.onnx = onnxProto.onnx;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type ValueInfoProto = InstanceType<typeof onnx.ValueInfoProto>;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const INT64 = onnx.TensorProto.DataType.INT64;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

/** Initializers of at least this many bytes go to the external data file. */
const EXTERNAL_THRESHOLD = 1024;
/** Name of the converted model's external data file. */
export const FLOAT16_DATA_FILE = "model.f16.data";

/** Converts `files` (a float32 model and its external data); see the module documentation. */
export function toFloat16Model(files: ModelFiles): ModelFiles {
  const proto = onnx.ModelProto.decode(files.model);
  const graph = proto.graph as InstanceType<typeof onnx.GraphProto>;
  // Decoded messages are class instances: their fields are set (protobuf defaults).
  const graphInits = graph.initializer as TensorProto[];
  const graphInputs = graph.input as ValueInfoProto[];
  const graphOutputs = graph.output as ValueInfoProto[];
  const externals = new Map(files.external.map((e) => [e.path, e.data]));

  if (isHalfPrecision(proto)) return files;
  const { nodes, halfCopies: halfInits } = halfPrecisionNodes({
    nodes: graph.node as NodeProto[],
    inputs: graphInputs,
    outputs: graphOutputs,
    initializerTypes: new Map(graphInits.map((t) => [t.name, t.dataType])),
  });

  // Initializers: half copies where half nodes read them, the float32 originals where float32
  // nodes still do; large ones go to one external data file.
  const used = new Set(nodes.flatMap((n) => n.input));
  const chunks: { offset: number; bytes: Uint8Array }[] = [];
  let dataBytes = 0;
  const place = (t: TensorProto, bytes: Uint8Array): TensorProto => {
    if (bytes.byteLength < EXTERNAL_THRESHOLD) {
      return onnx.TensorProto.create({
        name: t.name,
        dims: t.dims,
        dataType: t.dataType,
        rawData: bytes,
      });
    }
    const offset = Math.ceil(dataBytes / 64) * 64;
    chunks.push({ offset, bytes });
    dataBytes = offset + bytes.byteLength;
    return onnx.TensorProto.create({
      name: t.name,
      dims: t.dims,
      dataType: t.dataType,
      dataLocation: EXTERNAL,
      externalData: [
        { key: "location", value: FLOAT16_DATA_FILE },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(bytes.byteLength) },
      ],
    });
  };
  const out: TensorProto[] = [];
  for (const t of graphInits) {
    const half = halfInits.get(t.name);
    if (!used.has(t.name) && !half) continue;
    const bytes = initializerBytes(t, externals);
    if (used.has(t.name)) out.push(place(t, bytes));
    if (half) {
      const values = new Float32Array(new Uint8Array(bytes).buffer); // a copy: aligned, own buffer
      const bits = toFloat16(values, `toFloat16Model: initializer ${t.name}`);
      out.push(place(
        onnx.TensorProto.create({ name: half, dims: t.dims, dataType: FLOAT16 }),
        new Uint8Array(bits.buffer),
      ));
    }
  }
  const data = new Uint8Array(dataBytes);
  for (const c of chunks) data.set(c.bytes, c.offset);

  graph.node = nodes;
  graph.initializer = out;
  graph.valueInfo = [];
  proto.metadataProps = [
    ...(proto.metadataProps ?? []),
    { key: PRECISION_METADATA_KEY, value: "float16" },
  ];
  const external: ExternalDataFile[] = dataBytes > 0 ? [{ path: FLOAT16_DATA_FILE, data }] : [];
  return { model: onnx.ModelProto.encode(proto).finish(), external };
}

/** True when `proto` is marked as already in half precision. */
function isHalfPrecision(proto: InstanceType<typeof onnx.ModelProto>): boolean {
  return (proto.metadataProps ?? []).some((p) =>
    p.key === PRECISION_METADATA_KEY && p.value === "float16"
  );
}

function initializerBytes(t: TensorProto, externals: Map<string, Uint8Array>): Uint8Array {
  if (t.dataLocation !== EXTERNAL) {
    if (t.rawData && t.rawData.byteLength > 0) return t.rawData;
    if (t.dataType === FLOAT && t.floatData.length > 0) {
      return new Uint8Array(Float32Array.from(t.floatData).buffer);
    }
    if (t.dataType === INT64 && t.int64Data.length > 0) {
      return new Uint8Array(BigInt64Array.from(t.int64Data.map((v) => BigInt(String(v)))).buffer);
    }
    return t.rawData ?? new Uint8Array(0);
  }
  const entry = (key: string) => t.externalData.find((e) => e.key === key)?.value;
  const location = entry("location")!;
  const file = externals.get(location);
  if (!file) throw new Error(`toFloat16Model: external data ${location} of ${t.name} not given`);
  const offset = Number(entry("offset") ?? 0);
  const length = Number(entry("length") ?? file.byteLength - offset);
  return file.subarray(offset, offset + length);
}
