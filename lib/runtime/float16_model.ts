/**
 * Converts a float32 ONNX model to half precision for GPUs with `shader-f16`: weights and
 * activations become float16 (half the memory), while the graph's inputs and outputs stay
 * float32 (a `Cast` after each input and before each output), so callers see no difference.
 *
 * Two kinds of values stay float32 because half precision would break them, not just blur them:
 * - values computed from integers (RoPE angles `position · θ⁻ⁱ`: float16 has 11 significant
 *   bits, so position 3000 would be off by 2), until they meet an activation;
 * - squares (`Mul(x, x)`, RMSNorm's `mean(x²)`): float16 overflows at 65504, i.e. |x| ≥ 256.
 *
 * Every other float operation follows its inputs: a node with any half-precision activation
 * input runs in half precision (float32 inputs are cast, float initializers converted).
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
import type { ExternalDataFile, ModelFiles } from "./model_files.ts";

const onnx: typeof onnxProto.onnx = onnxProto.onnx;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type ValueInfoProto = InstanceType<typeof onnx.ValueInfoProto>;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const INT64 = onnx.TensorProto.DataType.INT64;
const BOOL = onnx.TensorProto.DataType.BOOL;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
const INT_ATTR = onnx.AttributeProto.AttributeType.INT;

const isFloat = (type: number): boolean => type === FLOAT || type === FLOAT16;

/** Initializers of at least this many bytes go to the external data file. */
const EXTERNAL_THRESHOLD = 1024;
/** Name of the converted model's external data file. */
export const FLOAT16_DATA_FILE = "model.f16.data";

/** Element type of each output of `node`, from its inputs' types (the ops our graphs use). */
function outputTypes(node: NodeProto, typeOf: (name: string) => number): number[] {
  const first = node.input.length > 0 ? typeOf(node.input[0]) : FLOAT;
  const count = node.output.length;
  switch (node.opType) {
    case "Shape":
      return [INT64];
    case "Cast":
      return [Number(node.attribute.find((a) => a.name === "to")!.i)];
    case "Equal":
    case "Less":
    case "LessOrEqual":
    case "Greater":
    case "GreaterOrEqual":
    case "Not":
    case "And":
    case "Or":
      return [BOOL];
    case "Where":
      return [typeOf(node.input[1])];
    case "Constant":
    case "ConstantOfShape":
    case "Loop":
    case "If":
    case "Scan":
      throw new Error(`toFloat16Model: no type rule for ${node.opType} (node ${node.name})`);
    default:
      return new Array<number>(count).fill(first);
  }
}

/** Float32 bits → float16 bits; throws when a finite weight overflows half precision. */
function halfBits(values: Float32Array, name: string): Uint16Array {
  const half = new Float16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    half[i] = v;
    if (Number.isFinite(v) && !Number.isFinite(half[i])) {
      throw new Error(
        `toFloat16Model: initializer ${name} holds ${v} at ${i}, beyond float16's range (65504)`,
      );
    }
  }
  return new Uint16Array(half.buffer);
}

/** Converts `files` (a float32 model and its external data); see the module documentation. */
export function toFloat16Model(files: ModelFiles): ModelFiles {
  const proto = onnx.ModelProto.decode(files.model);
  const graph = proto.graph as InstanceType<typeof onnx.GraphProto>;
  // Decoded messages are class instances: their fields are set (protobuf defaults).
  const graphInits = graph.initializer as TensorProto[];
  const graphInputs = graph.input as ValueInfoProto[];
  const graphOutputs = graph.output as ValueInfoProto[];
  const externals = new Map(files.external.map((e) => [e.path, e.data]));

  const initializers = new Map<string, TensorProto>();
  for (const t of graphInits) initializers.set(t.name, t);
  const types = new Map<string, number>();
  for (const t of graphInits) types.set(t.name, t.dataType);
  for (const i of graphInputs) types.set(i.name, i.type!.tensorType!.elemType!);
  const typeOf = (name: string): number => {
    const t = types.get(name);
    if (t === undefined) throw new Error(`toFloat16Model: value ${name} has no known type`);
    return t;
  };

  // Precision class of each float value: half activation, float32 island, or initializer.
  type Cls = "half" | "single" | "init";
  const cls = new Map<string, Cls>();
  for (const t of graphInits) if (t.dataType === FLOAT) cls.set(t.name, "init");

  const nodes: NodeProto[] = [];
  let counter = 0;
  const fresh = (base: string) => `${base}__f16_${counter++}`;
  const castTo = (input: string, to: number, output: string) =>
    onnx.NodeProto.create({
      name: fresh("cast"),
      opType: "Cast",
      input: [input],
      output: [output],
      attribute: [{ name: "to", type: INT_ATTR, i: to }],
    });

  // Graph inputs stay float32; a Cast right after each one feeds the half-precision graph.
  const renamed = new Map<string, string>();
  for (const input of graphInputs) {
    if (input.type!.tensorType!.elemType !== FLOAT) continue;
    const inside = fresh(input.name);
    nodes.push(castTo(input.name, FLOAT16, inside));
    renamed.set(input.name, inside);
    types.set(inside, FLOAT16);
    cls.set(inside, "half");
  }
  // Graph outputs stay float32: their producers write a renamed value, cast at the end.
  const outputNames = new Set(graphOutputs.map((o) => o.name));
  const outputInside = new Map<string, string>();
  for (const o of graphOutputs) {
    if (o.type!.tensorType!.elemType === FLOAT) outputInside.set(o.name, fresh(o.name));
  }

  const halfCasts = new Map<string, string>(); // float32 island value → its half copy
  const singleCasts = new Map<string, string>(); // half value → its float32 copy
  const halfInits = new Map<string, string>(); // float32 initializer → its half copy
  const toHalf = (name: string): string => {
    const c = cls.get(name);
    if (c === "half") return name;
    if (c === "init") {
      let h = halfInits.get(name);
      if (!h) {
        h = fresh(name);
        halfInits.set(name, h);
        types.set(h, FLOAT16);
      }
      return h;
    }
    let h = halfCasts.get(name);
    if (!h) {
      h = fresh(name);
      nodes.push(castTo(name, FLOAT16, h));
      halfCasts.set(name, h);
      types.set(h, FLOAT16);
      cls.set(h, "half");
    }
    return h;
  };
  const toSingle = (name: string): string => {
    if (cls.get(name) !== "half") return name;
    let s = singleCasts.get(name);
    if (!s) {
      s = fresh(name);
      nodes.push(castTo(name, FLOAT, s));
      singleCasts.set(name, s);
      cls.set(s, "single");
      types.set(s, FLOAT);
    }
    return s;
  };

  for (const original of graph.node as NodeProto[]) {
    const node = onnx.NodeProto.create(original);
    node.input = node.input.map((n) => renamed.get(n) ?? outputInside.get(n) ?? n);
    node.output = node.output.map((n) => outputInside.get(n) ?? n);
    const floatInputs = node.input.filter((n) => n !== "" && isFloat(typeOf(n)));
    const isSquare = node.opType === "Mul" && node.input[0] === node.input[1];
    const isCastToFloat = node.opType === "Cast" &&
      Number(node.attribute.find((a) => a.name === "to")!.i) === FLOAT;
    let mode: "half" | "single";
    if (isCastToFloat) {
      // From integers: a float32 island; from a float: stays half.
      mode = floatInputs.length > 0 && cls.get(floatInputs[0]) === "half" ? "half" : "single";
      if (mode === "half") node.attribute = [{ name: "to", type: INT_ATTR, i: FLOAT16 }];
    } else if (isSquare) {
      mode = "single";
    } else {
      mode = floatInputs.some((n) => cls.get(n) === "half") ? "half" : "single";
    }
    if (!isCastToFloat) {
      node.input = node.input.map((n) => {
        if (n === "" || !isFloat(typeOf(n))) return n;
        return mode === "half" ? toHalf(n) : toSingle(n);
      });
    }
    const outTypes = outputTypes(node, typeOf);
    node.output.forEach((o, i) => {
      const t = outTypes[i];
      types.set(o, isFloat(t) ? (mode === "half" ? FLOAT16 : FLOAT) : t);
      if (isFloat(t)) cls.set(o, mode);
    });
    nodes.push(node);
  }
  for (const [name, inside] of outputInside) {
    nodes.push(castTo(inside, FLOAT, name));
    if (!outputNames.has(name)) throw new Error(`toFloat16Model: lost output ${name}`);
  }

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
      const bits = halfBits(values, t.name);
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
  const external: ExternalDataFile[] = dataBytes > 0 ? [{ path: FLOAT16_DATA_FILE, data }] : [];
  return { model: onnx.ModelProto.encode(proto).finish(), external };
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
