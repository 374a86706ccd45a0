import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import {
  checkLayerCount,
  evictCountsFromRatios,
  formatReferenceConfig,
  metaFileName,
  parseReferenceConfig,
  readReferenceConfig,
  referenceConfigName,
} from "../../lib/prefix/config.ts";
import { InputError } from "../../lib/errors.ts";

const fixtures = new URL("../fixtures/reference_confs/", import.meta.url);
const fixture = (name: string) => new URL(name, fixtures).pathname;

Deno.test("referenceConfigName: budget → the reference's file name", () => {
  assertEquals(referenceConfigName("llava-v1.5-7b", 0.5), "prefixkv_llava-v1.5-7b_0.5.json");
  assertEquals(referenceConfigName("llava-v1.5-7b", 0.2), "prefixkv_llava-v1.5-7b_0.8.json");
  assertEquals(referenceConfigName("llava-v1.5-13b", 0.7), "prefixkv_llava-v1.5-13b_0.3.json");
  assertEquals(referenceConfigName("m", 1), "prefixkv_m_0.0.json");
  assertEquals(metaFileName("prefixkv_m_0.5.json"), "prefixkv_m_0.5.meta.json");
  assertThrows(() => referenceConfigName("a/b", 0.5), InputError);
});

Deno.test("shipped LLaVA-1.5-7B budget-50% config applied to N = 626", async () => {
  const ratios = await readReferenceConfig(fixture("prefixkv_llava-v1.5-7b_0.5.json"), 32);
  assertEquals(ratios.length, 32);
  assertEquals(ratios[0], 0.11433945133085736);
  // Expected counts computed independently with CPython: [round(r * 626) for r in conf]
  // (Python 3 round = half to even; no product lands on .5 here). E.g. layer 0:
  // 0.11433945133085736·626 = 71.58 → 72; layer 21: 0.764576…·626 = 478.6 → 479.
  // deno-fmt-ignore
  const expected = [
    72, 150, 216, 360, 356, 439, 306, 280, 284, 236, 214, 184, 268, 294, 310, 277,
    327, 333, 354, 398, 315, 479, 403, 423, 419, 381, 424, 403, 301, 376, 242, 175,
  ];
  const evict = evictCountsFromRatios(ratios, 626, 1);
  assertEquals(evict, expected);
  // 9999 evicted of 20032 → 10033 kept; the exact 50% would be 10016.
  assertEquals(evict.reduce((a, b) => a + b, 0), 9999);
  // Mean eviction ≈ ρ (per-layer average of per-sample ratios).
  const mean = ratios.reduce((a, b) => a + b, 0) / 32;
  assert(Math.abs(mean - 0.5) < 0.001);
});

Deno.test("shipped 7B budget-20% and 13B budget-50% configs parse with their layer counts", async () => {
  const r7 = await readReferenceConfig(fixture("prefixkv_llava-v1.5-7b_0.8.json"), 32);
  // Layer 21 of the 7B 20% config keeps 1.0% (digest §1.9): round(0.99…·626) = 620 → 6 kept.
  assertEquals(evictCountsFromRatios(r7, 626)[21], 620);
  const r13 = await readReferenceConfig(fixture("prefixkv_llava-v1.5-13b_0.5.json"), 40);
  assertEquals(r13.length, 40);
  await assertRejects(
    () => readReferenceConfig(fixture("prefixkv_llava-v1.5-13b_0.5.json"), 32),
    InputError,
  );
});

Deno.test("formatReferenceConfig writes the reference's one-line json.dumps form", async () => {
  // The fixtures are the reference files re-indented by `deno fmt` (same values). The original
  // 7B 0.5 file is one line of 642 bytes: "[0.11433945133085736, 0.23987219405926194, …]".
  const text = await Deno.readTextFile(fixture("prefixkv_llava-v1.5-7b_0.5.json"));
  const written = formatReferenceConfig(parseReferenceConfig(text, "7b_0.5"));
  assertEquals(written.length, 642);
  assert(written.startsWith("[0.11433945133085736, 0.23987219405926194, 0.34496622027522905, "));
  assert(written.endsWith(", 0.386224886548778, 0.279438645808444]"));
  assertEquals(JSON.parse(written), JSON.parse(text));
  assertEquals(formatReferenceConfig([0, 1, 0.25, 1e-5]), "[0.0, 1.0, 0.25, 1e-05]");
});

Deno.test("evictCountsFromRatios: half to even, clamped to keep protected positions", () => {
  assertEquals(evictCountsFromRatios([0.5, 0.5, 0.3], 5), [2, 2, 2]); // 2.5 → 2, 1.5 → 2
  assertEquals(evictCountsFromRatios([0.5], 7), [4]); // 3.5 → 4
  assertEquals(evictCountsFromRatios([1, 0.99], 10, 1), [8, 8]); // N − startSize − 1 = 8
  assertEquals(evictCountsFromRatios([1], 10, 3), [6]);
  assertThrows(() => evictCountsFromRatios([0.5], 1, 1), InputError);
  assertThrows(() => evictCountsFromRatios([-0.1], 10), InputError);
});

Deno.test("parseReferenceConfig / checkLayerCount: bad files are InputErrors", () => {
  assertThrows(() => parseReferenceConfig("{", "x.json"), InputError);
  assertThrows(() => parseReferenceConfig("[]", "x.json"), InputError);
  assertThrows(() => parseReferenceConfig('[0.1, "a"]', "x.json"), InputError);
  assertThrows(() => parseReferenceConfig("[0.1, 1.2]", "x.json"), InputError);
  assertThrows(() => parseReferenceConfig("[0.1, 0.2]", "x.json", 3), InputError);
  assertMatch(
    assertThrows(() => checkLayerCount([0.1], 2), Error).message,
    /1 per-layer ratios but the model has 2 layers/,
  );
});
