/**
 * The read interface over checkpoint tensors, independent of the file format.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";

/** Element types found in checkpoints. */
export type TensorDtype = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I8" | "U8" | "BOOL";

/** Name, element type and shape of one stored tensor. */
export interface TensorInfo {
  /** Full tensor name as stored. */
  name: string;
  /** Element type as stored (before any float32 conversion). */
  dtype: TensorDtype;
  /** Dimensions, outermost first. */
  shape: number[];
}

/** A tensor's bytes in a file: `length` bytes at `offset` of `path`, little-endian. */
export interface StoredRegion {
  /** The file (absolute). */
  path: string;
  /** Byte offset of the first element. */
  offset: number;
  /** Byte length. */
  length: number;
  /** Element type as stored. */
  dtype: TensorDtype;
}

/** A set of named tensors that can be read as float32. */
export interface TensorStore {
  /** All tensor names, sorted. */
  names(): string[];
  /** Info for `name`, or `undefined` when absent. */
  info(name: string): TensorInfo | undefined;
  /**
   * Reads a floating-point tensor as float32. Throws an error naming the tensor and the file
   * when it is absent, or when `expectedShape` is given and differs.
   */
  getF32(name: string, expectedShape?: readonly number[]): Float32Array;
  /**
   * Reads a floating-point tensor as float16 (optional; stores without it are read as float32
   * and rounded): F16 as stored, other float types rounded to nearest; a finite value beyond
   * float16's range is an error naming the tensor. Same checks as {@link TensorStore.getF32}.
   */
  getF16?(name: string, expectedShape?: readonly number[]): Float16Array;
  /**
   * Where the tensor's bytes lie in a file, as stored (optional: stores backed by files), so
   * that a graph can point into the checkpoint instead of copying them.
   */
  region?(name: string): StoredRegion | undefined;
  /** Releases open files. */
  close(): void;
}

/** An in-memory {@link TensorStore}, for tests and for models built in code. */
export class MemoryTensorStore implements TensorStore {
  #tensors = new Map<string, { shape: number[]; data: Float32Array }>();

  /** Adds (or replaces) a float32 tensor. */
  set(name: string, shape: readonly number[], data: Float32Array): this {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new Error(`tensor ${name}: shape [${shape}] needs ${size} values, got ${data.length}`);
    }
    this.#tensors.set(name, { shape: [...shape], data });
    return this;
  }

  /** All tensor names, sorted. */
  names(): string[] {
    return [...this.#tensors.keys()].sort();
  }

  /** Info for `name`, or `undefined` when absent. */
  info(name: string): TensorInfo | undefined {
    const t = this.#tensors.get(name);
    return t && { name, dtype: "F32", shape: [...t.shape] };
  }

  /** Reads a floating-point tensor as float32; throws when absent or of another shape. */
  getF32(name: string, expectedShape?: readonly number[]): Float32Array {
    const t = this.#tensors.get(name);
    if (!t) throw new Error(`tensor ${name} is missing from the in-memory store`);
    checkShape(name, "memory", t.shape, expectedShape);
    return t.data;
  }

  /** Releases open files. */
  close(): void {}
}

/**
 * Throws a {@link CheckpointError} naming the tensor and where it lives when `actual` differs
 * from `expected` (if given).
 */
export function checkShape(
  name: string,
  where: string,
  actual: readonly number[],
  expected?: readonly number[],
): void {
  if (!expected) return;
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new CheckpointError(
      `tensor ${name} in ${where} has shape [${actual}], but the config implies [${expected}]; ` +
        `the checkpoint does not match its config.json`,
    );
  }
}
