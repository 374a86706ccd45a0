/**
 * How `deno task bench` shows its rows: a terminal table and a CSV file (the figure comes from
 * `lib/plot`'s `latencyVsBudget`).
 *
 * @module
 */

/** One budget's measurements and the roofline's view of them. */
export interface BenchRow {
  /** Fraction of the prompt's entries kept (1 = full cache). */
  budget: number;
  /** Recipe that ran (`full`, or `prefixkv` with the offline config of this budget). */
  method: string;
  /** Entries held after the prefill's compaction, all layers and samples. */
  entriesAfterPrefill: number;
  /** Batched prefill (with importance when the recipe needs it), milliseconds. */
  prefillMs: number;
  /** Prefill, policy and every decode step: the whole generation, milliseconds. */
  latencyMs: number;
  /** Generated tokens per second over the decode steps, all samples. */
  tokensPerSecond: number;
  /** Mean decode step (one token of every sample), milliseconds. */
  decodeMsPerToken: number;
  /**
   * Median decode step on the final cache, measured with every row's steps interleaved (what
   * the speedups use: a passing load on a shared machine hits all rows alike), milliseconds.
   */
  stepMs: number;
  /** Of a decode step, milliseconds outside onnxruntime (JavaScript: feeds, appends, policy). */
  jsMsPerToken: number;
  /** Bytes of the kept entries at the end of generation (whole batch). */
  kvBytes: number;
  /** Bytes of the cache buffers at the end, spare capacity included. */
  kvBytesAllocated: number;
  /** Peak resident set size during this row, bytes (null where the kernel does not say). */
  peakRssBytes: number | null;
  /** Bytes one decode step must read on average: weights + kept keys and values. */
  stepBytes: number;
  /** `stepBytes` at the measured bandwidth, milliseconds. */
  idealStepMs: number;
  /** Full cache's interleaved decode step ÷ this row's (`stepMs`). */
  speedup: number;
  /** Full cache's ideal step ÷ this row's. */
  idealSpeedup: number;
  /** `speedup / idealSpeedup`. */
  fractionOfIdeal: number;
  /** PyTorch peer's decode step, milliseconds (when it ran). */
  torchDecodeMsPerToken?: number;
  /** PyTorch peer's batched prefill, milliseconds (when it ran). */
  torchPrefillMs?: number;
}

const MB = 2 ** 20;

/** The rows as an aligned plain-text table. */
export function formatTable(rows: readonly BenchRow[]): string {
  const hasTorch = rows.some((r) => r.torchDecodeMsPerToken !== undefined);
  const head = [
    "budget",
    "prefill ms",
    "latency ms",
    "tok/s",
    "ms/step",
    "median ms",
    "JS ms",
    "KV MB",
    "RSS MB",
    "ideal ms",
    "speedup",
    "ideal ×",
    "of ideal",
    ...(hasTorch ? ["torch ms/step", "vs torch"] : []),
  ];
  const body = rows.map((r) => [
    r.budget === 1 ? "full" : `${Math.round(r.budget * 100)}%`,
    r.prefillMs.toFixed(0),
    r.latencyMs.toFixed(0),
    r.tokensPerSecond.toFixed(1),
    r.decodeMsPerToken.toFixed(2),
    r.stepMs.toFixed(2),
    r.jsMsPerToken.toFixed(2),
    (r.kvBytes / MB).toFixed(1),
    r.peakRssBytes === null ? "—" : (r.peakRssBytes / MB).toFixed(0),
    r.idealStepMs.toFixed(2),
    `${r.speedup.toFixed(2)}×`,
    `${r.idealSpeedup.toFixed(2)}×`,
    `${(r.fractionOfIdeal * 100).toFixed(0)}%`,
    ...(hasTorch
      ? [
        r.torchDecodeMsPerToken?.toFixed(2) ?? "—",
        r.torchDecodeMsPerToken === undefined
          ? "—"
          : `${(r.torchDecodeMsPerToken / r.stepMs).toFixed(2)}×`,
      ]
      : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** The rows as CSV, one line per budget, columns named like {@link BenchRow}'s fields. */
export function toCsv(rows: readonly BenchRow[]): string {
  const keys: (keyof BenchRow)[] = [
    "budget",
    "method",
    "entriesAfterPrefill",
    "prefillMs",
    "latencyMs",
    "tokensPerSecond",
    "decodeMsPerToken",
    "stepMs",
    "jsMsPerToken",
    "kvBytes",
    "kvBytesAllocated",
    "peakRssBytes",
    "stepBytes",
    "idealStepMs",
    "speedup",
    "idealSpeedup",
    "fractionOfIdeal",
    "torchDecodeMsPerToken",
    "torchPrefillMs",
  ];
  const cell = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  return [keys.join(","), ...rows.map((r) => keys.map((k) => cell(r[k])).join(","))].join("\n") +
    "\n";
}
