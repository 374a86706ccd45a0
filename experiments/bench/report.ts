/**
 * How `deno task bench` shows its rows: a terminal table, a CSV file and an SVG figure
 * (decode milliseconds per step against the budget: measured, the roofline's ideal, and the
 * PyTorch peer when it ran). The figure is written by hand as plain SVG: the project's plotting
 * module has not landed yet.
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

/** Decode ms per step against the budget: measured, ideal (roofline) and PyTorch, as SVG. */
export function toSvg(rows: readonly BenchRow[], title: string): string {
  const W = 640, H = 400, left = 64, right = 150, top = 40, bottom = 52;
  const series: { name: string; color: string; dash?: string; points: [number, number][] }[] = [
    {
      name: "prefixkv (measured)",
      color: "#1f77b4",
      points: rows.map((r) => [r.budget, r.stepMs]),
    },
    {
      name: "roofline (ideal)",
      color: "#2ca02c",
      dash: "6 4",
      points: rows.map((r) => [r.budget, r.idealStepMs]),
    },
  ];
  const torch = rows.filter((r) => r.torchDecodeMsPerToken !== undefined);
  if (torch.length > 0) {
    series.push({
      name: "PyTorch sdpa",
      color: "#d62728",
      points: torch.map((r) => [r.budget, r.torchDecodeMsPerToken!]),
    });
  }
  const yMax = niceCeil(Math.max(...series.flatMap((s) => s.points.map((p) => p[1]))));
  const x = (b: number) => left + ((b - 0) / 1) * (W - left - right);
  const y = (v: number) => top + (1 - v / yMax) * (H - top - bottom);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
      `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">${escapeXml(title)}</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    parts.push(
      `<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  for (const b of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    parts.push(
      `<text x="${x(b)}" y="${H - bottom + 18}" text-anchor="middle">${b * 100}%</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="black"/>`,
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" stroke="black"/>`,
    `<text x="${(left + W - right) / 2}" y="${
      H - 12
    }" text-anchor="middle">budget (fraction of the prompt's KV kept)</text>`,
    `<text transform="translate(16 ${
      (top + H - bottom) / 2
    }) rotate(-90)" text-anchor="middle">decode ms per step</text>`,
  );
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${
        s.dash ? ` stroke-dasharray="${s.dash}"` : ""
      } points="${pts.map(([b, v]) => `${x(b).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"/>`,
      ...pts.map(([b, v]) =>
        `<circle cx="${x(b).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"/>`
      ),
      `<line x1="${W - right + 12}" x2="${W - right + 36}" y1="${top + 10 + i * 20}" ` +
        `y2="${top + 10 + i * 20}" stroke="${s.color}" stroke-width="2"${
          s.dash ? ` stroke-dasharray="${s.dash}"` : ""
        }/>`,
      `<text x="${W - right + 40}" y="${top + 14 + i * 20}">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push(`</svg>`);
  return parts.join("\n") + "\n";
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((c) => c >= v) ?? 10 * p;
}

function fmt(v: number): string {
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
