/**
 * An ONNX model and its external data files as bytes in memory: what onnxruntime-web loads
 * (it cannot resolve `location` entries against a file path the way onnxruntime-node does).
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "../graph/onnx_builder.ts";
 * import { readModelFiles } from "./model_files.ts";
 *
 * const g = new GraphBuilder("double");
 * const x = g.input("x", "float32", ["N"]);
 * g.output(g.op("Add", [x, x]), "float32", ["N"]);
 * const dir = await Deno.makeTempDir();
 * await g.save(`${dir}/model.onnx`);
 * const files = await readModelFiles(`${dir}/model.onnx`);
 * console.log(files.external.length); // 0: no initializer reached the external threshold
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { dirname, join } from "node:path";
import { InputError } from "../errors.ts";

const onnx: typeof onnxProto.onnx = onnxProto.onnx;

/** One external data file, named as the model's `location` entries name it. */
export interface ExternalDataFile {
  /** The `location` value (relative to the model file). */
  path: string;
  /** Its bytes. */
  data: Uint8Array;
}

/** A serialised model and every external data file it refers to. */
export interface ModelFiles {
  /** The `.onnx` bytes. */
  model: Uint8Array;
  /** External data files, each once. */
  external: ExternalDataFile[];
}

/** Total bytes of a model and its external data. */
export function modelFilesBytes(files: ModelFiles): number {
  return files.external.reduce((s, e) => s + e.data.byteLength, files.model.byteLength);
}

/** The distinct external data `location`s of a model's initializers. */
export function externalLocations(model: Uint8Array): string[] {
  const proto = onnx.ModelProto.decode(model);
  const locations = new Set<string>();
  for (const t of proto.graph?.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const location = t.externalData?.find((e) => e.key === "location")?.value;
    if (location) locations.add(location);
  }
  return [...locations];
}

const ELEMENT_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  16: 2,
};

/** Name and byte size of every initializer of a model, inline or external. */
export function initializerSizes(model: Uint8Array): { name: string; bytes: number }[] {
  const proto = onnx.ModelProto.decode(model);
  return (proto.graph?.initializer ?? []).map((t) => {
    const length = t.externalData?.find((e) => e.key === "length")?.value;
    const count = (t.dims ?? []).reduce((n: number, d) => n * Number(d), 1);
    const bytes = length !== undefined
      ? Number(length)
      : count * (ELEMENT_BYTES[t.dataType ?? 1] ?? 4);
    return { name: t.name ?? "", bytes };
  });
}

/** Reads `path` and the external data files its initializers name (resolved next to it). */
export async function readModelFiles(path: string): Promise<ModelFiles> {
  const model = await Deno.readFile(path);
  const external: ExternalDataFile[] = [];
  for (const location of externalLocations(model)) {
    const file = join(dirname(path), location);
    try {
      external.push({ path: location, data: await Deno.readFile(file) });
    } catch (err) {
      throw new InputError(
        `model ${path} refers to external data ${location}, which cannot be read (${
          (err as Error).message
        }); rebuild the graph (delete its graph-cache entry)`,
      );
    }
  }
  return { model, external };
}
