/**
 * The node rewrite that runs a float32 graph in half precision, for GPUs with `shader-f16`:
 * activations become float16, while the graph's inputs and outputs stay float32 (a `Cast` after
 * each input and before each output), so callers see no difference.
 *
 * Two kinds of values stay float32 because half precision would break them, not just blur them:
 * - values computed from integers (RoPE angles `position · θ⁻ⁱ`: float16 has 11 significant
 *   bits, so position 3000 would be off by 2), until they meet an activation;
 * - squares (`Mul(x, x)`, RMSNorm's `mean(x²)`): float16 overflows at 65504, i.e. |x| ≥ 256.
 *
 * Every other float operation follows its inputs: a node with any half-precision input (an
 * activation or a float16 initializer) runs in half precision; its float32 activation inputs are
 * cast and its float32 initializers replaced by float16 copies ({@link HalfNodes.halfCopies}:
 * the caller makes them). A float32 node reading a float16 initializer reads a `Cast` of it.
 *
 * Two users: the graph builders, which write float16 weights straight from the checkpoint
 * ({@link GraphBuilder} with `floatWeights: "float16"`), and `toFloat16Model`, which converts a
 * float32 model after the fact.
 *
 * @module
 */
import onnxProto from "onnx-proto";
export { toFloat16 } from "../checkpoint/float16.ts";

const onnx: typeof onnxProto.onnx = onnxProto.onnx;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type ValueInfoProto = InstanceType<typeof onnx.ValueInfoProto>;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const INT64 = onnx.TensorProto.DataType.INT64;
const BOOL = onnx.TensorProto.DataType.BOOL;
const INT_ATTR = onnx.AttributeProto.AttributeType.INT;

const isFloat = (type: number): boolean => type === FLOAT || type === FLOAT16;

/** Model metadata key marking a graph already in half precision (converting it again is a no-op). */
export const PRECISION_METADATA_KEY = "prefixkv.precision";

/** What {@link halfPrecisionNodes} reads: the graph's nodes, inputs, outputs, initializer types. */
export interface FloatGraph {
  /** Nodes in topological order (not modified). */
  nodes: readonly NodeProto[];
  /** Graph inputs. */
  inputs: readonly ValueInfoProto[];
  /** Graph outputs. */
  outputs: readonly ValueInfoProto[];
  /** Element type (ONNX code) of every initializer, by name. */
  initializerTypes: ReadonlyMap<string, number>;
}

/** The rewritten nodes and the float16 copies of float32 initializers they read. */
export interface HalfNodes {
  /** The new node list (graph inputs and outputs keep their names and float32 types). */
  nodes: NodeProto[];
  /** Float32 initializer name → name of its float16 copy, which the caller must add. */
  halfCopies: Map<string, string>;
}

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
      throw new Error(`halfPrecisionNodes: no type rule for ${node.opType} (node ${node.name})`);
    default:
      return new Array<number>(count).fill(first);
  }
}

/** Rewrites `graph`'s nodes to half precision; see the module documentation. */
export function halfPrecisionNodes(graph: FloatGraph): HalfNodes {
  const types = new Map<string, number>(graph.initializerTypes);
  for (const i of graph.inputs) types.set(i.name, i.type!.tensorType!.elemType!);
  const typeOf = (name: string): number => {
    const t = types.get(name);
    if (t === undefined) throw new Error(`halfPrecisionNodes: value ${name} has no known type`);
    return t;
  };

  // Precision class of each float value: half (activation or float16 initializer), float32
  // island, or float32 initializer.
  type Cls = "half" | "single" | "init";
  const cls = new Map<string, Cls>();
  for (const [name, type] of graph.initializerTypes) {
    if (type === FLOAT) cls.set(name, "init");
    else if (type === FLOAT16) cls.set(name, "half");
  }

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
  for (const input of graph.inputs) {
    if (input.type!.tensorType!.elemType !== FLOAT) continue;
    const inside = fresh(input.name);
    nodes.push(castTo(input.name, FLOAT16, inside));
    renamed.set(input.name, inside);
    types.set(inside, FLOAT16);
    cls.set(inside, "half");
  }
  // Graph outputs stay float32: their producers write a renamed value, cast at the end.
  const outputInside = new Map<string, string>();
  for (const o of graph.outputs) {
    if (o.type!.tensorType!.elemType === FLOAT) outputInside.set(o.name, fresh(o.name));
  }

  const halfCasts = new Map<string, string>(); // float32 island value → its half copy
  const singleCasts = new Map<string, string>(); // half value → its float32 copy
  const halfCopies = new Map<string, string>(); // float32 initializer → its half copy
  const toHalf = (name: string): string => {
    const c = cls.get(name);
    if (c === "half") return name;
    if (c === "init") {
      let h = halfCopies.get(name);
      if (!h) {
        h = fresh(name);
        halfCopies.set(name, h);
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

  for (const original of graph.nodes) {
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
  for (const [name, inside] of outputInside) nodes.push(castTo(inside, FLOAT, name));
  return { nodes, halfCopies };
}
