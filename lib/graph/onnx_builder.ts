/**
 * A small typed builder for ONNX graphs over `onnx-proto` (opset 17, IR version 8).
 *
 * Graphs are built node by node with generated value names; weights are float32 initializers.
 * {@link GraphBuilder.toBytes} inlines everything (for small graphs and tests; protobuf caps a
 * message at 2 GiB), {@link GraphBuilder.save} moves every initializer of at least
 * `externalThreshold` bytes to a `<model>.data` file next to the model (ONNX external data:
 * `dataLocation = EXTERNAL` with `location`/`offset`/`length` entries), so the model file stays
 * small whatever the weights weigh. onnxruntime resolves the data file relative to the model
 * path, so a saved model must be loaded from its path, not from bytes.
 *
 * @module
 */
import onnxProto from "onnx-proto";

const onnx: typeof onnxProto.onnx = onnxProto.onnx;

/** ONNX opset version of every graph built here. */
export const OPSET = 17;
/** ONNX IR version written into models (the one that goes with opset 17). */
export const IR_VERSION = 8;

/** Element types used by the builder. */
export type DType = "float32" | "int64" | "int32" | "bool" | "uint8";

/** A dimension: a fixed size, a symbolic name (`"T"`), or `null` for unknown. */
export type Dim = number | string | null;

const DTYPE_CODE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** A float attribute (plain numbers are written as integer attributes). */
export class FloatAttr {
  /**
   * Wraps `value`.
   * @param value the float value
   */
  constructor(readonly value: number) {}
}

/** A list-of-floats attribute (plain number arrays are written as integer lists). */
export class FloatsAttr {
  /**
   * Wraps `value`.
   * @param value the float values
   */
  constructor(readonly value: number[]) {}
}

/** Marks `value` as a float attribute. */
export const float = (value: number): FloatAttr => new FloatAttr(value);
/** Marks `value` as a list-of-floats attribute. */
export const floats = (value: number[]): FloatsAttr => new FloatsAttr(value);

/** Attribute values: integers, integer lists, strings, or {@link float}/{@link floats}. */
export type AttrValue = number | number[] | string | FloatAttr | FloatsAttr;

/** Typed array data accepted for initializers. */
export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

interface Initializer {
  name: string;
  dtype: DType;
  dims: number[];
  data: TensorData;
}

/** Options of {@link GraphBuilder.op}. */
export interface OpOptions {
  /** Names of the outputs (default: generated); its length sets the output count. */
  outputs?: string[];
  /** Number of outputs when names are generated (default 1). */
  count?: number;
  /** Operator domain (default: the ONNX domain). */
  domain?: string;
}

/** Options of {@link GraphBuilder.save}. */
export interface SaveOptions {
  /** Initializers of at least this many bytes go to the external data file (default 1024). */
  externalThreshold?: number;
  /** Byte alignment of each tensor in the data file, so runtimes can map it (default 4096). */
  alignment?: number;
}

/** Sizes written by {@link GraphBuilder.save}. */
export interface SavedModel {
  /** Path of the `.onnx` file. */
  modelPath: string;
  /** Path of the external data file, or `null` when every initializer was inlined. */
  dataPath: string | null;
  /** Size of the `.onnx` file in bytes. */
  modelBytes: number;
  /** Size of the external data file in bytes (0 without one). */
  dataBytes: number;
}

/** Protobuf refuses messages of 2 GiB and more; stay clear of the limit. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;

/** Builds one ONNX graph; see the module documentation. */
export class GraphBuilder {
  #nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  #inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  #outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  #inits: Initializer[] = [];
  #names = new Set<string>();
  #constCache = new Map<string, string>();
  #domains = new Set<string>();
  #counter = 0;

  /**
   * Starts an empty graph.
   * @param name graph name, also the model's doc string
   */
  constructor(readonly name: string) {}

  /** Number of nodes added so far. */
  get nodeCount(): number {
    return this.#nodes.length;
  }

  /** Total bytes of all initializers. */
  get initializerBytes(): number {
    return this.#inits.reduce((s, t) => s + t.data.byteLength, 0);
  }

  /** A value name starting with `hint` that no value uses yet (claimed when produced). */
  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.#counter++}`; while (this.#names.has(name));
    return name;
  }

  #claim(name: string): string {
    if (this.#names.has(name)) throw new Error(`GraphBuilder: value name "${name}" used twice`);
    this.#names.add(name);
    return name;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, dtype: DType, dims: Dim[]): string {
    this.#inputs.push(valueInfo(this.#claim(name), dtype, dims));
    return name;
  }

  /** Declares the existing value `name` as a graph output. */
  output(name: string, dtype: DType, dims: Dim[]): void {
    if (!this.#names.has(name)) throw new Error(`GraphBuilder: output "${name}" is never produced`);
    this.#outputs.push(valueInfo(name, dtype, dims));
  }

  /** Adds an initializer (the data is referenced, not copied) and returns its name. */
  initializer(name: string, dtype: DType, dims: readonly number[], data: TensorData): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) {
      throw new Error(
        `GraphBuilder: initializer ${name} [${dims}] needs ${size} values, got ${data.length}`,
      );
    }
    this.#inits.push({ name: this.#claim(name), dtype, dims: [...dims], data });
    return name;
  }

  /** Adds a float32 weight. */
  weight(name: string, dims: readonly number[], data: Float32Array): string {
    return this.initializer(name, "float32", dims, data);
  }

  /** An int64 constant (deduplicated); a scalar when `dims` is `[]`, else 1-D by default. */
  constI64(values: number | readonly number[], dims?: readonly number[]): string {
    const list = typeof values === "number" ? [values] : [...values];
    const shape = dims ?? (typeof values === "number" ? [] : [list.length]);
    return this.#constant("int64", list, shape, () => BigInt64Array.from(list.map(BigInt)));
  }

  /** A float32 constant (deduplicated); a scalar when `dims` is `[]`, else 1-D by default. */
  constF32(values: number | readonly number[] | Float32Array, dims?: readonly number[]): string {
    const list = typeof values === "number" ? [values] : [...values];
    const shape = dims ?? (typeof values === "number" ? [] : [list.length]);
    return this.#constant("float32", list, shape, () => Float32Array.from(list));
  }

  #constant(dtype: DType, list: number[], dims: readonly number[], make: () => TensorData): string {
    const key = `${dtype}|${dims}|${list.map((v) => Object.is(v, -0) ? "-0" : String(v))}`;
    const hit = this.#constCache.get(key);
    if (hit) return hit;
    const name = this.initializer(this.fresh(`const_${dtype}`), dtype, dims, make());
    this.#constCache.set(key, name);
    return name;
  }

  /** Adds a node and returns the name of its first output. Pass `""` for an absent input. */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: OpOptions = {},
  ): string {
    return this.ops(opType, inputs, attrs, opts)[0];
  }

  /** Adds a node and returns the names of all its outputs. */
  ops(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: OpOptions = {},
  ): string[] {
    for (const i of inputs) {
      if (i !== "" && !this.#names.has(i)) {
        throw new Error(`GraphBuilder: ${opType} reads "${i}", which nothing produces`);
      }
    }
    const hint = opType.toLowerCase();
    if (opts.domain) this.#domains.add(opts.domain);
    const outputs = opts.outputs
      ? opts.outputs.map((n) => this.#claim(n))
      : Array.from({ length: opts.count ?? 1 }, () => this.#claim(this.fresh(hint)));
    this.#nodes.push(onnx.NodeProto.create({
      opType,
      domain: opts.domain ?? "",
      name: `${hint}_node_${this.#nodes.length}`,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    }));
    return outputs;
  }

  /** Initializers that some node or graph output reads (unused constants are not written). */
  #usedInits(): Initializer[] {
    const used = new Set<string>(this.#outputs.map((o) => o.name));
    for (const n of this.#nodes) for (const i of n.input) used.add(i);
    return this.#inits.filter((t) => used.has(t.name));
  }

  /** The model with every initializer inline (raw data), as a protobuf message. */
  toModelProto(): InstanceType<typeof onnxProto.onnx.ModelProto> {
    return this.#model(this.#usedInits().map((t) => inlineTensor(t)));
  }

  /** Serialises the model with every initializer inline; throws past protobuf's 2 GiB limit. */
  toBytes(): Uint8Array {
    if (this.initializerBytes > PROTOBUF_LIMIT - 64 * 1024 * 1024) {
      throw new Error(
        `GraphBuilder: ${this.initializerBytes} bytes of weights exceed protobuf's 2 GiB limit; ` +
          `use save(path) so they go to an external data file`,
      );
    }
    return onnx.ModelProto.encode(this.toModelProto()).finish();
  }

  /**
   * Writes `path` (the model) and, when some initializer reaches `externalThreshold` bytes,
   * `path + ".data"` (their bytes, each aligned to `alignment`).
   */
  async save(path: string, options: SaveOptions = {}): Promise<SavedModel> {
    const threshold = options.externalThreshold ?? 1024;
    const alignment = options.alignment ?? 4096;
    const dataPath = `${path}.data`;
    const location = dataPath.split(/[\\/]/).pop()!;
    const tensors: InstanceType<typeof onnx.TensorProto>[] = [];
    const external: { data: TensorData; offset: number }[] = [];
    let offset = 0;
    for (const t of this.#usedInits()) {
      if (t.data.byteLength < threshold) {
        tensors.push(inlineTensor(t));
        continue;
      }
      offset = Math.ceil(offset / alignment) * alignment;
      external.push({ data: t.data, offset });
      tensors.push(onnx.TensorProto.create({
        name: t.name,
        dims: t.dims,
        dataType: DTYPE_CODE[t.dtype],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: location },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(t.data.byteLength) },
        ],
      }));
      offset += t.data.byteLength;
    }
    let dataBytes = 0;
    if (external.length > 0) {
      using file = await Deno.open(dataPath, { write: true, create: true, truncate: true });
      for (const e of external) {
        if (e.offset > dataBytes) await writeAll(file, new Uint8Array(e.offset - dataBytes));
        await writeAll(file, bytesOf(e.data));
        dataBytes = e.offset + e.data.byteLength;
      }
    }
    const model = onnx.ModelProto.encode(this.#model(tensors)).finish();
    await Deno.writeFile(path, model);
    return {
      modelPath: path,
      dataPath: external.length > 0 ? dataPath : null,
      modelBytes: model.byteLength,
      dataBytes,
    };
  }

  #model(initializer: InstanceType<typeof onnx.TensorProto>[]) {
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      // Contrib operator domains (onnxruntime's `com.microsoft`) have version 1.
      opsetImport: [
        { domain: "", version: OPSET },
        ...[...this.#domains].map((domain) => ({ domain, version: 1 })),
      ],
      producerName: "prefixkv",
      docString: this.name,
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.#nodes,
        input: this.#inputs,
        output: this.#outputs,
        initializer,
      }),
    });
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  // Large tensors are written in slices: a single write of several GiB may be partial.
  const chunk = 64 * 1024 * 1024;
  for (let at = 0; at < bytes.length;) {
    at += await file.write(bytes.subarray(at, Math.min(at + chunk, bytes.length)));
  }
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function inlineTensor(t: Initializer) {
  return onnx.TensorProto.create({
    name: t.name,
    dims: t.dims,
    dataType: DTYPE_CODE[t.dtype],
    rawData: bytesOf(t.data),
  });
}

function valueInfo(name: string, dtype: DType, dims: Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: DTYPE_CODE[dtype],
        shape: {
          dim: dims.map((d) =>
            typeof d === "number" ? { dimValue: d } : d === null ? {} : { dimParam: d }
          ),
        },
      },
    },
  });
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (v instanceof FloatAttr) {
    return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.value });
  }
  if (v instanceof FloatsAttr) {
    return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: v.value });
  }
  if (typeof v === "string") {
    return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  }
  if (Array.isArray(v)) {
    assertIntegers(name, v);
    return onnx.AttributeProto.create({ name, type: T.INTS, ints: v });
  }
  assertIntegers(name, [v]);
  return onnx.AttributeProto.create({ name, type: T.INT, i: v });
}

function assertIntegers(name: string, values: number[]): void {
  if (values.some((x) => !Number.isInteger(x))) {
    throw new Error(
      `GraphBuilder: attribute ${name} = ${values} is not integer; wrap floats with float()`,
    );
  }
}
