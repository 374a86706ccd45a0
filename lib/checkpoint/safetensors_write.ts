/**
 * Writes the safetensors format: an 8-byte little-endian header length, a JSON header (padded
 * with spaces to a multiple of 8 bytes) mapping each tensor name to its dtype, shape and byte
 * range, then the raw little-endian tensor data. Used to build test checkpoints and to save
 * models made in code; values are given as float32 and converted on write.
 *
 * @module
 */

/** Element types this writer can produce from float32 values. */
export type WritableDtype = "F32" | "F16" | "BF16";

/** One tensor to write. `data` holds the values as float32, row-major. */
export interface TensorToWrite {
  /** Tensor name in the header. */
  name: string;
  /** Element type written to the file. */
  dtype: WritableDtype;
  /** Dimensions, outermost first; their product must equal `data.length`. */
  shape: readonly number[];
  /** Values, row-major; converted to `dtype` on write. */
  data: Float32Array;
}

const BYTES_PER_ELEMENT: Record<WritableDtype, number> = { F32: 4, F16: 2, BF16: 2 };

// Shared scratch for reinterpreting float32 bits.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Bits of the float32 nearest `x` (the value is first rounded to float32). */
function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0];
}

/** Float32 with the given bits. */
function f32FromBits(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0];
}

// Shared scratch for reinterpreting binary16 bits.
const f16Scratch = new Float16Array(1);
const u16Scratch = new Uint16Array(f16Scratch.buffer);

/**
 * IEEE binary16 bits of `x` (taken as float32 first, as PyTorch's `.half()` of a float32
 * tensor), rounding to nearest, ties to even. Overflow gives ±Infinity, tiny values become
 * subnormals or ±0, NaN stays a (quiet) NaN.
 */
export function f32ToF16Bits(x: number): number {
  f16Scratch[0] = Math.fround(x);
  return u16Scratch[0];
}

/** The value of IEEE binary16 bits. */
export function f16BitsToF32(h: number): number {
  u16Scratch[0] = h;
  return f16Scratch[0];
}

/** bfloat16 bits of `x` (taken as float32 first), rounding to nearest, ties to even. */
export function f32ToBf16Bits(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    return (bits >>> 16) | 0x40; // keep NaN a (quiet) NaN even if its payload sits in the low half
  }
  const lsb = (bits >>> 16) & 1;
  return Math.floor((bits + 0x7fff + lsb) / 0x10000) & 0xffff;
}

/** The value of bfloat16 bits. */
export function bf16BitsToF32(b: number): number {
  return f32FromBits((b & 0xffff) << 16);
}

/** `x` rounded to the nearest value representable in `dtype` (what a write then read gives). */
export function roundToDtype(x: number, dtype: WritableDtype): number {
  switch (dtype) {
    case "F32":
      return Math.fround(x);
    case "F16":
      return f16BitsToF32(f32ToF16Bits(x));
    case "BF16":
      return bf16BitsToF32(f32ToBf16Bits(x));
  }
}

/**
 * Encodes tensors as one safetensors file. Tensors are laid out in name order; `metadata`
 * becomes the header's `__metadata__` string map.
 */
export function encodeSafetensors(
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i];
    if (i > 0 && t.name === sorted[i - 1].name) throw new Error(`duplicate tensor name ${t.name}`);
    if (t.name === "__metadata__") throw new Error(`"__metadata__" cannot name a tensor`);
    if (!(t.dtype in BYTES_PER_ELEMENT)) throw new Error(`tensor ${t.name}: bad dtype ${t.dtype}`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new Error(
        `tensor ${t.name}: shape [${t.shape}] needs ${size} values, got ${t.data.length}`,
      );
    }
    const bytes = size * BYTES_PER_ELEMENT[t.dtype];
    header[t.name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }

  let json = JSON.stringify(header);
  const jsonBytesLength = new TextEncoder().encode(json).length;
  json += " ".repeat((8 - (jsonBytesLength % 8)) % 8); // readers may rely on 8-byte alignment
  const headerBytes = new TextEncoder().encode(json);

  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of sorted) {
    if (t.dtype === "F16") {
      // Rounded to float32 first, then to binary16 by the built-in conversion.
      const half = new Float16Array(Float32Array.from(t.data));
      out.set(new Uint8Array(half.buffer), at);
      at += half.byteLength;
      continue;
    }
    for (const x of t.data) {
      if (t.dtype === "F32") {
        view.setFloat32(at, x, true);
        at += 4;
      } else {
        view.setUint16(at, f32ToBf16Bits(x), true);
        at += 2;
      }
    }
  }
  return out;
}

/** Writes tensors to `path` as a safetensors file (see {@link encodeSafetensors}). */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Promise<void> {
  await Deno.writeFile(path, encodeSafetensors(tensors, metadata));
}
