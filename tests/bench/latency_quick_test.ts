import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { join } from "node:path";

const BENCH = new URL("../../experiments/bench/latency.ts", import.meta.url).pathname;

Deno.test("bench --quick --json: one JSON object on the last line, consistent rows and files", async () => {
  const out = await Deno.makeTempDir({ prefix: "prefixkv_bench_test_" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", BENCH, "--quick", "--json", "--out", out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assert(run.success, stderr);
    const lines = new TextDecoder().decode(run.stdout).trim().split("\n");
    const result = JSON.parse(lines.at(-1)!);
    assert(stderr.includes("8/8"), `progress: ${stderr}`);

    const rows = result.rows as Record<string, number>[];
    assertEquals(rows.map((r) => r.budget), [1, 0.8, 0.6, 0.4, 0.2]);
    const [full] = rows;
    const { batch, promptTokens, newTokens } = result.workload;
    const layers = 2;
    // Full cache: every prompt entry after prefill, every fed token at the end.
    assertEquals(full.entriesAfterPrefill, batch * layers * promptTokens);
    const entryBytes = 2 * 128 * 4 + 4;
    assertEquals(full.kvBytes, batch * layers * (promptTokens + newTokens - 1) * entryBytes);
    for (const r of rows) {
      assertAlmostEquals(r.speedup, full.stepMs / r.stepMs, 1e-9);
      assertAlmostEquals(r.idealSpeedup, full.idealStepMs / r.idealStepMs, 1e-9);
      assertAlmostEquals(r.fractionOfIdeal, r.speedup / r.idealSpeedup, 1e-9);
      assertAlmostEquals(r.tokensPerSecond, (batch * 1000) / r.decodeMsPerToken, 1e-6);
      assert(r.jsMsPerToken >= 0 && r.jsMsPerToken <= r.decodeMsPerToken);
      // The budget holds after prefill (within one entry per layer and sample) and at the end.
      const slack = batch * layers;
      assert(
        Math.abs(r.entriesAfterPrefill - r.budget * full.entriesAfterPrefill) <= slack,
        `budget ${r.budget}: ${r.entriesAfterPrefill} entries after prefill`,
      );
      assert(Math.abs(r.kvBytes / full.kvBytes - r.budget) <= 0.05, `budget ${r.budget}`);
      assert(r.kvBytesAllocated >= r.kvBytes);
      // The roofline: weights plus kept entries, so the ideal speedup grows as budgets fall.
      assert(r.stepBytes > result.workload.weightBytes);
    }
    for (let i = 1; i < rows.length; i++) assert(rows[i].idealSpeedup > rows[i - 1].idealSpeedup);
    assert(result.bandwidth.copyBytesPerSecond > 0 && result.bandwidth.readBytesPerSecond > 0);
    assert(typeof result.provenance.date === "string");

    const csv = (await Deno.readTextFile(join(out, "latency.csv"))).trim().split("\n");
    assertEquals(csv.length, 1 + rows.length);
    assert(csv[0].startsWith("budget,method,"));
    const svg = await Deno.readTextFile(join(out, "latency.svg"));
    assert(svg.includes("<svg") && svg.includes("roofline (ideal)"));
    assertEquals(JSON.parse(await Deno.readTextFile(join(out, "latency.json"))).rows, rows);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
