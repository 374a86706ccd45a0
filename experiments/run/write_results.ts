/**
 * Writes a results folder's tables and figures from what it holds: `results.json`,
 * `results.md`, `results.csv` and `figures/`. Shared by a run and by `merge`.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { CellSummary } from "./cells.ts";
import { writeRunFigures } from "./figures.ts";
import {
  type CalibrationRecord,
  type ReferenceSummary,
  resultsCsv,
  resultsMarkdown,
  type RunResults,
} from "./report.ts";
import { cellPath, readJson, writeJsonAtomic } from "./store.ts";

/** Writes the tables and figures of `out` for the cells `keys`; returns the results document. */
export async function writeResults(
  out: string,
  run: RunResults["run"],
  keys: readonly string[],
  figures: boolean,
): Promise<RunResults> {
  const cells = keys.filter((k) => existsSync(cellPath(out, k))).map((k) =>
    readJson<{ summary: CellSummary }>(cellPath(out, k)).summary
  );
  const results: RunResults = {
    run,
    reference: readJson<{ summary: ReferenceSummary }>(join(out, "reference.json")).summary,
    calibration: existsSync(join(out, "calibration.json"))
      ? readJson<CalibrationRecord>(join(out, "calibration.json"))
      : { available: 0, configs: [] },
    cells,
  };
  const names = figures ? await writeRunFigures(results, join(out, "figures")) : [];
  await writeJsonAtomic(join(out, "results.json"), results);
  await Deno.writeTextFile(join(out, "results.md"), resultsMarkdown(results, names));
  await Deno.writeTextFile(join(out, "results.csv"), resultsCsv(cells));
  return results;
}
