/**
 * Fault test of `deno task experiments` (experiments/run): the runner process killed with
 * SIGKILL after its first finished cell, then rerun with the same command: the cell finished
 * before the kill is kept byte for byte (not recomputed) and the results equal a clean run's.
 * A cell file damaged afterwards gives a clear one-line error naming it, or is redone; either
 * way the other cells are untouched.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { CellSummary } from "../../experiments/run/cells.ts";
import { withoutTimings } from "../../experiments/run/merge.ts";
import { cliCommand, EXPERIMENTS_MAIN, withTempDir } from "../cli/_cli.ts";

function command(dir: string, out: string): Deno.Command {
  return cliCommand(
    [
      ...["--recipes", "full,local", "--budgets", "0.3", "--samples", "2", "--no-figures"],
      ...["--out", out, "--cache-dir", join(dir, "g")],
    ],
    dir,
    { script: EXPERIMENTS_MAIN },
  );
}

/** The cells of a finished run, without timings. */
function cells(out: string) {
  const results = JSON.parse(Deno.readTextFileSync(join(out, "results.json")));
  return (results.cells as CellSummary[]).map(withoutTimings);
}

Deno.test("faults: experiments killed after a cell resumes, keeping it; results equal a clean run", () =>
  withTempDir("faults_experiments_", async (dir) => {
    const clean = await command(dir, join(dir, "clean")).output();
    assertEquals(clean.code, 0, new TextDecoder().decode(clean.stderr));

    const out = join(dir, "killed");
    const first = join(out, "cells", "full@100.json");
    const child = command(dir, out).spawn();
    const drain = Promise.all([child.stdout.cancel(), child.stderr.cancel()]);
    while (!existsSync(first)) await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGKILL");
    const status = await child.status;
    await drain;
    assertEquals(status.signal, "SIGKILL", "the run should have been killed, not finished");
    assert(!existsSync(join(out, "results.json")), "a killed run has no results yet");
    const kept = await Deno.readFile(first);

    const resumed = await command(dir, out).output();
    assertEquals(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
    assertEquals(await Deno.readFile(first), kept, "the finished cell was not recomputed");
    assertEquals(cells(out), cells(join(dir, "clean")));

    // A damaged cell file: a clear error naming it, or the cell redone; the other cell stays.
    const local = join(out, "cells", "local@30.json");
    await Deno.writeTextFile(local, Deno.readTextFileSync(local).slice(0, 100));
    const again = await command(dir, out).output();
    const err = new TextDecoder().decode(again.stderr).trim();
    if (again.code === 0) assertEquals(cells(out), cells(join(dir, "clean")));
    else {
      const lines = err.split("\n").filter((l) => !l.includes("█") && !l.includes("░"));
      assertEquals(lines.length, 1, err);
      assertMatch(lines[0], /local@30\.json/);
      assert(!lines[0].includes("    at "), err);
    }
    assertEquals(await Deno.readFile(first), kept);
  }));
