import { assertEquals, assertRejects } from "@std/assert";
import { join } from "node:path";
import { UsageError } from "../../lib/cli/command.ts";
import { command } from "../../lib/cli/scenes.ts";

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
