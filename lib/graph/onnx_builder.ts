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
 * An initializer's values may be given as *parts made on demand* ({@link TensorParts}): functions
 * called only when the graph is written, one at a time, whose results are concatenated in order
 * (row blocks of a fused weight, say). {@link GraphBuilder.save} writes each part to the data
 * file as soon as it is made and keeps no reference to it, so building and saving the graph of a
 * checkpoint of many gigabytes holds one checkpoint tensor at a time, not every weight; the
 * files are byte-identical to those of the same initializers given as arrays.
 *
 * With `referenceFiles`, a weight whose parts name where their bytes lie in a file
 * ({@link RegionPart}: a checkpoint tensor) and need no conversion becomes a {@link FileRegion}
 * initializer, and `save({ linkFiles: true })` points its external data straight into that file,
 * through a hard link next to the model (onnxruntime refuses external data outside the model's
 * folder, symbolic links included): the saved graph holds no second copy of it.
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { dirname, join } from "node:path";
import { halfPrecisionNodes, PRECISION_METADATA_KEY, toFloat16 } from "./half_precision.ts";

const onnx: typeof onnxProto.onnx = onnxProto.onnx;

/** ONNX opset version of every graph built here. */
export const OPSET = 17;
/** ONNX IR version written into models (the one that goes with opset 17). */
export const IR_VERSION = 8;

/** Element types used by the builder. */
export type DType = "float32" | "float16" | "bfloat16" | "int64" | "int32" | "bool" | "uint8";

/** A dimension: a fixed size, a symbolic name (`"T"`), or `null` for unknown. */
export type Dim = number | string | null;

const DTYPE_CODE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  bfloat16: onnx.TensorProto.DataType.BFLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** Bytes per element of each {@link DType}. */
const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  bool: 1,
  uint8: 1,
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
export type TensorData =
  | Float32Array
  | Float16Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Uint8Array;

/**
 * An initializer's values made on demand: each function is called once, when the graph is
 * written, and the results are concatenated in order (see the module documentation).
 */
export type TensorParts = readonly (() => TensorData)[];

/** Where a tensor's bytes lie in a file, stored as `dtype`, little-endian, row-major. */
export interface TensorRegion {
  /** The file. */
  path: string;
  /** Byte offset of the first element. */
  offset: number;
  /** Byte length. */
  length: number;
  /** Element type as stored. */
  dtype: "float32" | "float16" | "bfloat16";
}

/** A part that also says where its values lie as stored (see {@link GraphOptions}). */
export type RegionPart = (() => TensorData) & { region?: TensorRegion };

/** An initializer's data: bytes of a file, used as they are. */
export class FileRegion {
  /**
   * The `length` bytes at `offset` of `path`.
   * @param path the file
   * @param offset byte offset
   * @param length byte length
   */
  constructor(readonly path: string, readonly offset: number, readonly length: number) {}

  /** Reads the bytes. */
  read(): Uint8Array {
    using file = Deno.openSync(this.path, { read: true });
    file.seekSync(this.offset, Deno.SeekMode.Start);
    const out = new Uint8Array(this.length);
    for (let at = 0; at < out.length;) {
      const n = file.readSync(out.subarray(at));
      if (!n) throw new Error(`${this.path}: ended before byte ${this.offset + this.length}`);
      at += n;
    }
    return out;
  }
}

interface Initializer {
  name: string;
  dtype: DType;
  dims: number[];
  /** Element count, the product of `dims`. */
  size: number;
  values: TensorData | TensorParts | FileRegion;
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

/** Options of the {@link GraphBuilder} constructor. */
export interface GraphOptions {
  /**
   * Element type of weights added with {@link GraphBuilder.weight} (default `"float32"`).
   * `"float16"` also runs the graph in half precision (see `half_precision.ts`): inputs and
   * outputs stay float32, RoPE angles and squares too.
   */
  floatWeights?: "float32" | "float16";
  /**
   * Weights whose parts are {@link RegionPart}s with a region become {@link FileRegion}
   * initializers where no conversion is needed (default false): same element type as the
   * weights, or float16 / bfloat16 data under float32 weights, read through a `Cast` (exact;
   * onnxruntime folds it when loading). Parts lying back to back in one file (a fused gate/up)
   * make one region; others are copied in their stored type.
   */
  referenceFiles?: boolean;
}

/** Options of {@link GraphBuilder.save}. */
export interface SaveOptions {
  /** Initializers of at least this many bytes go to the external data file (default 1024). */
  externalThreshold?: number;
  /** Byte alignment of each tensor in the data file, so runtimes can map it (default 4096). */
  alignment?: number;
  /**
   * Point {@link FileRegion} initializers into their files through hard links next to the model
   * (default false: their bytes are copied into the data file). A file the graph reads less than
   * 1/64 of is copied from, not linked (a link keeps the whole file alive). Where a link cannot
   * be made (another file system), they are copied and {@link SavedModel.notLinked} says why.
   */
  linkFiles?: boolean;
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
  /** Hard links next to the model that initializers point into (see `linkFiles`). */
  linkedFiles: string[];
  /** Bytes of the initializers that point into linked files (stored there, not copied). */
  linkedBytes: number;
  /** Why files were copied rather than linked, when `linkFiles` was asked for and failed. */
  notLinked?: string;
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
   * @param options how float weights are held (see {@link GraphOptions})
   */
  constructor(readonly name: string, options: GraphOptions = {}) {
    this.floatWeights = options.floatWeights ?? "float32";
    this.referenceFiles = options.referenceFiles ?? false;
  }

  /** Whether weights reference the files their values lie in (see {@link GraphOptions}). */
  readonly referenceFiles: boolean;

  /** Element type of the weights added with {@link GraphBuilder.weight}. */
  readonly floatWeights: "float32" | "float16";

  /** Number of nodes added so far. */
  get nodeCount(): number {
    return this.#nodes.length;
  }

  /** Total bytes of all initializers (those made on demand included, without making them). */
  get initializerBytes(): number {
    return this.#inits.reduce((s, t) => s + byteLength(t), 0);
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

  /**
   * Adds an initializer and returns its name. `values` is referenced, not copied; parts made on
   * demand ({@link TensorParts}) are checked for their element type and count when made.
   */
  initializer(
    name: string,
    dtype: DType,
    dims: readonly number[],
    values: TensorData | TensorParts | FileRegion,
  ): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (values instanceof FileRegion) {
      if (values.length !== size * DTYPE_BYTES[dtype]) {
        throw new Error(
          `GraphBuilder: initializer ${name} (${dtype} [${dims}]) needs ${
            size * DTYPE_BYTES[dtype]
          } bytes, its file region has ${values.length}`,
        );
      }
    } else if (!Array.isArray(values)) checkValues(name, dtype, size, [values as TensorData]);
    this.#inits.push({ name: this.#claim(name), dtype, dims: [...dims], size, values });
    return name;
  }

  /**
   * Adds a float weight (its float32 values, or parts made on demand) in the builder's
   * {@link GraphBuilder.floatWeights} type: float16 weights are rounded from float32 one part at
   * a time (parts already float16 are taken as they are; a value beyond float16's range is an
   * error naming the weight).
   */
  weight(
    name: string,
    dims: readonly number[],
    values: Float32Array | Float16Array | TensorParts,
  ): string {
    if (this.referenceFiles && Array.isArray(values)) {
      const referenced = this.#referenced(name, dims, values as readonly RegionPart[]);
      if (referenced) return referenced;
    }
    if (this.floatWeights === "float32") return this.initializer(name, "float32", dims, values);
    const half = (data: TensorData) =>
      data instanceof Float32Array ? toFloat16(data, `weight ${name}`) : data;
    const parts = Array.isArray(values)
      ? (values as TensorParts).map((make) => () => half(make()))
      : [() => half(values as TensorData)];
    return this.initializer(name, "float16", dims, parts);
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

  /** The weight `name` as file regions, when its parts allow it (see {@link GraphOptions}). */
  #referenced(
    name: string,
    dims: readonly number[],
    parts: readonly RegionPart[],
  ): string | null {
    const regions = parts.map((p) => p.region);
    if (regions.length === 0 || regions.some((r) => !r)) return null;
    const [first, ...rest] = regions as TensorRegion[];
    if (rest.some((r) => r.dtype !== first.dtype)) return null;
    let end = first.offset + first.length;
    const contiguous = rest.every((r) => {
      const next = r.path === first.path && r.offset === end;
      end = r.offset + r.length;
      return next;
    });
    const stored = contiguous
      ? new FileRegion(first.path, first.offset, end - first.offset)
      : (regions as TensorRegion[]).map((r) => () => typedBytes(first.dtype, r));
    if (first.dtype === this.floatWeights) {
      if (!contiguous) return null; // a copy either way: convert as usual
      return this.initializer(name, first.dtype, dims, stored);
    }
    if (this.floatWeights !== "float32") return null;
    // float16 / bfloat16 data under float32 weights: widened by a Cast (exact).
    const data = this.initializer(`${name}.${first.dtype}`, first.dtype, dims, stored);
    return this.op("Cast", [data], { to: DTYPE_CODE.float32 }, {
      outputs: [this.#claimable(name)],
    });
  }

  #claimable(name: string): string {
    if (this.#names.has(name)) throw new Error(`GraphBuilder: value name "${name}" used twice`);
    return name;
  }

  /**
   * The nodes to write and the initializers they read (unused constants are not written). With
   * float16 weights the nodes run in half precision ({@link halfPrecisionNodes}) and each float32
   * initializer that half-precision nodes read gets a float16 copy, made when written.
   */
  #prepared(): { nodes: InstanceType<typeof onnx.NodeProto>[]; inits: Initializer[] } {
    let nodes = this.#nodes;
    let inits = this.#inits;
    if (this.floatWeights === "float16") {
      const half = halfPrecisionNodes({
        nodes,
        inputs: this.#inputs,
        outputs: this.#outputs,
        initializerTypes: new Map(this.#inits.map((t) => [t.name, DTYPE_CODE[t.dtype]])),
      });
      nodes = half.nodes;
      inits = this.#inits.flatMap((t) => {
        const copy = half.halfCopies.get(t.name);
        if (!copy) return [t];
        const values = [() => toFloat16(wholeValues(t) as Float32Array, `initializer ${t.name}`)];
        return [t, { ...t, name: copy, dtype: "float16" as const, values }];
      });
    }
    const used = new Set<string>(this.#outputs.map((o) => o.name));
    for (const n of nodes) for (const i of n.input) used.add(i);
    return { nodes, inits: inits.filter((t) => used.has(t.name)) };
  }

  /** The model with every initializer inline (raw data; parts are made), as a protobuf message. */
  toModelProto(): InstanceType<typeof onnxProto.onnx.ModelProto> {
    const { nodes, inits } = this.#prepared();
    return this.#model(nodes, inits.map((t) => inlineTensor(t, wholeValues(t))));
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
    const { nodes, inits: used } = this.#prepared();
    const tensors: InstanceType<typeof onnx.TensorProto>[] = [];
    let file: Deno.FsFile | null = null;
    let dataBytes = 0;
    const links = new Map<string, string>(); // file → its hard link's name next to the model
    const worthLinking = options.linkFiles ? filesWorthLinking(used, threshold) : new Set();
    let linkedBytes = 0;
    let notLinked: string | undefined;
    const external = (t: Initializer, where: string, offset: number, length: number) =>
      onnx.TensorProto.create({
        name: t.name,
        dims: t.dims,
        dataType: DTYPE_CODE[t.dtype],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: "location", value: where },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(length) },
        ],
      });
    try {
      for (const t of used) {
        const length = byteLength(t);
        if (length < threshold) {
          tensors.push(inlineTensor(t, wholeValues(t)));
          continue;
        }
        const region = t.values instanceof FileRegion ? t.values : null;
        if (region && worthLinking.has(region.path) && notLinked === undefined) {
          let link = links.get(region.path);
          if (link === undefined) {
            link = `linked-${links.size}-${region.path.split(/[\\/]/).pop()}`;
            try {
              await Deno.link(region.path, join(dirname(path), link));
              links.set(region.path, link);
            } catch (err) {
              // Another file system, or links not allowed: copy (as without linkFiles).
              notLinked = `cannot hard-link ${region.path} into ${dirname(path)}: ${
                (err as Error).message
              }`;
            }
          }
          if (notLinked === undefined) {
            tensors.push(external(t, link, region.offset, length));
            linkedBytes += length;
            continue;
          }
        }
        file ??= await Deno.open(dataPath, { write: true, create: true, truncate: true });
        const offset = Math.ceil(dataBytes / alignment) * alignment;
        if (offset > dataBytes) await writeAll(file, new Uint8Array(offset - dataBytes));
        // One part at a time: each is written and dropped before the next is made.
        const parts = Array.isArray(t.values) ? t.values as TensorParts : null;
        let written = 0;
        for (let i = 0; i < (parts ? parts.length : 1); i++) {
          const data = parts ? checkedPart(t, parts[i], written) : wholeValues(t);
          await writeAll(file, bytesOf(data));
          written += data.length;
        }
        checkValueCount(t, written);
        dataBytes = offset + length;
        tensors.push(external(t, location, offset, length));
      }
    } finally {
      file?.close();
    }
    const model = onnx.ModelProto.encode(this.#model(nodes, tensors)).finish();
    await Deno.writeFile(path, model);
    return {
      modelPath: path,
      dataPath: file ? dataPath : null,
      modelBytes: model.byteLength,
      dataBytes,
      linkedFiles: [...links.values()].map((name) => join(dirname(path), name)),
      linkedBytes,
      ...(notLinked !== undefined && { notLinked }),
    };
  }

  #model(
    node: InstanceType<typeof onnx.NodeProto>[],
    initializer: InstanceType<typeof onnx.TensorProto>[],
  ) {
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      // Contrib operator domains (onnxruntime's `com.microsoft`) have version 1.
      opsetImport: [
        { domain: "", version: OPSET },
        ...[...this.#domains].map((domain) => ({ domain, version: 1 })),
      ],
      producerName: "prefixkv",
      docString: this.name,
      // Marks a half-precision graph, so that it is not converted again at load.
      metadataProps: this.floatWeights === "float16"
        ? [{ key: PRECISION_METADATA_KEY, value: "float16" }]
        : [],
      graph: onnx.GraphProto.create({
        name: this.name,
        node,
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

function inlineTensor(t: Initializer, data: TensorData) {
  return onnx.TensorProto.create({
    name: t.name,
    dims: t.dims,
    dataType: DTYPE_CODE[t.dtype],
    rawData: bytesOf(data),
  });
}

/**
 * Files that the external file-region initializers of `inits` read at least 1/64 of: a link
 * keeps the whole file alive, so a file the graph reads only a sliver of (a shard holding the
 * norms of an int8 decoder, say) is copied from instead.
 */
function filesWorthLinking(inits: Initializer[], threshold: number): Set<string> {
  const read = new Map<string, number>();
  for (const t of inits) {
    if (!(t.values instanceof FileRegion) || byteLength(t) < threshold) continue;
    read.set(t.values.path, (read.get(t.values.path) ?? 0) + t.values.length);
  }
  const worth = new Set<string>();
  for (const [path, bytes] of read) {
    if (bytes * 64 >= Deno.statSync(path).size) worth.add(path);
  }
  return worth;
}

/** The values of `region`, as its element type's typed array. */
function typedBytes(dtype: TensorRegion["dtype"], region: TensorRegion): TensorData {
  const bytes = new FileRegion(region.path, region.offset, region.length).read();
  return new ARRAY_TYPE[dtype](bytes.buffer as ArrayBuffer as never);
}

function byteLength(t: Initializer): number {
  return t.size * DTYPE_BYTES[t.dtype];
}

/** The typed array type of each {@link DType}. */
const ARRAY_TYPE: Record<DType, { new (length: number): TensorData; name: string }> = {
  float32: Float32Array,
  float16: Float16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  bool: Uint8Array,
  uint8: Uint8Array,
};

function checkValues(name: string, dtype: DType, size: number, parts: TensorData[]): void {
  const Type = ARRAY_TYPE[dtype];
  for (const p of parts) {
    if (!(p instanceof Type)) {
      throw new Error(
        `GraphBuilder: initializer ${name} is ${dtype}, but its values are a ${p?.constructor?.name}`,
      );
    }
  }
  const got = parts.reduce((n, p) => n + p.length, 0);
  if (got !== size) {
    throw new Error(`GraphBuilder: initializer ${name} needs ${size} values, got ${got}`);
  }
}

/** Makes part `make` of `t`, checking its element type and that it fits after `before` values. */
function checkedPart(t: Initializer, make: () => TensorData, before: number): TensorData {
  const data = make();
  if (!(data instanceof ARRAY_TYPE[t.dtype])) checkValues(t.name, t.dtype, t.size, [data]);
  if (before + data.length > t.size) checkValueCount(t, before + data.length);
  return data;
}

function checkValueCount(t: Initializer, got: number): void {
  if (got !== t.size) {
    throw new Error(
      `GraphBuilder: initializer ${t.name} [${t.dims}] needs ${t.size} values, its parts made ${got}`,
    );
  }
}

/** All values of `t` in one array (its parts made and concatenated). */
function wholeValues(t: Initializer): TensorData {
  if (t.values instanceof FileRegion) {
    return new ARRAY_TYPE[t.dtype](t.values.read().buffer as ArrayBuffer as never);
  }
  if (!Array.isArray(t.values)) return t.values as TensorData;
  let made = 0;
  const parts = (t.values as TensorParts).map((make) => {
    const part = checkedPart(t, make, made);
    made += part.length;
    return part;
  });
  checkValueCount(t, made);
  if (parts.length === 1) return parts[0];
  const out = new ARRAY_TYPE[t.dtype](t.size);
  let at = 0;
  for (const p of parts) {
    (out as Uint8Array).set(p as Uint8Array, at);
    at += p.length;
  }
  return out;
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
