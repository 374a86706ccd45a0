import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "node:path";
import { cli, withTempDir } from "./_cli.ts";

Deno.test("eval-scenes: summary on stdout, full JSON with provenance in --out", () =>
  withTempDir("eval_scenes_cli_", async (dir) => {
    const out = join(dir, "eval.json");
    const r = await cli(["eval-scenes", "--count", "2", "--out", out, "--cache-dir", dir], dir);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /objects fully right: +\d+\.\d% \(\d+\/\d+\)/);
    assertMatch(r.stdout, /descriptions, no invented object: +\d+\.\d% \(\d+\/2\)/);
    assertMatch(r.stdout, /short questions right: +\d+\.\d% \(\d+\/\d+\)/);
    assertMatch(r.stderr, /eval-scenes: 2\/2 scenes/);
    const json = JSON.parse(await Deno.readTextFile(out));
    assertEquals(json.counts.scenes, 2);
    assertEquals(json.setup.split, "test");
    assertEquals(json.provenance.args.args, ["--count", "2", "--out", out, "--cache-dir", dir]);
    // The printed percentages are the JSON's ratios.
    const printed = Number(/objects fully right: +([\d.]+)%/.exec(r.stdout)![1]);
    assertEquals(printed, Number((100 * json.objectsFullyRight).toFixed(1)));
  }));

Deno.test("eval-scenes: bad flags fail before the model loads", () =>
  withTempDir("eval_scenes_cli_", async (dir) => {
    const r = await cli(["eval-scenes", "--count", "zero"], dir);
    assertEquals(r.code, 1);
    assert(r.stderr.includes("--count must be an integer"), r.stderr);
    const m = await cli(["eval-scenes", "--method", "nope"], dir);
    assertEquals(m.code, 1);
    assert(m.stderr.includes('unknown recipe "nope"'), m.stderr);
  }));
