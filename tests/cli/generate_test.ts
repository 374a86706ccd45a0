import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "node:path";
import { argmax } from "../../lib/runtime/generate.ts";
import { writeTinyLlama, writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";
import { referenceLlama } from "../reference/llama_reference.ts";
import { parseIds } from "../../lib/cli/generate.ts";
import { cli, cliArgs, withTempDir } from "./_cli.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("cli_generate_test_", fn);

Deno.test("cli generate --json --input-ids: greedy ids as the reference, default graph cache under cwd", () =>
  withDir(async (dir) => {
    const ck = await writeTinyLlama(join(dir, "llama"), { heads: 4, kvHeads: 2 });
    const ids = [1, 9, 17, 25, 33];
    const r = await cli(
      cliArgs("generate", {
        model: ck.dir,
        "input-ids": ids.join(","),
        "max-new-tokens": "5",
        json: true,
      }),
      dir,
    );
    assertEquals([r.code, r.stderr], [0, ""]);
    const json = JSON.parse(r.stdout);
    // Reference greedy decoding of the same ids (fed as given, no BOS added).
    const ref = referenceLlama(ck.spec.text, ck.store);
    const cache = ref.newCache();
    const V = ck.spec.text.vocabSize;
    const want = [
      argmax(
        ref.forward(
          ref.embed(ids),
          ids.map((_, i) => i),
          cache,
        ).logits.subarray((ids.length - 1) * V),
      ),
    ];
    while (want.length < 5 && !ck.spec.eosTokenIds.includes(want.at(-1)!)) {
      want.push(
        argmax(
          ref.forward(ref.embed([want.at(-1)!]), [ids.length + want.length - 1], cache).logits,
        ),
      );
    }
    assertEquals(json.ids, want);
    assertEquals(json.promptLength, ids.length);
    assertEquals(typeof json.text, "string");
    assert(json.timings.prefillMs >= 0 && json.timings.decodeMsPerToken >= 0);
    assertEquals(json.positionMode, "absolute");
    assertEquals(json.graphCachePath, join(dir, ".cache", "prefixkv", "graphs"));
    assert((await Deno.stat(json.graphCachePath)).isDirectory);
  }));

Deno.test("cli generate: a text prompt with an image on a tiny LLaVA, then a cache hit", () =>
  withDir(async (dir) => {
    const ck = await writeTinyLlava(join(dir, "llava"));
    // A 20×12 image: not square, so the checkpoint's resize and crop run too.
    const { encode } = await import("fast-png");
    const data = Uint8Array.from({ length: 20 * 12 * 3 }, (_, i) => (i * 29) % 256);
    await Deno.writeFile(
      join(dir, "img.png"),
      encode({ width: 20, height: 12, data, channels: 3, depth: 8 }),
    );
    const args = cliArgs("generate", {
      model: ck.dir,
      image: join(dir, "img.png"),
      prompt: "Describe this picture .",
      "max-new-tokens": "3",
      "position-mode": "paper",
      json: true,
      "cache-dir": join(dir, "g"),
    });
    const first = JSON.parse((await cli(args, dir)).stdout);
    const second = JSON.parse((await cli(args, dir)).stdout);
    assert(first.promptLength > ck.spec.imageTokens!);
    assertEquals(first.positionMode, "paper");
    assertEquals(second.ids, first.ids);
    assertEquals(first.graphLoads.map((g: { cached: boolean }) => g.cached), [false, false]);
    assertEquals(second.graphLoads.map((g: { cached: boolean }) => g.cached), [true, true]);
    // --link-checkpoint: new graphs that point into the checkpoint, the same ids.
    const linked = JSON.parse((await cli([...args, "--link-checkpoint"], dir)).stdout);
    assertEquals(linked.ids, first.ids);
    assertEquals(linked.graphLoads.map((g: { cached: boolean }) => g.cached), [false, false]);
    const entries = [...Deno.readDirSync(join(dir, "g"))].map((e) => e.name);
    assertEquals(entries.filter((name) => name.includes("-linked-")).length, 2);
  }));

Deno.test("cli generate: bad input is a one-line error, not a stack trace", () =>
  withDir(async (dir) => {
    const ck = await writeTinyLlama(join(dir, "llama"));
    const oov = await cli(
      cliArgs("generate", { model: ck.dir, "input-ids": "1,2,64", "cache-dir": join(dir, "g") }),
      dir,
    );
    assertEquals(oov.code, 1);
    assertMatch(oov.stderr, /token id 64 \(at index 2\) is outside the vocabulary \[0, 64\)/);
    assert(!oov.stderr.includes("    at "), oov.stderr);
    const cuda = await cli(
      ["generate", "--model", ck.dir, "--input-ids", "1", "--device", "cuda"],
      dir,
    );
    assertEquals(cuda.code, 1);
    assertMatch(cuda.stderr, /device "cuda" needs onnxruntime-node's CUDA execution provider/);
    const both = await cli(
      ["generate", "--model", ck.dir, "--input-ids", "1", "--prompt", "x"],
      dir,
    );
    assertEquals(both.code, 1);
    assertMatch(both.stderr, /exactly one of --prompt TEXT and --input-ids IDS/);
    const help = await cli(["generate", "--help"], dir);
    assertEquals(help.code, 0);
    for (
      const opt of [
        "--model",
        "--prompt",
        "--input-ids",
        "--image",
        "--max-new-tokens",
        "--position-mode",
        "--device",
        "--json",
        "--cache-dir",
      ]
    ) {
      assert(help.stdout.includes(opt), opt);
    }
  }));

Deno.test("cli generate: --input-ids parsing", () => {
  assertEquals(parseIds("1, 2,3"), [1, 2, 3]);
  for (const bad of ["", "1,a", "1.5"]) {
    let threw = false;
    try {
      parseIds(bad);
    } catch {
      threw = true;
    }
    assert(threw, bad);
  }
});
