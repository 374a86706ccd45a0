/**
 * Reading checkpoint tensors as float16 (`getF16`, for half-precision graphs) and BF16 as
 * float32, against hand-computed bit patterns.
 */
import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { CheckpointError } from "../../lib/errors.ts";
import { openSafetensors } from "../../lib/checkpoint/safetensors.ts";
import { f32Bytes, rawSafetensors, u16Bytes } from "./fixture_files.ts";

function tmpFile(bytes: Uint8Array): string {
  const path = Deno.makeTempFileSync({ suffix: ".safetensors" });
  Deno.writeFileSync(path, bytes);
  return path;
}

const bits = (a: Float16Array) => [...new Uint16Array(a.buffer, a.byteOffset, a.length)];

// BF16 words and their values by hand (sign, 8-bit exponent biased 127, 7 mantissa bits).
const BF16 = [
  [0x3f80, 1],
  [0xc040, -3],
  [0x3eab, (1 + 43 / 128) / 4], // 0.333984375
  [0x3581, 2 ** -20 * (1 + 1 / 128)],
  [0x3280, 2 ** -26],
  [0x3340, 1.5 * 2 ** -25],
  [0x0001, 2 ** -133], // BF16's smallest subnormal
  [0x8000, -0],
] as const;
// The same values in float16, by hand: normal BF16 values of float16's exponent range are exact
// (7 mantissa bits fit in 10); below 2^-14 they round to float16's subnormal steps of 2^-24.
const F16_OF_BF16 = [
  0x3c00, // 1
  0xc200, // -3
  0x3558, // 0.333984375 exactly: exponent 13, mantissa 0b0101011000
  0x0010, // 2^-20 (the 2^-27 is below half a step)
  0x0000, // 2^-26 is below half the smallest subnormal: +0
  0x0001, // 0.75 · 2^-24 rounds up to 2^-24
  0x0000,
  0x8000, // −0 kept
];

Deno.test("BF16 tensors read as float32 exactly and as float16 rounded once", () => {
  const words = BF16.map(([w]) => w);
  const path = tmpFile(rawSafetensors(
    { b: { dtype: "BF16", shape: [words.length], data_offsets: [0, 2 * words.length] } },
    u16Bytes(words),
  ));
  const st = openSafetensors(path);
  try {
    const f32 = st.getF32("b");
    BF16.forEach(([, v], i) => assertEquals(f32[i], v, `word ${i}`));
    assertEquals(Object.is(f32[7], -0), true);
    assertEquals(bits(st.getF16("b", [words.length])), F16_OF_BF16);
  } finally {
    st.close();
  }
});

Deno.test("F16 tensors read as float16 keep their bits; F32 ones are rounded to nearest", () => {
  const words = [0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0xfc00, 0x8000];
  const path = tmpFile(rawSafetensors(
    {
      h: { dtype: "F16", shape: [7], data_offsets: [0, 14] },
      f: { dtype: "F32", shape: [3], data_offsets: [14, 26] },
    },
    new Uint8Array([...u16Bytes(words), ...f32Bytes([1 / 3, 65504, -(2 ** -25)])]),
  ));
  const st = openSafetensors(path);
  try {
    assertEquals(bits(st.getF16("h")), words);
    // 1/3 → 0x3555 (0.333251953125); 65504 is float16's largest; −2^-25 ties to even: −0.
    assertEquals(bits(st.getF16("f")), [0x3555, 0x7bff, 0x8000]);
  } finally {
    st.close();
  }
});

Deno.test("bad input: a value beyond float16's range names the tensor, the file and the fix", () => {
  const path = tmpFile(rawSafetensors(
    {
      b: { dtype: "BF16", shape: [2], data_offsets: [0, 4] },
      f: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
    },
    new Uint8Array([...u16Bytes([0x3f80, 0x4780]), ...f32Bytes([65520])]), // 65536; 65520 rounds up
  ));
  const st = openSafetensors(path);
  try {
    for (const name of ["b", "f"]) {
      const err = assertThrows(() => st.getF16(name), CheckpointError);
      for (
        const part of [path, `tensor ${name}`, "beyond float16's range", 'precision "float32"']
      ) {
        assertStringIncludes(err.message, part);
      }
    }
    assertThrows(() => st.getF16("b", [3]), CheckpointError, "[2]");
  } finally {
    st.close();
  }
});
