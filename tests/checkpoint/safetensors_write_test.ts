import { handF16ToNumber, handF32ToF16Bits } from "./_f16_oracle.ts";
import { mulberry32 } from "../../lib/random.ts";
import { assertEquals, assertMatch, assertThrows } from "@std/assert";
import {
  bf16BitsToF32,
  encodeSafetensors,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  roundToDtype,
  writeSafetensors,
} from "../../lib/checkpoint/safetensors_write.ts";

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

Deno.test("encodeSafetensors: bytes of a one-tensor file, checked by hand", () => {
  const bytes = encodeSafetensors([
    { name: "a", dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
  ]);
  // {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} is 54 bytes, padded to 56.
  const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ';
  // deno-fmt-ignore
  const expected = [
    56, 0, 0, 0, 0, 0, 0, 0, // header length, u64 little-endian
    ...ascii(header),
    0x00, 0x00, 0x80, 0x3f, // 1.0f
    0x00, 0x00, 0x00, 0xc0, // -2.0f
  ];
  assertEquals([...bytes], expected);
});

Deno.test("encodeSafetensors: name order, offsets, metadata, half-precision data", () => {
  const bytes = encodeSafetensors([
    { name: "z", dtype: "BF16", shape: [1], data: new Float32Array([1]) },
    { name: "b", dtype: "F16", shape: [1, 2], data: new Float32Array([1, -2.5]) },
  ], { format: "pt" });
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  assertEquals(n % 8, 0);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assertEquals(
    text.trimEnd(),
    '{"__metadata__":{"format":"pt"},' +
      '"b":{"dtype":"F16","shape":[1,2],"data_offsets":[0,4]},' +
      '"z":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}',
  );
  assertEquals([...bytes.subarray(8 + n)], [0x00, 0x3c, 0x00, 0xc1, 0x80, 0x3f]);
});

Deno.test("encodeSafetensors: rejects a shape/data mismatch and duplicate names", () => {
  const t = { name: "a", dtype: "F32" as const, shape: [3], data: new Float32Array(2) };
  assertMatch(
    assertThrows(() => encodeSafetensors([t]), Error).message,
    /shape \[3\] needs 3 values/,
  );
  const u = { ...t, shape: [2] };
  assertMatch(assertThrows(() => encodeSafetensors([u, u]), Error).message, /duplicate/);
});

Deno.test("f32ToF16Bits: known values, subnormals, overflow, NaN, ties to even", () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2.5, 0xc100],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // just below the halfway point rounds down
    [65520, 0x7c00], // halfway to 2^16 ties to even: Infinity
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [0, 0x0000],
    [-0, 0x8000],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -25, 0x0000], // exactly half the smallest subnormal: ties to even (0)
    [3 * 2 ** -26, 0x0001], // 0.75 of the smallest subnormal rounds up
    [1.5 * 2 ** -24, 0x0002], // halfway between 1 and 2 subnormal steps: even (2)
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: even (down)
    [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd neighbour below: up
    [0.1, 0x2e66],
    [1e-10, 0x0000],
  ];
  for (const [x, bits] of cases) assertEquals(f32ToF16Bits(x), bits, `f16 of ${x}`);
  assertEquals(f32ToF16Bits(NaN), 0x7e00);
});

Deno.test("F16 via Float16Array is bit-identical to the hand conversion", () => {
  // Decoding: every bit pattern. Encoding: every half, the float32 neighbours of every half and
  // of every midpoint between consecutive halves (where rounding decides), and random floats.
  const probes: number[] = [];
  const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
  const around = (x: number) => {
    f32[0] = x;
    const b = u32[0];
    for (const d of [-1, 0, 1]) {
      u32[0] = b + d;
      probes.push(f32[0]);
    }
  };
  for (let h = 0; h < 65536; h++) {
    const v = handF16ToNumber(h), next = handF16ToNumber(h + 1);
    if (Number.isNaN(v)) {
      assertEquals(Number.isNaN(f16BitsToF32(h)), true, `0x${h.toString(16)}`);
      continue;
    }
    assertEquals(Object.is(f16BitsToF32(h), v), true, `decode 0x${h.toString(16)}`);
    around(v);
    if (Number.isFinite(v) && Number.isFinite(next) && (h & 0x7fff) !== 0x7bff) {
      around((v + next) / 2);
    }
  }
  const rng = mulberry32(7);
  for (let i = 0; i < 100_000; i++) probes.push((rng() - 0.5) * 2 ** (rng() * 40 - 28));
  probes.push(NaN, Infinity, -Infinity, 65520, -65520, 1e-10, -0);
  const encoded = encodeSafetensors([
    { name: "p", dtype: "F16", shape: [probes.length], data: Float32Array.from(probes) },
  ]);
  const n = Number(new DataView(encoded.buffer).getBigUint64(0, true));
  const written = new DataView(encoded.buffer, 8 + n);
  const isNanHalf = (b: number) => (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0;
  for (let i = 0; i < probes.length; i++) {
    if (Number.isNaN(probes[i])) {
      // The sign of a NaN is not specified by the conversion; NaN must stay NaN.
      assertEquals(isNanHalf(f32ToF16Bits(probes[i])), true);
      assertEquals(isNanHalf(written.getUint16(2 * i, true)), true);
      continue;
    }
    const want = handF32ToF16Bits(probes[i]);
    assertEquals(f32ToF16Bits(probes[i]), want, `encode ${probes[i]}`);
    assertEquals(written.getUint16(2 * i, true), want, `written ${probes[i]}`);
  }
});

Deno.test("f16BitsToF32: decodes normals, subnormals and specials", () => {
  assertEquals(f16BitsToF32(0x3c00), 1);
  assertEquals(f16BitsToF32(0xc100), -2.5);
  assertEquals(f16BitsToF32(0x7bff), 65504);
  assertEquals(f16BitsToF32(0x0001), 2 ** -24);
  assertEquals(f16BitsToF32(0x3555), 0.333251953125);
  assertEquals(f16BitsToF32(0xfc00), -Infinity);
  assertEquals(Number.isNaN(f16BitsToF32(0x7e00)), true);
});

Deno.test("f32ToBf16Bits: known values, ties to even, NaN", () => {
  const cases: [number, number][] = [
    [1, 0x3f80],
    [-2.5, 0xc020],
    [65504, 0x4780], // 0x477fe000 rounds up to 65536
    [Math.PI, 0x4049], // 0x40490fdb: low half below the midpoint
    [1 + 2 ** -8, 0x3f80], // halfway, even below: down
    [1 + 3 * 2 ** -8, 0x3f82], // halfway, odd below: up
    [2 ** -130, 0x0008], // float32 subnormal stays subnormal
    [-0, 0x8000],
    [Infinity, 0x7f80],
  ];
  for (const [x, bits] of cases) assertEquals(f32ToBf16Bits(x), bits, `bf16 of ${x}`);
  assertEquals(f32ToBf16Bits(NaN), 0x7fc0);
  assertEquals(bf16BitsToF32(0x3f80), 1);
  assertEquals(bf16BitsToF32(0xc020), -2.5);
  assertEquals(roundToDtype(65504, "BF16"), 65536);
  assertEquals(roundToDtype(0.1, "F16"), f16BitsToF32(0x2e66));
});

Deno.test("writeSafetensors: writes the encoded bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tensors = [
      { name: "w", dtype: "F16" as const, shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    ];
    await writeSafetensors(`${dir}/m.safetensors`, tensors, { k: "v" });
    assertEquals(
      await Deno.readFile(`${dir}/m.safetensors`),
      encodeSafetensors(tensors, { k: "v" }),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
