/**
 * Messages point at the real cause, and sizes are limited before they exhaust the machine:
 * - a config.json that cannot be read (here: Deno's permissions forbid it) is not "not found";
 * - token ids a broken tokenizer.json produces blame the tokenizer, not the prompt;
 * - `calibrate --data` straight from `scenes` without `--image-dir` names the images/ folder;
 * - a chat template that loops or doubles a string fails fast, naming the template;
 * - `--threads 100000` and `analyze --points 1e8` are refused up front, in the CLI and library.
 */
import { assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import { renderChatTemplate } from "../../lib/checkpoint/chat.ts";
import { analyzeImportance } from "../../lib/importance/analysis.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { writeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { cli, withTempDir } from "../cli/_cli.ts";

/** The one stderr line of a failed run, without the `prefixkv <command>: ` prefix. */
function oneLine(r: { code: number; stderr: string }, command: string): string {
  assertEquals(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, r.stderr);
  return lines[0].replace(`prefixkv ${command}: `, "");
}

Deno.test("faults: messages name the real cause (permissions, tokenizer, images/ folder)", () =>
  withTempDir("faults_messages_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "tinyllama"), { layers: 1, seed: 3 });
    // Deno may not read config.json: the error says so, not "not found".
    const deniedLine = oneLine(
      await cli(["generate", "--model", ck.dir, "--input-ids", "1,5"], dir, {
        denoFlags: [`--deny-read=${join(ck.dir, "config.json")}`],
      }),
      "generate",
    );
    assertMatch(
      deniedLine,
      /config\.json: cannot read the config\.json: Deno's permissions do not allow it/,
    );

    // A tokenizer.json that maps a word past the vocabulary: blamed on the tokenizer.
    const broken = await writeTinyLlama(join(dir, "broken"), { layers: 1, seed: 3 });
    const tokPath = join(broken.dir, "tokenizer.json");
    const tok = JSON.parse(await Deno.readTextFile(tokPath));
    tok.model.vocab.zebra = broken.spec.text.vocabSize + 7;
    await Deno.writeTextFile(tokPath, JSON.stringify(tok));
    const tokLine = oneLine(
      await cli([
        "generate",
        "--model",
        broken.dir,
        "--prompt",
        "zebra",
        "--raw",
        "--cache-dir",
        join(dir, "g"),
      ], dir),
      "generate",
    );
    assertMatch(
      tokLine,
      new RegExp(
        `tokenizer \\(tokenizer\\.json\\) produced token id ${
          broken.spec.text.vocabSize + 7
        }.*config\\.json vocab_size`,
      ),
    );
    assertEquals(tokLine.includes("--input-ids"), false);

    // scenes → calibrate without --image-dir: the message names the images/ folder.
    const scenes = await cli([
      "scenes",
      "--out",
      join(dir, "sc"),
      "--split",
      "calib",
      "--count",
      "2",
    ], dir);
    assertEquals(scenes.code, 0, scenes.stderr);
    const calLine = oneLine(
      await cli([
        "calibrate",
        "--data",
        join(dir, "sc", "calib.json"),
        "--budget",
        "0.5",
        "--samples",
        "2",
        "--out",
        join(dir, "c.json"),
      ], dir),
      "calibrate",
    );
    assertMatch(
      calLine,
      /calib-000000\.png: cannot read the image of calibration sample .*: not found; it is in .*sc\/images\/ .*pass --image-dir .*sc\/images/,
    );
  }));

Deno.test("faults: chat templates that loop, and oversized threads and points, fail fast", () =>
  withTempDir("faults_limits_", async (dir) => {
    // Through the CLI: a template with a huge range, from the checkpoint's tokenizer_config.json.
    const ck = await writeTinyLlama(join(dir, "looping"), { layers: 1, seed: 3 });
    const cfgPath = join(ck.dir, "tokenizer_config.json");
    const cfg = JSON.parse(await Deno.readTextFile(cfgPath));
    cfg.chat_template = "{% for i in range(10**9) %}x{% endfor %}{{ messages[0].content }}";
    await Deno.writeTextFile(cfgPath, JSON.stringify(cfg));
    assertMatch(
      oneLine(
        await cli(
          ["generate", "--model", ck.dir, "--prompt", "hi", "--cache-dir", join(dir, "g")],
          dir,
        ),
        "generate",
      ),
      /cannot render the chat template: range\(\) of 1000000000 numbers is over the limit of 1000000/,
    );
    // In the library: nested loops stop at the step limit, a doubled string at the size limit.
    assertMatch(
      assertThrows(
        () =>
          renderChatTemplate(
            "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}",
            [],
            { source: "t.json" },
          ),
        Error,
      ).message,
      /t\.json: cannot render the chat template: it took more than 200000 steps/,
    );
    assertMatch(
      assertThrows(
        () =>
          renderChatTemplate(
            "{% set ns = namespace(s='ab') %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
            [],
          ),
        Error,
      ).message,
      /it made a text of more than 1000000 characters/,
    );

    // --threads far past the cores, in the CLI and in the library.
    assertMatch(
      oneLine(
        await cli(
          ["generate", "--model", ck.dir, "--input-ids", "1,5", "--threads", "100000"],
          dir,
        ),
        "generate",
      ),
      /^--threads: 100000 is over the limit of \d+ \(this machine has \d+ logical cores/,
    );
    const m = await loadModel(ck.dir, { cacheDir: false, threads: 100000 });
    try {
      assertMatch(
        (await assertRejects(() => m.prefill(m.embedTokens([1, 5])), Error)).message,
        /threads: 100000 is over the limit/,
      );
    } finally {
      await m.close();
    }
    // --points 1e8, in the CLI and in the library.
    assertMatch(
      oneLine(
        await cli([
          "analyze",
          "--model",
          ck.dir,
          "--prompt",
          "hi",
          "--out",
          join(dir, "a"),
          "--points",
          "1e8",
        ], dir),
        "analyze",
      ),
      /^--points: 1e8 is over the limit of 10001/,
    );
    assertMatch(
      assertThrows(
        () => analyzeImportance([Float32Array.from([1, 2, 3])], { points: 1e8 }),
        Error,
      ).message,
      /points: 100000000 is over the limit of 10001/,
    );
  }));
