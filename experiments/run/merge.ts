/**
 * `deno task experiments merge --out OUT DIR…`: joins the results folders of shards (or of any
 * runs with the same identity) into one, and writes its tables and figures. Every cell of the
 * plan must be present in some folder; a cell found twice must have the same numbers (timings
 * aside).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../lib/errors.ts";
import type { CellSummary } from "./cells.ts";
import type { RunResults } from "./report.ts";
import { cellPath, jsonDifferences, prepareOutDir, readJson, writeJsonAtomic } from "./store.ts";
import { writeResults } from "./write_results.ts";

interface RunRecord {
  runId: string;
  identity: unknown;
  plan: string[];
  budgets: number[];
  shard: { index: number; count: number } | null;
  [key: string]: unknown;
}

/** A cell's numbers without timings and memory (which vary run to run). */
export function withoutTimings(summary: CellSummary): Omit<CellSummary, "efficiency"> & {
  efficiency: Omit<
    CellSummary["efficiency"],
    "prefillMs" | "decodeMsPerToken" | "tokensPerSecond" | "peakRssBytes"
  >;
} {
  const { prefillMs: _p, decodeMsPerToken: _d, tokensPerSecond: _t, peakRssBytes: _r, ...kept } =
    summary.efficiency;
  return { ...summary, efficiency: kept };
}

/** Merges `dirs` into `out`; returns the merged results. */
export async function mergeRuns(dirs: readonly string[], out: string): Promise<RunResults> {
  if (dirs.length === 0) throw new InputError("merge: give the results folders to join");
  const runs = dirs.map((d) => {
    const path = join(d, "run.json");
    if (!existsSync(path)) {
      throw new InputError(`merge: ${d} has no run.json (not a results folder)`);
    }
    return { dir: d, run: readJson<RunRecord>(path) };
  });
  const first = runs[0];
  for (const r of runs.slice(1)) {
    const diff = [
      ...jsonDifferences(first.run.identity, r.run.identity),
      ...jsonDifferences(first.run.plan, r.run.plan, "plan"),
    ];
    if (diff.length) {
      throw new InputError(`merge: ${r.dir} is another run than ${first.dir} (${diff.join("; ")})`);
    }
  }
  await prepareOutDir(out);
  const found = new Map<string, { dir: string; cell: { summary: CellSummary } }>();
  for (const { dir } of runs) {
    for (const key of first.run.plan) {
      if (!existsSync(cellPath(dir, key))) continue;
      const cell = readJson<{ summary: CellSummary }>(cellPath(dir, key));
      const seen = found.get(key);
      if (seen) {
        const diff = jsonDifferences(
          withoutTimings(seen.cell.summary),
          withoutTimings(cell.summary),
        );
        if (diff.length) {
          throw new InputError(
            `merge: cell ${key} differs between ${seen.dir} and ${dir} (${diff.join("; ")})`,
          );
        }
      } else found.set(key, { dir, cell });
    }
  }
  const missing = first.run.plan.filter((k) => !found.has(k));
  if (missing.length) {
    throw new InputError(
      `merge: ${missing.length} cells are in no folder (${missing.slice(0, 5).join(", ")}` +
        `${missing.length > 5 ? ", …" : ""}); run the missing shards first`,
    );
  }
  for (const [key, { dir }] of found) {
    if (join(dir) !== join(out)) await Deno.copyFile(cellPath(dir, key), cellPath(out, key));
  }
  for (const f of ["reference.json", "calibration.json"]) {
    const src = runs.find((r) => existsSync(join(r.dir, f)));
    if (src && join(src.dir) !== join(out)) await Deno.copyFile(join(src.dir, f), join(out, f));
  }
  const confDir = runs.find((r) => existsSync(join(r.dir, "configs")));
  if (confDir && join(confDir.dir) !== join(out)) {
    await Deno.mkdir(join(out, "configs"), { recursive: true });
    for (const e of Deno.readDirSync(join(confDir.dir, "configs"))) {
      await Deno.copyFile(join(confDir.dir, "configs", e.name), join(out, "configs", e.name));
    }
  }
  const merged = {
    ...first.run,
    out,
    shard: null,
    cells: first.run.plan,
    mergedFrom: runs.map((r) => ({ dir: r.dir, shard: r.run.shard })),
    durationSeconds: runs.reduce((s, r) => s + Number(r.run.durationSeconds ?? 0), 0),
  };
  await writeJsonAtomic(join(out, "run.json"), merged);
  return writeResults(out, merged as RunResults["run"], first.run.plan, true);
}
