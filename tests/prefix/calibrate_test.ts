import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { calibrate, type CalibrationSample, saveCalibration } from "../../lib/prefix/calibrate.ts";
import { readReferenceConfig } from "../../lib/prefix/config.ts";
import { InputError } from "../../lib/errors.ts";

const L0 = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125];
const L1 = [1, 1, 1, 1, 1, 1, 1, 1];

async function* samples(): AsyncGenerator<CalibrationSample> {
  // Sample a: the search_test hand case → evict (2, 1) of 8. Sample b: layers swapped → (1, 2).
  yield { id: "a", importance: [L0, L1] };
  yield { id: "b", importance: [L1, L0] };
}

Deno.test("calibrate: averages per-layer eviction ratios over samples", async () => {
  const seen: string[] = [];
  const result = await calibrate(samples(), {
    budget: 0.75,
    onProgress: (done, s) => seen.push(`${done}:${s.id}`),
  });
  assertEquals(seen, ["1:a", "2:b"]);
  assertEquals(result.samples.map((s) => s.evictRatios), [[2 / 8, 1 / 8], [1 / 8, 2 / 8]]);
  // Sample b: p = .5 → layer 0 (uniform) idx 3 → 2, layer 1 idx 0 → 5; 7 → rescale (1, 2).
  assertEquals(result.evictRatios, [3 / 16, 3 / 16]);
  assertEquals(result.spread.std, [1 / 16, 1 / 16]);
  assertEquals(result.spread.min, [1 / 8, 1 / 8]);
  assertEquals(result.spread.max, [2 / 8, 2 / 8]);
  assertEquals(result.evictRatio, 0.25);
  assertEquals(result.numLayers, 2);
});

Deno.test("saveCalibration: reference file name and format, provenance sidecar", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await calibrate([{ id: "a", importance: [L0, L1] }], { budget: 0.75 });
    const { configPath, metaPath } = await saveCalibration(dir, result, {
      model: "tiny-llava",
      dataset: "scenes/val",
      gitCommit: "abc123",
      date: "2026-01-01T00:00:00.000Z",
    });
    assert(configPath.endsWith("/prefixkv_tiny-llava_0.25.json"));
    assert(metaPath.endsWith("/prefixkv_tiny-llava_0.25.meta.json"));
    assertEquals(await Deno.readTextFile(configPath), "[0.25, 0.125]");
    assertEquals(await readReferenceConfig(configPath, 2), [0.25, 0.125]);
    const meta = JSON.parse(await Deno.readTextFile(metaPath));
    assertEquals(meta.model, "tiny-llava");
    assertEquals(meta.budget, 0.75);
    assertEquals(meta.evictRatio, 0.25);
    assertEquals(meta.dataset, "scenes/val");
    assertEquals(meta.samples, [{
      id: "a",
      promptLength: 8,
      p: 0.5,
      iterations: 1,
      converged: true,
    }]);
    assertEquals(meta.spread.std, [0, 0]);
    assertEquals(meta.gitCommit, "abc123");
    assertEquals(meta.date, "2026-01-01T00:00:00.000Z");
    assertEquals(meta.tool.name, "@prefixkv/prefixkv");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("calibrate: no samples or mixed layer counts are InputErrors", async () => {
  await assertRejects(() => calibrate([], { budget: 0.5 }), InputError);
  assertMatch(
    (await assertRejects(
      () =>
        calibrate([{ id: "a", importance: [L0, L1] }, { id: "b", importance: [L0] }], {
          budget: 0.75,
        }),
      Error,
    )).message,
    /sample "b" has 1 layers/,
  );
  assertMatch(
    (await assertRejects(
      () => calibrate([{ id: "bad", importance: [[1, NaN, 1]] }], { budget: 0.75 }),
      Error,
    )).message,
    /sample "bad"/,
  );
});
