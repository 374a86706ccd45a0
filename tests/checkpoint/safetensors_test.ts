import { handF16ToNumber } from "./_f16_oracle.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { join } from "node:path";
import { CheckpointError } from "../../lib/errors.ts";
import { openCheckpointTensors, openSafetensors } from "../../lib/checkpoint/safetensors.ts";
import { encodeSafetensors } from "../../lib/checkpoint/safetensors_write.ts";
import { f32Bytes, rawSafetensors, u16Bytes, writeJson } from "./fixture_files.ts";

/** Asserts `fn` throws a CheckpointError whose message contains every `parts`. */
function throwsCheckpoint(fn: () => unknown, ...parts: string[]): void {
  const err = assertThrows(fn, CheckpointError);
  for (const p of parts) assertStringIncludes(err.message, p);
}

function tmpFile(bytes: Uint8Array): string {
  const path = Deno.makeTempFileSync({ suffix: ".safetensors" });
  Deno.writeFileSync(path, bytes);
  return path;
}

Deno.test("reads F32, F16, BF16 and F64 tensors as float32 from hand-built bytes", () => {
  const f64 = new Uint8Array(16);
  new DataView(f64.buffer).setFloat64(0, 0.25, true);
  new DataView(f64.buffer).setFloat64(8, -1e10, true);
  // F16: 1, -2, 2^-24 (smallest subnormal), 65504 (largest); BF16: 1, -3.
  const data = new Uint8Array([
    ...f32Bytes([1.5, -2, 3.25, 0]),
    ...u16Bytes([0x3c00, 0xc000, 0x0001, 0x7bff]),
    ...u16Bytes([0x3f80, 0xc040]),
    ...f64,
  ]);
  const header = {
    __metadata__: { format: "pt" },
    w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
    h: { dtype: "F16", shape: [4], data_offsets: [16, 24] },
    b: { dtype: "BF16", shape: [1, 2], data_offsets: [24, 28] },
    d: { dtype: "F64", shape: [2], data_offsets: [28, 44] },
  };
  const path = tmpFile(rawSafetensors(header, data));
  const st = openSafetensors(path);
  try {
    assertEquals(st.names(), ["b", "d", "h", "w"]);
    assertEquals(st.metadata, { format: "pt" });
    assertEquals(st.info("w"), { name: "w", dtype: "F32", shape: [2, 2] });
    assertEquals(st.info("nope"), undefined);
    assertEquals([...st.getF32("w", [2, 2])], [1.5, -2, 3.25, 0]);
    assertEquals([...st.getF32("h")], [1, -2, 2 ** -24, 65504]);
    assertEquals([...st.getF32("b")], [1, -3]);
    assertEquals([...st.getF32("d")], [0.25, Math.fround(-1e10)]);
  } finally {
    st.close();
  }
});

Deno.test("F16 tensors: all 65536 bit patterns read as the hand conversion gives them", () => {
  const words = Array.from({ length: 65536 }, (_, i) => i);
  const path = tmpFile(rawSafetensors(
    { h: { dtype: "F16", shape: [65536], data_offsets: [0, 131072] } },
    u16Bytes(words),
  ));
  const st = openSafetensors(path);
  try {
    const got = st.getF32("h");
    let nans = 0;
    for (const w of words) {
      const want = handF16ToNumber(w);
      if (Number.isNaN(want)) {
        assert(Number.isNaN(got[w]), `0x${w.toString(16)} should be NaN`);
        nans++;
      } else {
        // Object.is tells −0 from +0.
        assert(Object.is(got[w], want), `0x${w.toString(16)}: ${got[w]} ≠ ${want}`);
      }
    }
    assertEquals(nans, 2 * 1023);
  } finally {
    st.close();
  }
});

Deno.test("reads what lib/checkpoint/safetensors_write.ts writes", () => {
  const data = new Float32Array([0.5, -1, 2, 4, 8, 16]);
  const path = tmpFile(encodeSafetensors([
    { name: "x", dtype: "F32", shape: [3, 2], data },
    { name: "y", dtype: "BF16", shape: [6], data },
  ]));
  const st = openSafetensors(path);
  assertEquals([...st.getF32("x")], [...data]);
  assertEquals([...st.getF32("y")], [...data]);
  st.close();
});

Deno.test("bad input: wrong shape names the tensor and the file", () => {
  const path = tmpFile(rawSafetensors(
    { w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } },
    f32Bytes([1, 2, 3, 4]),
  ));
  const st = openSafetensors(path);
  throwsCheckpoint(() => st.getF32("w", [4, 1]), path, "w", "[2,2]", "[4,1]");
  throwsCheckpoint(() => st.getF32("missing"), path, "missing");
  st.close();
});

Deno.test("bad input: missing safetensors file", () => {
  throwsCheckpoint(() => openSafetensors("/nonexistent/model.safetensors"), "/nonexistent/model");
});

Deno.test("bad input: truncated header (shorter than the length, and shorter than declared)", () => {
  const tiny = tmpFile(new Uint8Array([1, 2, 3]));
  throwsCheckpoint(() => openSafetensors(tiny), tiny, "truncated header");
  const full = rawSafetensors(
    { w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } },
    f32Bytes([1]),
  );
  const cut = tmpFile(full.subarray(0, 20));
  throwsCheckpoint(() => openSafetensors(cut), cut, "truncated header");
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  const hugePath = tmpFile(huge);
  throwsCheckpoint(() => openSafetensors(hugePath), hugePath, "header length");
});

Deno.test("bad input: malformed JSON header", () => {
  const path = tmpFile(rawSafetensors(null, new Uint8Array(4), '{"w": {"dtype": "F32",'));
  throwsCheckpoint(() => openSafetensors(path), path, "malformed JSON");
  const arr = tmpFile(rawSafetensors([1, 2], new Uint8Array(0)));
  throwsCheckpoint(() => openSafetensors(arr), arr, "malformed JSON");
});

Deno.test("bad input: entries with bad dtype, shape, offsets or overlaps", () => {
  const cases: [unknown, Uint8Array, string][] = [
    [{ w: { dtype: "F8_E4M3", shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4), "F8_E4M3"],
    [{ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4), "shape"],
    [{ w: { dtype: "F32", shape: [1] } }, new Uint8Array(4), "data_offsets"],
    [{ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4), "out of range"],
    [{ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8), "needs 12"],
    [
      {
        a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
        b: { dtype: "F32", shape: [1], data_offsets: [12, 16] },
        c: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      },
      new Uint8Array(16),
      "overlap",
    ],
  ];
  for (const [header, data, part] of cases) {
    const path = tmpFile(rawSafetensors(header, data));
    throwsCheckpoint(() => openSafetensors(path), path, part);
  }
});

Deno.test("integer tensors are listed but not readable as float", () => {
  const path = tmpFile(rawSafetensors(
    { ids: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
    new Uint8Array(8),
  ));
  const st = openSafetensors(path);
  assertEquals(st.info("ids")?.dtype, "I64");
  throwsCheckpoint(() => st.getF32("ids"), "ids", "I64");
  st.close();
});

Deno.test("openCheckpointTensors: single file, sharded index, and the error cases", () => {
  const dir = Deno.makeTempDirSync();
  throwsCheckpoint(() => openCheckpointTensors(dir), dir, "model.safetensors");
  Deno.writeFileSync(join(dir, "pytorch_model.bin"), new Uint8Array(4));
  throwsCheckpoint(() => openCheckpointTensors(dir), "only safetensors", "convert");

  Deno.writeFileSync(
    join(dir, "a.safetensors"),
    encodeSafetensors([{ name: "x", dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]),
  );
  Deno.writeFileSync(
    join(dir, "b.safetensors"),
    encodeSafetensors([{ name: "y", dtype: "F32", shape: [1], data: new Float32Array([3]) }]),
  );
  writeJson(dir, "model.safetensors.index.json", {
    weight_map: { x: "a.safetensors", y: "b.safetensors" },
  });
  const store = openCheckpointTensors(dir);
  assertEquals(store.names(), ["x", "y"]);
  assertEquals([...store.getF32("x")], [1, 2]);
  assertEquals([...store.getF32("y", [1])], [3]);
  throwsCheckpoint(() => store.getF32("y", [2]), "b.safetensors", "y");
  store.close();

  writeJson(dir, "model.safetensors.index.json", {
    weight_map: { x: "a.safetensors", z: "b.safetensors" },
  });
  throwsCheckpoint(() => openCheckpointTensors(dir), "model.safetensors.index.json", "z");
  writeJson(dir, "model.safetensors.index.json", { weight_map: { x: "gone.safetensors" } });
  throwsCheckpoint(() => openCheckpointTensors(dir), "gone.safetensors", "not found");
});
