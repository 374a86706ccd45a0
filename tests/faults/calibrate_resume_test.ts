/**
 * Fault tests of calibration's resume file (lib/resume_log.ts through `calibrate`):
 * - a `calibrate` process killed with SIGKILL part-way, then rerun: the samples it finished are
 *   reused (none redone), and the config is byte-identical to an uninterrupted run's;
 * - a resume file with a cut-short last line, a non-number ratio, a line that is not JSON, a
 *   sample of another run, a header from other data or an unreadable header: each bad line is
 *   dropped with a message naming it and its sample redone, every good line is reused, the
 *   result equals an uninterrupted run, and a stale file is kept as `….stale`, not deleted.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { calibrateModel } from "../../lib/calibration/calibrate_model.ts";
import type { CalibrationPrompt } from "../../lib/prefix/calibration_data.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { writeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { cli, cliArgs, cliCommand, withTempDir } from "../cli/_cli.ts";

const WORDS = ["red", "blue", "green", "circle", "square", "small", "large", "left", "below"];

/** `n` distinct text-only prompts of 6–14 words. */
function prompts(n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) =>
      Array.from({ length: 6 + (i % 9) }, (_, k) => WORDS[(i * 7 + k * 3) % WORDS.length]).join(
        " ",
      ) +
      ` ${i} .`,
  );
}

Deno.test("faults: calibrate killed part-way resumes without redoing finished samples; same config", () =>
  withTempDir("faults_calibrate_kill_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "tinyllama"), { layers: 2, seed: 4 });
    const data = join(dir, "prompts.json");
    const n = 150; // enough that the process is still busy when the kill arrives
    await Deno.writeTextFile(data, JSON.stringify(prompts(n)));
    const flags = (out: string) =>
      cliArgs("calibrate", {
        model: ck.dir,
        data,
        budget: "0.4",
        samples: String(n),
        out,
        "cache-dir": join(dir, "g"),
      });
    const reference = await cli(flags(join(dir, "whole.json")), dir);
    assertEquals(reference.code, 0, reference.stderr);

    // Kill the second run as soon as it reports its third sample.
    const out = join(dir, "killed.json");
    const child = cliCommand(flags(out), dir).spawn();
    let seen = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      seen += decoder.decode(chunk);
      if (seen.includes(`[3/${n}]`)) break;
    }
    child.kill("SIGKILL");
    const status = await child.status;
    assertEquals(status.signal, "SIGKILL", "the run should have been killed, not finished");
    assert(!existsSync(out), "a killed run leaves no config");
    const partial = join(dir, "killed.partial.jsonl");
    const finished = (await Deno.readTextFile(partial)).split("\n").slice(1)
      .filter((l) => l.endsWith("}")).length;
    assert(finished >= 3 && finished < n, `${finished} samples finished before the kill`);

    const resumed = await cli(flags(out), dir);
    assertEquals(resumed.code, 0, resumed.stderr);
    const lines = resumed.stderr.trim().split("\n").filter((l) => l.startsWith("calibrate ["));
    assertEquals(lines.length, n);
    // Every sample finished before the kill is reused; a line cut short by the kill (if any) is
    // the only one redone beyond them.
    const reused = lines.filter((l) => l.includes(" resumed,")).length;
    assertEquals(reused, finished);
    assertEquals(await Deno.readTextFile(out), await Deno.readTextFile(join(dir, "whole.json")));
  }));

Deno.test("faults: corrupt calibration resume files are repaired line by line; nothing good is lost", () =>
  withTempDir("faults_calibrate_corrupt_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "tinyllama"), { layers: 2, seed: 4 });
    const model = await loadModel(ck.dir, { cacheDir: join(dir, "g") });
    try {
      const samples: CalibrationPrompt[] = prompts(5).map((q, i) => ({ id: `s${i}`, question: q }));
      const run = async (resumeFile: string, data = samples) => {
        const messages: string[] = [];
        let prefilled = 0;
        const result = await calibrateModel(model, data, {
          budget: 0.5,
          resumeFile,
          onDiscard: (m) => messages.push(m),
          onProgress: (p) => (prefilled += p.resumed ? 0 : 1),
        });
        return { result, messages, prefilled };
      };
      const good = join(dir, "good.partial.jsonl");
      const whole = await run(good);
      assertEquals(whole.prefilled, 5);
      const goodLines = (await Deno.readTextFile(good)).split("\n"); // header, 5 records, ""

      const cases: { name: string; lines: string[]; redo: number; says: RegExp }[] = [
        {
          name: "cut-short last line",
          lines: [...goodLines.slice(0, 5), goodLines[5].slice(0, 20)],
          redo: 1,
          says: /line 6 is cut short/,
        },
        {
          name: "a ratio that is not a number",
          lines: [
            ...goodLines.slice(0, 2),
            goodLines[2].replace(/"evictRatios":\[[^,]+/, '"evictRatios":["x"'),
            ...goodLines.slice(3),
          ],
          redo: 1,
          says: /line 3 is not a valid record \(evictRatios\[0\] is "x"/,
        },
        {
          name: "p that is not a number",
          lines: [
            ...goodLines.slice(0, 4),
            goodLines[4].replace(/"p":[^,]+/, '"p":"NaN"'),
            ...goodLines.slice(5),
          ],
          redo: 1,
          says: /line 5 is not a valid record \(p is not a number/,
        },
        {
          name: "a line that is not JSON",
          lines: [...goodLines.slice(0, 3), "garbage{", ...goodLines.slice(3)],
          redo: 0,
          says: /line 4 is not JSON/,
        },
        {
          name: "a sample of another run",
          lines: [...goodLines.slice(0, 6), goodLines[1].replace('"id":"s0"', '"id":"zz"'), ""],
          redo: 0,
          says: /line 7 is not a valid record \(id "zz" is not a sample of this run/,
        },
      ];
      for (const c of cases) {
        const path = join(dir, `${c.name.replaceAll(" ", "_")}.partial.jsonl`);
        await Deno.writeTextFile(path, c.lines.join("\n"));
        const r = await run(path);
        assertEquals(r.prefilled, c.redo, c.name);
        assertEquals(r.result, whole.result, c.name);
        assertEquals(r.messages.length, 1, `${c.name}: ${r.messages}`);
        assertMatch(r.messages[0], c.says);
        // Repaired on disk: a clean rerun reuses everything and says nothing.
        const again = await run(path);
        assertEquals([again.prefilled, again.messages], [0, []], c.name);
      }

      // Other data (one question changed) and an unreadable header: start over, keep the old file.
      const changed = samples.map((
        s,
        i,
      ) => (i === 2 ? { ...s, question: s.question + " again" } : s));
      const other = await run(good, changed);
      assertEquals(other.prefilled, 5);
      assertMatch(
        other.messages[0],
        /was made with another data; kept it as .*\.stale and started over/,
      );
      assertEquals((await Deno.readTextFile(`${good}.stale`)).split("\n"), goodLines);
      const broken = join(dir, "broken.partial.jsonl");
      await Deno.writeTextFile(broken, "not a header\n" + goodLines.slice(1).join("\n"));
      const fresh = await run(broken);
      assertEquals([fresh.prefilled, fresh.result], [5, whole.result]);
      assertMatch(fresh.messages[0], /its first line is not a header/);
    } finally {
      await model.close();
    }
  }));
