/**
 * The run's tables: `results.md` (the paper's Table 1 layout, rows = recipes, columns =
 * budgets, cells = PPL / ROUGE-L; then accuracy, diagnostics and efficiency), `results.csv`
 * (one row per cell) and the `results.json` document they are both made from.
 *
 * @module
 */
import { budgetPercent, type CellSummary } from "./cells.ts";
import type { RecipeGroup } from "./recipes.ts";

/** Calibration stability of the offline configs: per sample count and budget. */
export interface CalibrationRecord {
  /** Calibration samples available. */
  available: number;
  /** Per sample count, per budget (percent key): the config and the spread across samples. */
  configs: {
    samples: number;
    budget: number;
    /** Per-layer mean eviction ratios (the reference's config). */
    evictRatios: number[];
    /** Per-layer population std of the samples' eviction ratios. */
    std: number[];
    /** Config file written, relative to the results folder. */
    file: string;
  }[];
}

/** The full-cache reference, summarised. */
export interface ReferenceSummary {
  /** Samples. */
  samples: number;
  /** Per layer: mean Gini of the prefill importance. */
  gini: number[];
  /** Per layer: mean share of importance on image entries. */
  imageShare: number[];
  /** Per layer: the mean Lorenz curve (21 points). */
  lorenz: number[][];
  /** Mean prompt length. */
  promptLength: number;
}

/** Everything the tables and figures are made from (written as `results.json`). */
export interface RunResults {
  /** The run record (run.json). */
  run: Record<string, unknown> & { runId: string; budgets: number[] };
  /** The full-cache reference. */
  reference: ReferenceSummary;
  /** The calibrated offline configs. */
  calibration: CalibrationRecord;
  /** Every cell, in canonical order. */
  cells: CellSummary[];
}

const f2 = (
  x: number,
) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : "—");
/** PPL / ROUGE-L, and object F1 where the data are scenes. */
const qualityCell = (c: CellSummary) =>
  `${f2(c.ppl)} / ${c.rougeL.toFixed(2)}${
    c.accuracy ? ` / ${c.accuracy.objectF1.toFixed(2)}` : ""
  }`;
const pct = (x: number | undefined) => (x === undefined ? "—" : (100 * x).toFixed(1));

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/** Rows × budgets of one group, with `cell` formatting each cell (— where none ran). */
function grid(
  results: RunResults,
  groups: RecipeGroup[],
  cell: (c: CellSummary) => string,
  extraRows: string[] = [],
): string {
  const budgets = [...results.run.budgets].sort((a, b) => a - b);
  const cells = results.cells.filter((c) => c.budget < 1 || budgets.includes(1));
  const labels = [
    ...new Set(
      cells.filter((c) => groups.includes(c.group) || extraRows.includes(c.label)).map((c) =>
        c.label
      ),
    ),
  ].filter((l) => cells.some((c) => c.label === l && c.budget < 1));
  // Only the budgets where some shown row has a cell (diagnostic rows run at fewer budgets).
  const shown = budgets.filter((b) =>
    labels.some((l) => cells.some((c) => c.label === l && c.budget === b))
  );
  const rows = labels.map((label) => [
    label,
    ...shown.map((b) => {
      const c = cells.find((x) => x.label === label && x.budget === b);
      return c ? cell(c) : "—";
    }),
  ]);
  return table(["recipe", ...shown.map((b) => `${budgetPercent(b)}%`)], rows);
}

const fullCell = (r: RunResults) => r.cells.find((c) => c.budget === 1 && c.method === "full");
const meanOf = (xs: number[] | undefined) =>
  xs && xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : undefined;

function calibrationTable(r: RunResults): string {
  const counts = [...new Set(r.calibration.configs.map((c) => c.samples))].sort((a, b) => a - b);
  if (counts.length === 0) return "No offline configs were calibrated.";
  const budgets = [...new Set(r.calibration.configs.map((c) => c.budget))].sort((a, b) => a - b);
  const largest = counts.at(-1)!;
  const conf = (n: number, b: number) =>
    r.calibration.configs.find((c) => c.samples === n && c.budget === b);
  const rows = counts.map((n) => [
    `${n} sample${n === 1 ? "" : "s"}`,
    ...budgets.map((b) => {
      const c = conf(n, b), ref = conf(largest, b);
      if (!c || !ref) return "—";
      const dev = Math.max(...c.evictRatios.map((x, l) => Math.abs(x - ref.evictRatios[l])));
      // One sample has no spread.
      const spread = n === 1 ? "—" : pct(meanOf(c.std)!);
      return `${spread} / ${pct(dev)}`;
    }),
  ]);
  return table(["calibrated on", ...budgets.map((b) => `${budgetPercent(b)}%`)], rows);
}

/** The results.md text. */
export function resultsMarkdown(r: RunResults, figures: string[]): string {
  const full = fullCell(r);
  const run = r.run as Record<string, unknown> & {
    provenance?: { commit?: string; date?: string };
    identity?: Record<string, unknown>;
    data?: { test?: { source?: string; count?: number } };
    durationSeconds?: number;
    positionMode?: string;
  };
  const scenes = r.cells.some((c) => c.accuracy);
  const L = r.reference.gini.length;
  const out: string[] = [
    `# Results: ${r.run.runId}`,
    "",
    `Commit \`${run.provenance?.commit ?? "unknown"}\`, ${run.provenance?.date ?? ""}; ` +
    `model \`${(run.identity?.model as { name?: string })?.name ?? "?"}\`; ` +
    `test data ${run.data?.test?.source} (${run.data?.test?.count} samples); ` +
    `positions \`${run.positionMode}\`` +
    (run.durationSeconds !== undefined ? `; ${run.durationSeconds.toFixed(0)} s` : "") +
    ". Provenance, seeds and data hashes: `run.json`. Every cell: `results.csv`, `results.json`.",
    "",
    "## Table 1: PPL ↓ / ROUGE-L ↑ by KV budget kept",
    "",
    "PPL: teacher-forced on the reference answer, first token from the full-cache prefill, " +
    "exp(mean NLL over all answer tokens). ROUGE-L: summary-level F of the greedy output against " +
    "the full-cache greedy output (the Python `rouge` package's definition).",
    "",
    full ? `Full cache: PPL ${f2(full.ppl)}, ROUGE-L ${full.rougeL.toFixed(2)}.` : "",
    "",
    grid(r, ["main"], (c) => `${f2(c.ppl)} / ${c.rougeL.toFixed(2)}`),
    "",
  ];
  if (scenes) {
    out.push(
      "## Scene accuracy: objects fully right / short questions right (%)",
      "",
      full?.accuracy
        ? `Full cache: ${pct(full.accuracy.objectsFullyRight)} / ${
          pct(full.accuracy.shortQuestionsRight)
        }; ` +
          `object F1 ${full.accuracy.objectF1.toFixed(2)}; descriptions with no invented object ` +
          `${pct(full.accuracy.descriptionsWithoutInventedObject)}.`
        : "",
      "",
      grid(
        r,
        ["main"],
        (c) => `${pct(c.accuracy?.objectsFullyRight)} / ${pct(c.accuracy?.shortQuestionsRight)}`,
      ),
      "",
      "Object F1 of the descriptions (an empty answer scores 0) / descriptions with no invented " +
        "object (%; an empty answer scores 100):",
      "",
      grid(
        r,
        ["main"],
        (c) =>
          `${c.accuracy?.objectF1.toFixed(2) ?? "—"} / ${
            pct(c.accuracy?.descriptionsWithoutInventedObject)
          }`,
      ),
      "",
    );
  }
  out.push("## Diagnostics", "");
  if (scenes) {
    out.push(
      "### Object-patch recall: share of the image patches an object covers that the cache keeps",
      "",
      "Mean over layers, after prefill (%), then the share of all image patches kept (%), for " +
        "comparison: recall above the image share means the recipe prefers object patches.",
      "",
      grid(r, ["main"], (c) => `${pct(meanOf(c.objectPatchRecall))} / ${pct(meanOf(c.imageKept))}`),
      "",
    );
  }
  out.push(
    "### Image share of the kept entries (%, mean over layers)",
    "",
    grid(r, ["main"], (c) => pct(meanOf(c.imageShareOfKept))),
    "",
    "### Importance variant (PrefixKV online search on each score): PPL / ROUGE-L" +
      (scenes ? " / object F1" : ""),
    "",
    "`prefixkv-online` is the paper's sum over all prompt queries; `-mean` divides by the number " +
      "of queries that could attend (causal count); `-window` sums the last 32 queries only.",
    "",
    grid(
      r,
      ["importance"],
      qualityCell,
      ["prefixkv-online"],
    ),
    "",
    "### Decode policy (offline PrefixKV): PPL / ROUGE-L" + (scenes ? " / object F1" : ""),
    "",
    "`prefixkv` evicts at the fixed distance K_l − 25 as the paper; `-no-decode` never evicts " +
      "while decoding; `-accumulated` evicts the lowest accumulated attention outside a recent window.",
    "",
    grid(
      r,
      ["decode"],
      qualityCell,
      ["prefixkv"],
    ),
    "",
    "### Calibration stability",
    "",
    "Mean per-layer spread (population std) of the samples' eviction ratios / largest per-layer " +
      `difference from the config of the most samples (both in percentage points; ${r.calibration.available} calibration samples available):`,
    "",
    calibrationTable(r),
    "",
    "Quality of each offline config: PPL / ROUGE-L" + (scenes ? " / object F1" : ""),
    "",
    grid(
      r,
      ["calibration"],
      qualityCell,
      ["prefixkv"],
    ),
    "",
    "### Per-layer importance at full cache",
    "",
    table(
      ["", ...Array.from({ length: L }, (_, l) => `L${l}`)],
      [
        ["Gini", ...r.reference.gini.map((g) => g.toFixed(2))],
        ["image share of importance (%)", ...r.reference.imageShare.map((s) => pct(s))],
      ],
    ),
    "",
    "## Efficiency",
    "",
    "KV bytes held at the end of the long answer (KiB, measured from the cache buffers) / decode " +
      "ms per token. Timings are wall-clock on the machine in `run.json` and vary between runs.",
    "",
    full
      ? `Full cache: ${
        (full.kvBytesAfterPrefill.reduce((a, b) => a + b, 0) / 1024).toFixed(1)
      } / ` +
        `${(full.efficiency.kvBytesHeld / 1024).toFixed(1)} / ` +
        `${(full.efficiency.kvBytes / 1024).toFixed(1)} KiB, ` +
        `${full.efficiency.decodeMsPerToken.toFixed(2)} ms/token, prefill ${
          full.efficiency.prefillMs.toFixed(1)
        } ms, ` +
        `${full.efficiency.tokensPerSecond.toFixed(0)} tokens/s.`
      : "",
    "",
    grid(
      r,
      ["main"],
      (c) =>
        `${(c.efficiency.kvBytes / 1024).toFixed(1)} / ${c.efficiency.decodeMsPerToken.toFixed(2)}`,
    ),
    "",
  );
  if (figures.length) {
    out.push("## Figures", "", ...figures.map((f) => `![${f}](figures/${f}.svg)`), "");
  }
  return out.join("\n");
}

const CSV_COLUMNS = [
  "key",
  "label",
  "method",
  "group",
  "budget",
  "samples",
  "ppl",
  "rougeL",
  "keptFraction",
  "objectsFullyRight",
  "objectF1",
  "descriptionsWithoutInventedObject",
  "descriptionsExact",
  "shortQuestionsRight",
  "objectPatchRecall",
  "imageShareOfKept",
  "imageKept",
  "kvBytesAfterPrefill",
  "kvBytesHeld",
  "kvBytes",
  "kvEntries",
  "prefillMs",
  "decodeMsPerToken",
  "tokensPerSecond",
  "peakRssBytes",
] as const;

/** results.csv: one row per cell (per-layer values averaged over layers). */
export function resultsCsv(cells: readonly CellSummary[]): string {
  const esc = (v: unknown) => {
    const s = v === undefined || v === null ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const rows = cells.map((c) => {
    const v: Record<(typeof CSV_COLUMNS)[number], unknown> = {
      key: c.key,
      label: c.label,
      method: c.method,
      group: c.group,
      budget: c.budget,
      samples: c.samples,
      ppl: c.ppl,
      rougeL: c.rougeL,
      keptFraction: c.keptFraction,
      objectsFullyRight: c.accuracy?.objectsFullyRight,
      objectF1: c.accuracy?.objectF1,
      descriptionsWithoutInventedObject: c.accuracy?.descriptionsWithoutInventedObject,
      descriptionsExact: c.accuracy?.descriptionsExact,
      shortQuestionsRight: c.accuracy?.shortQuestionsRight,
      objectPatchRecall: meanOf(c.objectPatchRecall),
      imageShareOfKept: meanOf(c.imageShareOfKept),
      imageKept: meanOf(c.imageKept),
      kvBytesAfterPrefill: c.kvBytesAfterPrefill.reduce((a, b) => a + b, 0),
      kvBytesHeld: c.efficiency.kvBytesHeld,
      kvBytes: c.efficiency.kvBytes,
      kvEntries: c.efficiency.kvEntries,
      prefillMs: c.efficiency.prefillMs,
      decodeMsPerToken: c.efficiency.decodeMsPerToken,
      tokensPerSecond: c.efficiency.tokensPerSecond,
      peakRssBytes: c.efficiency.peakRssBytes,
    };
    return CSV_COLUMNS.map((k) => esc(v[k])).join(",");
  });
  return [CSV_COLUMNS.join(","), ...rows].join("\n") + "\n";
}
