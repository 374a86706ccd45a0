import { assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { UsageError } from "../../lib/cli/command.ts";
import { command } from "../../lib/cli/scenes.ts";
import { generateSplit } from "../../lib/data/scenes/dataset.ts";
import { InputError } from "../../lib/errors.ts";

Deno.test("scenes command writes images, conversations, scenes and the raw tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(
      await command.run(["--out", dir, "--split", "calib", "--count", "3", "--seed", "4"]),
      0,
    );
    const records = JSON.parse(await Deno.readTextFile(join(dir, "calib.json")));
    const scenes = JSON.parse(await Deno.readTextFile(join(dir, "calib_scenes.json")));
    assertEquals(scenes.length, 3);
    assertEquals(records[0].image, "calib-000000.png");
    assertEquals((await Deno.stat(join(dir, "calib_images.bin"))).size, 3 * 64 * 64 * 3);
    assertEquals((await Deno.stat(join(dir, "images", "calib-000002.png"))).isFile, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scenes command rejects missing or malformed options", async () => {
  await assertRejects(() => command.run(["--split", "x"]), UsageError);
  await assertRejects(
    () => command.run(["--out", "/tmp/x", "--split", "x", "--count=-3"]),
    UsageError,
  );
});

Deno.test("scenes command turns unknown options into a usage error", async () => {
  await assertRejects(
    () => command.run(["--out", "/tmp/x", "--split", "x", "--bogus"]),
    UsageError,
  );
});

Deno.test("scenes command checks the answer style and writes sentence answers on request", async () => {
  await assertRejects(
    () => command.run(["--out", "/tmp/x", "--split", "x", "--answers", "essay"]),
    UsageError,
  );
  const dir = await Deno.makeTempDir();
  try {
    const args = ["--out", dir, "--split", "t", "--count", "2", "--answers", "sentence"];
    assertEquals(await command.run(args), 0);
    const records = JSON.parse(await Deno.readTextFile(join(dir, "t.json")));
    const count = records.find((r: { kind: string }) => r.kind === "count");
    assertEquals(/^There (is|are) \w+ objects?\.$/.test(count.conversations[1].value), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scenes streams to disk: the files equal the in-memory split, byte for byte", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(
      await command.run(["--out", dir, "--split", "s", "--count", "4", "--seed", "2"]),
      0,
    );
    const data = generateSplit("s", 4, 2);
    assertEquals(
      await Deno.readTextFile(join(dir, "s.json")),
      JSON.stringify(data.records, null, 1) + "\n",
    );
    assertEquals(
      await Deno.readTextFile(join(dir, "s_scenes.json")),
      JSON.stringify(data.scenes, null, 1) + "\n",
    );
    const raw = await Deno.readFile(join(dir, "s_images.bin"));
    data.images.forEach((im, i) =>
      assertEquals(raw.subarray(i * im.data.length, (i + 1) * im.data.length), im.data)
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "images",
      "s.json",
      "s_images.bin",
      "s_scenes.json",
    ]); // no leftover .partial files
    assertEquals(await command.run(["--out", dir, "--split", "e", "--count", "0"]), 0);
    assertEquals(await Deno.readTextFile(join(dir, "e.json")), "[]\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scenes: names that become files stay inside --out; sizes are capped before any work", async () => {
  const root = await Deno.makeTempDir();
  const out = join(root, "a", "b");
  try {
    for (const split of ["../../x", "a/b", "..", ".hidden", ""]) {
      const err = await assertRejects(
        () => command.run(["--out", out, "--split", split, "--count", "1"]),
        InputError,
      );
      assertEquals(err.message.includes("cannot be part of a file name"), true, err.message);
    }
    const big = await assertRejects(
      () => command.run(["--out", out, "--split", "x", "--count", "1e12"]),
      UsageError,
    );
    assertEquals(
      big.message,
      "--count: 1e12 is over the limit of 1000000 (each scene writes a PNG and 12 KiB of raw pixels; write several splits instead)",
    );
    assertEquals([...Deno.readDirSync(root)], []); // nothing written anywhere
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
