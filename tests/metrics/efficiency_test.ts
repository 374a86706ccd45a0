import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import {
  efficiencyOf,
  kvBytesPerLayer,
  meanEfficiency,
  peakRssBytes,
  resetPeakRss,
} from "../../lib/metrics/efficiency.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";

function cache(): KvCache {
  // 2 layers, 2 KV heads × 4 floats: a row is 8 floats (32 B) for keys and as many for values.
  const c = new KvCache({ numLayers: 2, numKvHeads: 2, headDim: 4 });
  c.append(0, new Float32Array(3 * 8), new Float32Array(3 * 8), [0, 1, 2]);
  c.append(1, new Float32Array(3 * 8), new Float32Array(3 * 8), [0, 1, 2]);
  c.keep(1, [0, 2]); // compacts in place…
  c.fit(); // …and fit releases the freed row
  return c;
}

Deno.test("kvBytesPerLayer reads each layer's allocated buffers: rows × (K + V) + positions", () => {
  const c = cache();
  // 3 rows allocated at the first fill; layer 1 kept 2 and fit() released the third.
  assertEquals(kvBytesPerLayer(c), [3 * 32 * 2 + 3 * 4, 2 * 32 * 2 + 2 * 4]);
  assertEquals(c.bytesHeld(), 5 * (32 * 2 + 4));
  // A decode append past capacity grows the buffer: allocated, not held, is what this reports.
  c.append(1, new Float32Array(16), new Float32Array(16), [3, 4]);
  assert(kvBytesPerLayer(c)[1] > 4 * (32 * 2 + 4));
  assertEquals(kvBytesPerLayer(c)[1], c.bytesAllocated(1));
  assertEquals(kvBytesPerLayer(c).reduce((a, b) => a + b), c.bytesAllocated());
});

Deno.test("efficiencyOf by hand", () => {
  const e = efficiencyOf(
    { prefillMs: 8, policyPrefillMs: 2, decodeMsPerToken: 5, decodeSteps: 18, generatedTokens: 19 },
    cache(),
  );
  assertEquals(e.prefillMs, 10);
  assertEquals(e.decodeMsPerToken, 5);
  assertAlmostEquals(e.tokensPerSecond, 19 / 0.1, 1e-9); // 19 tokens in 10 + 90 ms
  assertEquals(e.kvBytes, 204 + 136);
  assertEquals(e.kvBytesHeld, 5 * 68);
  assertEquals(e.kvEntries, 5);
  const m = meanEfficiency([e, { ...e, prefillMs: 20, kvBytesPerLayer: [0, 0] }]);
  assertEquals(m.prefillMs, 15);
  assertEquals(m.kvBytesPerLayer, [102, 68]);
});

Deno.test("peakRssBytes is the kernel's high-water mark (Linux)", () => {
  if (Deno.build.os !== "linux") return;
  const rss = Deno.memoryUsage().rss;
  const peak = peakRssBytes();
  assert(peak !== null && peak >= rss, `peak ${peak} below the RSS read before it (${rss})`);
  // After a reset the mark restarts from the current RSS: a 128 MiB allocation shows in it even
  // when the process peaked higher before (tests share the process).
  if (!resetPeakRss()) return;
  const base = Deno.memoryUsage().rss;
  const big = new Uint8Array(128 * 1024 * 1024).fill(1);
  const raised = peakRssBytes()!;
  assert(raised >= base + 64 * 1024 * 1024, `peak ${raised} after 128 MiB over ${base}`);
  assertEquals(big[big.length - 1], 1);
});
